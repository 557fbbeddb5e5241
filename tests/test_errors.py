"""Every bad argument gets a ValueError/TypeError whose message names it."""

import numpy as np
import pytest

import convt

X2 = np.zeros((1, 4, 5, 5), np.float32)
W2 = np.zeros((4, 3, 3, 3), np.float32)
FN = {1: convt.conv_transpose1d, 2: convt.conv_transpose2d, 3: convt.conv_transpose3d}
CLS = {1: convt.ConvTranspose1d, 2: convt.ConvTranspose2d, 3: convt.ConvTranspose3d}


def call(**kw):
    args = dict(input=X2, weight=W2)
    args.update(kw)
    return convt.conv_transpose2d(**args)


def _read_only(shape):
    a = np.zeros(shape, np.float32)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("kw,exc,match", [
    # stride / dilation / padding / output_padding values
    (dict(stride=0), ValueError, "stride"),
    (dict(stride=(1, -1)), ValueError, "stride"),
    (dict(dilation=0), ValueError, "dilation"),
    (dict(dilation=(2, -3)), ValueError, "dilation"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(padding=(0, -2)), ValueError, "padding"),
    (dict(output_padding=-1), ValueError, "output_padding"),
    (dict(output_padding=1), ValueError, "output_padding"),            # stride = dilation = 1
    (dict(stride=2, output_padding=(0, 2)), ValueError, "output_padding"),
    (dict(stride=2, dilation=3, output_padding=3), ValueError, "output_padding"),
    (dict(stride=(3, 1), dilation=(1, 2), output_padding=(2, 2)), ValueError, "output_padding"),
    # tuple lengths
    (dict(stride=(1, 2, 3)), ValueError, "stride.*tuple of 2"),
    (dict(padding=(1, 1, 1, 1)), ValueError, "padding.*tuple of 2"),
    (dict(dilation=(1, 1, 1)), ValueError, "dilation.*tuple of 2"),
    (dict(output_padding=()), ValueError, "output_padding.*tuple of 2"),
    # bool / float / str where an int is expected
    (dict(stride=1.5), TypeError, "stride"),
    (dict(stride=2.0), TypeError, "stride"),
    (dict(stride=True), TypeError, "stride"),
    (dict(stride=np.bool_(True)), TypeError, "stride"),
    (dict(stride="2"), TypeError, "stride"),
    (dict(stride=None), TypeError, "stride"),
    (dict(padding=(1, 1.0)), TypeError, "padding"),
    (dict(dilation=(1, False)), TypeError, "dilation"),
    (dict(output_padding=(True, 0)), TypeError, "output_padding"),
    # groups
    (dict(groups=0), ValueError, "groups"),
    (dict(groups=-2), ValueError, "groups"),
    (dict(groups=3), ValueError, "groups"),                           # 4 channels
    (dict(groups=2.0), TypeError, "groups"),
    (dict(groups=True), TypeError, "groups"),
    # resulting output size
    (dict(padding=4), ValueError, "output would have spatial size"),
    (dict(padding=(0, 4)), ValueError, "output would have spatial size"),
    # input
    (dict(input=np.zeros((4, 5), np.float32)), ValueError, "input must have 3"),
    (dict(input=np.zeros((1, 1, 4, 5, 5), np.float32)), ValueError, "input must have"),
    (dict(input=np.float32(1)), ValueError, "input must have"),
    (dict(input=np.zeros((1, 3, 5, 5), np.float32)), ValueError, "input has 3 channels"),
    (dict(input=np.zeros((3, 5, 5), np.float32)), ValueError, "input has 3 channels"),
    (dict(input=np.zeros((1, 4, 0, 5), np.float32)), ValueError, "empty spatial"),
    (dict(input=np.zeros((4, 5, 0), np.float32)), ValueError, "empty spatial"),
    (dict(input=np.zeros((1, 4, 5, 5), np.int32)), TypeError, "input"),
    (dict(input=np.zeros((1, 4, 5, 5), np.uint8)), TypeError, "input"),
    (dict(input=np.zeros((1, 4, 5, 5), np.complex64)), TypeError, "input"),
    (dict(input=np.zeros((1, 4, 5, 5), bool)), TypeError, "input"),
    (dict(input=np.array([["a"]])), TypeError, "input"),
    (dict(input=[[[[1, 2]]]]), TypeError, "input"),                    # int list
    # weight
    (dict(weight=np.zeros((4, 3, 3), np.float32)), ValueError, "weight"),
    (dict(weight=np.zeros((4, 3, 3, 3, 3, 3), np.float32)), ValueError, "weight"),
    (dict(weight=np.zeros((5, 3, 3, 3), np.float32)), ValueError, "weight has 5 input channels"),
    (dict(weight=np.zeros((4, 0, 3, 3), np.float32)), ValueError, "weight"),
    (dict(weight=np.zeros((4, 3, 0, 3), np.float32)), ValueError, "weight"),
    (dict(weight=np.zeros((3, 2, 3, 3, 3), np.float32), groups=2), ValueError, "groups"),
    (dict(weight=np.zeros((2, 3, 3, 3, 3), np.float32), groups=2), ValueError, "weight"),
    (dict(weight=np.zeros((4, 3, 3, 3), np.int8)), TypeError, "weight"),
    (dict(weight=np.zeros((4, 3, 3, 3), np.complex128)), TypeError, "weight"),
    # bias
    (dict(bias=np.zeros(4, np.float32)), ValueError, "bias"),
    (dict(bias=np.zeros((3, 1), np.float32)), ValueError, "bias"),
    (dict(bias=np.zeros((1, 3, 1), np.float32)), ValueError, "bias"),  # rank of a 1-d problem
    (dict(bias=np.zeros((1, 3, 1, 2), np.float32)), ValueError, "bias"),
    (dict(bias=np.float32(0)), ValueError, "bias"),
    (dict(bias=np.zeros(3, np.int64)), TypeError, "bias"),
    (dict(bias=np.zeros(3, bool)), TypeError, "bias"),
    # num_threads
    (dict(num_threads=0), ValueError, "num_threads"),
    (dict(num_threads=-1), ValueError, "num_threads"),
    (dict(num_threads=1.0), TypeError, "num_threads"),
    (dict(num_threads=True), TypeError, "num_threads"),
    (dict(num_threads="2"), TypeError, "num_threads"),
    # out
    (dict(out=np.zeros((1, 3, 7, 8), np.float32)), ValueError, "out has shape"),
    (dict(out=np.zeros((3, 7, 7), np.float32)), ValueError, "out has shape"),  # batched input
    (dict(input=X2[0], out=np.zeros((1, 3, 7, 7), np.float32)), ValueError, "out has shape"),
    (dict(out=np.zeros((1, 3, 7, 7), np.float64)), TypeError, "out has dtype"),
    (dict(out=np.zeros((1, 3, 7, 7), np.float16)), TypeError, "out has dtype"),
    (dict(out=np.zeros((1, 3, 7, 7), np.float32).transpose(0, 1, 3, 2)), ValueError,
     "C-contiguous"),
    (dict(out=np.zeros((1, 3, 7, 14), np.float32)[..., ::2]), ValueError, "C-contiguous"),
    (dict(out=_read_only((1, 3, 7, 7))), ValueError, "read-only"),
    (dict(out=[0.0]), TypeError, "out must be"),
    (dict(out=np.zeros((1, 3, 7, 7), np.float32).tolist()), TypeError, "out must be"),
])
def test_functional_errors(kw, exc, match):
    with pytest.raises(exc, match=match):
        call(**kw)


