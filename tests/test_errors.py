"""Every bad argument gets a ValueError/TypeError that names it."""

import numpy as np
import pytest

import convt

X2 = np.zeros((1, 4, 5, 5), np.float32)
W2 = np.zeros((4, 3, 3, 3), np.float32)


def call(**kw):
    args = dict(input=X2, weight=W2)
    args.update(kw)
    return convt.conv_transpose2d(**args)


@pytest.mark.parametrize("kw,exc,match", [
    (dict(stride=0), ValueError, "stride"),
    (dict(stride=(1, -1)), ValueError, "stride"),
    (dict(dilation=0), ValueError, "dilation"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(output_padding=-1), ValueError, "output_padding"),
    (dict(output_padding=1), ValueError, "output_padding"),            # stride = dilation = 1
    (dict(stride=2, output_padding=(0, 2)), ValueError, "output_padding"),
    (dict(stride=(1, 2, 3)), ValueError, "stride.*tuple of 2"),
    (dict(padding=(1,)), ValueError, "padding.*tuple of 2"),
    (dict(stride=1.5), TypeError, "stride"),
    (dict(stride=True), TypeError, "stride"),
    (dict(stride="2"), TypeError, "stride"),
    (dict(padding=(1, 1.0)), TypeError, "padding"),
    (dict(groups=0), ValueError, "groups"),
    (dict(groups=3), ValueError, "groups"),
    (dict(groups=2.0), TypeError, "groups"),
    (dict(padding=4), ValueError, "output would have spatial size"),
    (dict(input=np.zeros((4, 5), np.float32)), ValueError, "input must have 3"),
    (dict(input=np.zeros((1, 1, 4, 5, 5), np.float32)), ValueError, "input must have"),
    (dict(input=np.zeros((1, 3, 5, 5), np.float32)), ValueError, "input channels|channels"),
    (dict(input=np.zeros((1, 4, 0, 5), np.float32)), ValueError, "empty spatial"),
    (dict(input=np.zeros((1, 4, 5, 5), np.int32)), TypeError, "input"),
    (dict(input=np.zeros((1, 4, 5, 5), np.complex64)), TypeError, "input"),
    (dict(input=np.zeros((1, 4, 5, 5), bool)), TypeError, "input"),
    (dict(input=np.array([["a"]])), TypeError, "input"),
    (dict(weight=np.zeros((4, 3, 3), np.float32)), ValueError, "weight"),
    (dict(weight=np.zeros((5, 3, 3, 3), np.float32)), ValueError, "weight"),
    (dict(weight=np.zeros((4, 0, 3, 3), np.float32)), ValueError, "weight"),
    (dict(weight=np.zeros((3, 2, 3, 3, 3), np.float32), groups=2), ValueError, "groups"),
    (dict(weight=np.zeros((4, 3, 3, 3), np.int8)), TypeError, "weight"),
    (dict(bias=np.zeros(4, np.float32)), ValueError, "bias"),
    (dict(bias=np.zeros((3, 1), np.float32)), ValueError, "bias"),
    (dict(bias=np.zeros(3, np.int64)), TypeError, "bias"),
    (dict(num_threads=0), ValueError, "num_threads"),
    (dict(num_threads=1.0), TypeError, "num_threads"),
    (dict(out=np.zeros((1, 3, 7, 8), np.float32)), ValueError, "out has shape"),
    (dict(out=np.zeros((1, 3, 7, 7), np.float64)), TypeError, "out has dtype"),
    (dict(out=np.zeros((1, 3, 7, 7), np.float32).transpose(0, 1, 3, 2)), ValueError, "C-contiguous"),
    (dict(out=[0.0]), TypeError, "out must be"),
])
def test_functional_errors(kw, exc, match):
    with pytest.raises(exc, match=match):
        call(**kw)


def test_out_read_only_and_overlap():
    out = np.zeros((1, 3, 7, 7), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        call(out=out)
    buf = np.zeros(1 * 4 * 5 * 5 + 1 * 3 * 7 * 7, np.float32)
    x = buf[:100].reshape(1, 4, 5, 5)
    with pytest.raises(ValueError, match="overlap"):
        convt.conv_transpose2d(x, W2, out=buf[:147].reshape(1, 3, 7, 7))


def test_huge_output_is_refused():
    x = np.zeros((1, 1, 1), np.float32)
    w = np.zeros((1, 1, 2), np.float32)
    with pytest.raises(ValueError, match="too large"):
        convt.conv_transpose1d(x, w, dilation=2**62)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_dimension_specific_rank(nd):
    fn = getattr(convt, f"conv_transpose{nd}d")
    w = np.zeros((2, 2) + (1,) * nd, np.float32)
    with pytest.raises(ValueError, match=f"{nd}-d transposed convolution"):
        fn(np.zeros((2,) * (nd + 3), np.float32), w)


# ------------------------------------------------------------------ modules
@pytest.mark.parametrize("kw,exc,match", [
    (dict(in_channels=0), ValueError, "in_channels"),
    (dict(out_channels=-1), ValueError, "out_channels"),
    (dict(in_channels=4.0), TypeError, "in_channels"),
    (dict(kernel_size=0), ValueError, "kernel_size"),
    (dict(kernel_size=(3, 3, 3)), ValueError, "kernel_size"),
    (dict(groups=3), ValueError, "divisible by groups"),
    (dict(out_channels=5, groups=2), ValueError, "out_channels"),
    (dict(padding_mode="reflect"), ValueError, "padding_mode"),
    (dict(padding_mode="circular"), ValueError, "padding_mode"),
    (dict(stride=0), ValueError, "stride"),
    (dict(output_padding=2, stride=2), ValueError, "output_padding"),
    (dict(bias="yes"), TypeError, "bias"),
])
def test_module_constructor_errors(kw, exc, match):
    args = dict(in_channels=4, out_channels=6, kernel_size=3)
    args.update(kw)
    with pytest.raises(exc, match=match):
        convt.ConvTranspose2d(**args)


def test_module_call_errors():
    m = convt.ConvTranspose2d(4, 6, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match="channels"):
        m(np.zeros((1, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match="valid sizes range from"):
        m(np.zeros((1, 4, 5, 5), np.float32), output_size=(12, 9))
    with pytest.raises(ValueError, match="output_size must have 2"):
        m(np.zeros((1, 4, 5, 5), np.float32), output_size=(9, 9, 9))
    with pytest.raises(ValueError, match="output_size must be positive"):
        m(np.zeros((1, 4, 5, 5), np.float32), output_size=(0, 9))
    with pytest.raises(TypeError, match="output_size"):
        m(np.zeros((1, 4, 5, 5), np.float32), output_size="9x9")
    with pytest.raises(ValueError, match="channels"):
        m(np.zeros((1, 4, 5, 5), np.float32), output_size=(1, 5, 9, 9))
    with pytest.raises(ValueError, match="batch size"):
        m(np.zeros((1, 4, 5, 5), np.float32), output_size=(2, 6, 9, 9))
    with pytest.raises(ValueError, match="weight must have shape"):
        m.weight = np.zeros((4, 6, 3), np.float32)
    with pytest.raises(ValueError, match="bias must have shape"):
        m.bias = np.zeros(5, np.float32)
    with pytest.raises(TypeError, match="weight"):
        m.weight = np.zeros((4, 6, 3, 3), np.int32)
    with pytest.raises(ValueError, match="read-only"):
        m.weight[0, 0, 0, 0] = 1.0
