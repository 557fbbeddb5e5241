"""A fuzz case: the statements one API's builder draws, labelled by the validity model.

A case is a dict: ``id`` (``qf2:17``: API, rank, index), ``api``, ``nd``, ``stmts`` (Python
statements, the last one the call under test), ``expect`` (status valid/invalid/unsure, the
issues found, the argument names an error message may use, whether the output is huge),
``check`` (what the result must match, or None), ``tags`` (the mutations drawn) and ``again``
(the statement repeating the call on another number of threads into a guarded ``out=``).
"""

from .conv_cases import gen_cf, gen_cm, gen_cqf, gen_cqm
from .conv_model import CONV_MODELS
from .float_cases import gen_f, gen_m
from .generator import CaseGenerator
from .model import MODELS
from .quant_cases import gen_qf, gen_qm
from .rules import ALIASES

GENERATORS = {"f": gen_f, "m": gen_m, "qf": gen_qf, "qm": gen_qm,
              "cf": gen_cf, "cm": gen_cm, "cqf": gen_cqf, "cqm": gen_cqm}
CHECKERS = {**MODELS, **CONV_MODELS}


def gen_case(api, nd, index):
    """Case ``index`` of ``api`` in ``nd`` dimensions; the same for a given CONVT_FUZZ_SEED."""
    G = CaseGenerator(api, nd, index)
    stmts, objs, again = GENERATORS[api](G)
    iss, check = CHECKERS[api](nd, objs)
    names = set()
    for n in iss.names:
        names.update(ALIASES.get(n, [n]))
    expect = {"status": iss.status(), "bad": iss.bad, "unsure": iss.unsure,
              "names": sorted(names), "huge": iss.huge}
    return {"id": f"{api}{nd}:{index}", "api": api, "nd": nd, "stmts": stmts,
            "expect": expect, "check": check, "tags": G.tags, "again": again}


def case_ids(api, n):
    """n cases of one API, spread over 1-, 2- and 3-d."""
    return [(api, 1 + i % 3, i // 3) for i in range(n)]


def cases_for(api, n):
    return [gen_case(a, nd, i) for a, nd, i in case_ids(api, n)]