def test_valid_edge_values_are_accepted():
    """The largest allowed output_padding for each of stride and dilation, numpy ints."""
    assert call(stride=2, output_padding=1).shape == (1, 3, 12, 12)
    assert call(dilation=3, output_padding=2).shape == (1, 3, 13, 13)
    assert call(stride=np.int64(2), groups=np.int32(1)).shape == (1, 3, 11, 11)
    assert call(padding=3).shape == (1, 3, 1, 1)  # smallest positive output


@pytest.mark.parametrize("what", ["input", "weight", "bias"])
def test_out_overlapping_an_argument(what):
    buf = np.zeros(4096, np.float32)
    out = buf[:147].reshape(1, 3, 7, 7)
    args = dict(input=np.zeros((1, 4, 5, 5), np.float32), weight=W2.copy(),
                bias=np.zeros(3, np.float32))
    # place the argument so that it shares memory with out
    shapes = dict(input=(1, 4, 5, 5), weight=(4, 3, 3, 3), bias=(3,))
    n = int(np.prod(shapes[what]))
    args[what] = buf[100:100 + n].reshape(shapes[what])
    with pytest.raises(ValueError, match="overlap"):
        convt.conv_transpose2d(**args, out=out)
    # disjoint parts of the same buffer are fine
    args[what] = buf[1000:1000 + n].reshape(shapes[what])
    assert convt.conv_transpose2d(**args, out=out) is out


