"""Fuzz of the public API with mostly-invalid arguments, every call isolated in a worker process.

The fuzzer is the package ``tests/fuzz`` (its docstring says how cases are drawn, labelled and
judged); these are its pytest tests.  ``CONVT_FUZZ_CASES`` (default 500, split over the eight
APIs, transposed and forward) random cases, deterministic for a given ``CONVT_FUZZ_SEED``, plus the fixed ``EXAMPLES``;
``CONVT_FUZZ_TIMEOUT`` and ``CONVT_FUZZ_WORKERS`` tune the workers.  Long runs::

    CONVT_FUZZ_CASES=50000 python -m pytest -q tests/test_fuzz.py
    python tests/fuzz --cases 20000 --workers 4
"""

import pytest
from fuzz.cases import cases_for
from fuzz.examples import EXAMPLES
from fuzz.pool import Pool
from fuzz.report import report
from fuzz.settings import APIS, CASES


@pytest.fixture(scope="module")
def pool():
    p = Pool()
    yield p
    p.close()


def test_generator_is_deterministic_and_mixed():
    cases = [c for api in APIS for c in cases_for(api, 60)]
    again = [c for api in APIS for c in cases_for(api, 60)]
    assert [c["stmts"] for c in cases] == [c["stmts"] for c in again]
    valid = sum(c["expect"]["status"] == "valid" for c in cases) / len(cases)
    assert 0.2 <= valid <= 0.6, valid


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["id"] for c in EXAMPLES])
def test_fuzz_examples(case, pool):
    failures = pool.run([case])
    assert not failures, report(failures, 1)


@pytest.mark.parametrize("api", APIS)
def test_fuzz(api, pool):
    n = max(4, CASES // len(APIS))
    cases = cases_for(api, n)
    failures = pool.run(cases)
    assert not failures, report(failures, len(cases))
