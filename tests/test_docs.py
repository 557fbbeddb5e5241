"""The docstring examples of the installed package run and print what they claim."""

import doctest

import pytest

import convt
import convt.functional
import convt.modules
import convt.qtensor
import convt.quantized.functional
import convt.quantized.dynamic
import convt.quantized.modules


@pytest.mark.parametrize("module", [convt.functional, convt.modules, convt.qtensor,
                                    convt.quantized.functional, convt.quantized.modules,
                                    convt.quantized.dynamic])
def test_docstring_examples(module):
    # examples of the optional dask extra (the layers' apply_dask) run where dask is installed
    tests = [t for t in doctest.DocTestFinder().find(module)
             if _HAVE_DASK or not any("dask" in e.source for e in t.examples)]
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def _importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


_HAVE_DASK = _importable("dask.array")


def _readme_blocks():
    import os
    import re
    path = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
    if not os.path.exists(path):  # tests run from an installed wheel without the sources
        return []
    text = open(path, encoding="utf-8").read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


_NO_README = [pytest.param(0, marks=pytest.mark.skip(reason="no README.md beside tests/"))]


@pytest.mark.parametrize("i", range(len(_readme_blocks())) or _NO_README)
def test_readme_python_blocks_run(i, tmp_path, monkeypatch):
    """Every ```python block of the README runs as written (the torch ones where torch is
    installed, the dask ones where dask and zarr are), in a scratch directory."""
    block = _readme_blocks()[i]
    if "import torch" in block:
        pytest.importorskip("torch")
    if "import dask" in block:
        pytest.importorskip("dask")
        pytest.importorskip("zarr")
    monkeypatch.chdir(tmp_path)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's quantized-tensor deprecation
        exec(compile(block, f"README.md block {i}", "exec"), {"__name__": "readme"})