def test_out_overlapping_a_strided_input_view():
    buf = np.zeros((1, 4, 5, 10), np.float32)
    x = buf[..., ::2]
    out = buf.reshape(-1)[:147].reshape(1, 3, 7, 7)
    with pytest.raises(ValueError, match="overlap"):
        convt.conv_transpose2d(x, W2, out=out)


def test_huge_output_is_refused():
    # every parameter within its bound (convt._args.MAX_PARAM), the output far too large
    x = np.zeros((1, 1, 1, 1, 1), np.float32)
    w = np.zeros((1, 1, 2, 2, 2), np.float32)
    with pytest.raises(ValueError, match="too large"):
        convt.conv_transpose3d(x, w, dilation=2**31 - 1)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_dimension_specific_errors(nd):
    fn = FN[nd]
    w = np.zeros((2, 2) + (1,) * nd, np.float32)
    x = np.zeros((1, 2) + (3,) * nd, np.float32)
    with pytest.raises(ValueError, match=f"{nd}-d transposed convolution"):
        fn(np.zeros((2,) * (nd + 3), np.float32), w)
    with pytest.raises(ValueError, match=f"input must have {nd + 1}"):
        fn(np.zeros((2,) * nd, np.float32), w)
    with pytest.raises(ValueError, match=f"stride.*tuple of {nd}"):
        fn(x, w, stride=(1,) * (nd + 1))
    with pytest.raises(ValueError, match="weight"):
        fn(x, np.zeros((2, 2) + (1,) * (nd - 1), np.float32))
    with pytest.raises(ValueError, match="bias"):
        fn(x, w, np.zeros((1, 2) + (1,) * (nd + 1), np.float32))


# ------------------------------------------------------------------ modules
@pytest.mark.parametrize("kw,exc,match", [
    (dict(in_channels=0), ValueError, "in_channels"),
    (dict(in_channels=-4), ValueError, "in_channels"),
    (dict(out_channels=0), ValueError, "out_channels"),
    (dict(out_channels=-1), ValueError, "out_channels"),
    (dict(in_channels=4.0), TypeError, "in_channels"),
    (dict(in_channels=True), TypeError, "in_channels"),
    (dict(out_channels="6"), TypeError, "out_channels"),
    (dict(kernel_size=0), ValueError, "kernel_size"),
    (dict(kernel_size=-3), ValueError, "kernel_size"),
    (dict(kernel_size=(3, 0)), ValueError, "kernel_size"),
    (dict(kernel_size=(3, 3, 3)), ValueError, "kernel_size"),
    (dict(kernel_size=3.0), TypeError, "kernel_size"),
    (dict(kernel_size=(3, True)), TypeError, "kernel_size"),
    (dict(groups=3), ValueError, "divisible by groups"),
    (dict(out_channels=5, groups=2), ValueError, "out_channels"),
    (dict(groups=0), ValueError, "groups"),
    (dict(groups=True), TypeError, "groups"),
    (dict(padding_mode="reflect"), ValueError, "padding_mode"),
    (dict(padding_mode="circular"), ValueError, "padding_mode"),
    (dict(padding_mode="replicate"), ValueError, "padding_mode"),
    (dict(stride=0), ValueError, "stride"),
    (dict(stride=(2, 2, 2)), ValueError, "stride"),
    (dict(stride=2.5), TypeError, "stride"),
    (dict(dilation=0), ValueError, "dilation"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(output_padding=2, stride=2), ValueError, "output_padding"),
    (dict(output_padding=-1), ValueError, "output_padding"),
    (dict(bias="yes"), TypeError, "bias"),
    (dict(bias=1), TypeError, "bias"),
])
def test_module_constructor_errors(kw, exc, match):
    args = dict(in_channels=4, out_channels=6, kernel_size=3)
    args.update(kw)
    with pytest.raises(exc, match=match):
        convt.ConvTranspose2d(**args)


