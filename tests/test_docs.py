"""The docstring examples of the installed package run and print what they claim."""

import doctest

import pytest

import convt
import convt.functional
import convt.modules
import convt.qtensor
import convt.quantized.functional
import convt.quantized.modules


@pytest.mark.parametrize("module", [convt.functional, convt.modules, convt.qtensor,
                                    convt.quantized.functional, convt.quantized.modules])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