X = np.zeros((1, 4, 5, 5), np.float32)


@pytest.mark.parametrize("call_kw,exc,match", [
    (dict(input=np.zeros((1, 3, 5, 5), np.float32)), ValueError, "channels"),
    (dict(input=np.zeros((4, 5), np.float32)), ValueError, "input must have"),
    (dict(input=np.zeros((1, 1, 4, 5, 5), np.float32)), ValueError, "input must have"),
    (dict(input=np.zeros((1, 4, 5, 0), np.float32)), ValueError, "empty spatial"),
    (dict(input=np.zeros((1, 4, 5, 5), np.int16)), TypeError, "input"),
    (dict(output_size=(12, 9)), ValueError, "valid sizes"),
    (dict(output_size=(8, 9)), ValueError, "valid sizes"),
    (dict(output_size=(1, 6, 9, 12)), ValueError, "valid sizes"),
    (dict(output_size=(9, 9, 9)), ValueError, "output_size must have 2"),
    (dict(output_size=(9,)), ValueError, "output_size must have 2"),
    (dict(output_size=(0, 9)), ValueError, "output_size must be positive"),
    (dict(output_size=(-9, 9)), ValueError, "output_size"),
    (dict(output_size="9x9"), TypeError, "output_size"),
    (dict(output_size=9.0), TypeError, "output_size"),
    (dict(output_size=(9.0, 9)), TypeError, "output_size"),
    (dict(output_size=(True, 9)), TypeError, "output_size"),
    (dict(output_size=(1, 5, 9, 9)), ValueError, "channels"),
    (dict(output_size=(2, 6, 9, 9)), ValueError, "batch size"),
    (dict(input=X[0], output_size=(5, 9, 9)), ValueError, "channels"),
    (dict(input=X[0], output_size=(1, 6, 9, 9)), ValueError, "output_size must have 2"),
    (dict(num_threads=0), ValueError, "num_threads"),
    (dict(num_threads=2.0), TypeError, "num_threads"),
    (dict(out=np.zeros((1, 6, 9, 10), np.float32)), ValueError, "out has shape"),
    (dict(out=np.zeros((1, 6, 9, 9), np.float64)), TypeError, "out has dtype"),
    (dict(out=_read_only((1, 6, 9, 9))), ValueError, "read-only"),
])
def test_module_call_errors(call_kw, exc, match):
    m = convt.ConvTranspose2d(4, 6, 3, stride=2, padding=1, rng=0)
    kw = dict(input=X)
    kw.update(call_kw)
    with pytest.raises(exc, match=match):
        m(kw.pop("input"), **kw)


def test_module_too_small_output():
    m = convt.ConvTranspose1d(1, 1, 1, padding=3)
    with pytest.raises(ValueError, match="output would have spatial size"):
        m(np.zeros((1, 1, 2), np.float32))


def test_module_parameter_assignment_errors():
    m = convt.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, rng=0)
    before = m.weight.copy(), m.bias.copy()
    with pytest.raises(ValueError, match="weight must have shape"):
        m.weight = np.zeros((4, 6, 3), np.float32)
    with pytest.raises(ValueError, match="weight must have shape"):
        m.weight = np.zeros((4, 6, 3, 3), np.float32)  # ignores groups
    with pytest.raises(TypeError, match="weight"):
        m.weight = np.zeros((4, 3, 3, 3), np.int32)
    with pytest.raises(ValueError, match="bias must have shape"):
        m.bias = np.zeros(5, np.float32)
    with pytest.raises(TypeError, match="bias"):
        m.bias = np.zeros(6, np.int64)
    with pytest.raises(ValueError, match="read-only"):
        m.weight[0, 0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        m.bias[0] = 1.0
    # failed assignments leave the layer as it was
    np.testing.assert_array_equal(m.weight, before[0])
    np.testing.assert_array_equal(m.bias, before[1])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_module_kernel_size_length(nd):
    with pytest.raises(ValueError, match=f"kernel_size.*tuple of {nd}"):
        CLS[nd](2, 2, (3,) * (nd + 1))
