"""ConvTranspose1d/2d/3d layers: shapes, output_size, repr, parameters, initialisation."""

import math

import numpy as np
import pytest
from conftest import assert_matches_reference
from reference import out_size

import convt

CLS = {1: convt.ConvTranspose1d, 2: convt.ConvTranspose2d, 3: convt.ConvTranspose3d}
FN = {1: convt.conv_transpose1d, 2: convt.conv_transpose2d, 3: convt.conv_transpose3d}


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("cin,cout,groups", [(4, 6, 2), (6, 6, 6), (3, 8, 1)])
def test_forward_matches_reference(rng, nd, cin, cout, groups):
    m = CLS[nd](cin, cout, 3, stride=2, padding=1, output_padding=1, groups=groups,
                dilation=1, rng=0)
    x = rng.standard_normal((2, cin) + (5,) * nd).astype(np.float32)
    y = m(x)
    assert y.shape == (2, cout) + (10,) * nd and y.dtype == np.float32
    assert_matches_reference(y, x, m.weight, m.bias, stride=2, padding=1, output_padding=1,
                             groups=groups)
    np.testing.assert_array_equal(m.forward(x), y)
    np.testing.assert_array_equal(m(x[1]), y[1])  # unbatched
    np.testing.assert_array_equal(  # the functional form with the layer's parameters
        FN[nd](x, m.weight, m.bias, 2, 1, 1, groups, 1), y)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_shapes_with_tuple_hyper_parameters(rng, nd):
    k, s, p, op, d = (2, 3, 4)[:nd], (3, 1, 2)[:nd], (1, 0, 2)[:nd], (2, 0, 1)[:nd], (1, 2, 1)[:nd]
    m = CLS[nd](3, 4, k, stride=s, padding=p, output_padding=op, dilation=d, rng=3)
    sp = (4, 5, 6)[:nd]
    x = rng.standard_normal((3, 3) + sp).astype(np.float32)
    y = m(x)
    assert y.shape == (3, 4) + tuple(out_size(*a) for a in zip(sp, k, s, p, d, op))
    assert_matches_reference(y, x, m.weight, m.bias, stride=s, padding=p, output_padding=op,
                             dilation=d)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_output_size_every_reachable_padding(rng, nd):
    m = CLS[nd](3, 2, 3, stride=3, padding=1, rng=1)
    x = rng.standard_normal((2, 3) + (4,) * nd).astype(np.float32)
    base = (4 - 1) * 3 - 2 + 3 - 1 + 1  # size with output_padding 0
    for extra in range(3):  # stride 3: output_padding 0, 1, 2
        size = (base + extra,) * nd
        for spec in (size, list(size), (2, 2) + size):  # spatial only, full batched shape
            y = m(x, output_size=spec)
            assert y.shape == (2, 2) + size
            assert_matches_reference(y, x, m.weight, m.bias, stride=3, padding=1,
                                     output_padding=extra)
        yu = m(x[0], output_size=(2,) + size)  # unbatched: full (C, *spatial) shape
        assert yu.shape == (2,) + size
        np.testing.assert_array_equal(yu, m(x, output_size=size)[0])
        np.testing.assert_array_equal(m(x[0], output_size=size), yu)  # unbatched, spatial
    assert m.output_padding == (0,) * nd  # output_size does not change the layer
    for bad in (base + 3, base - 1):
        with pytest.raises(ValueError, match="valid sizes"):
            m(x, output_size=(bad,) * nd)


def test_output_size_per_dimension(rng):
    m = convt.ConvTranspose2d(2, 2, 3, stride=(2, 3), padding=1, rng=2)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    for oh, ow in [(9, 13), (10, 13), (9, 15), (10, 14)]:
        y = m(x, output_size=(oh, ow))
        assert y.shape == (1, 2, oh, ow)
        assert_matches_reference(y, x, m.weight, m.bias, stride=(2, 3), padding=1,
                                 output_padding=(oh - 9, ow - 13))
    with pytest.raises(ValueError, match="valid sizes"):
        m(x, output_size=(11, 13))  # first dimension out of range only


def test_output_size_overrides_layer_output_padding(rng):
    m = convt.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1, rng=5)
    x = rng.standard_normal((1, 2, 4)).astype(np.float32)
    assert m(x).shape == (1, 3, 10)
    y = m(x, output_size=(9,))
    assert y.shape == (1, 3, 9)
    assert_matches_reference(y, x, m.weight, m.bias, stride=2, output_padding=0)
    assert m(x, output_size=12 - 2).shape == (1, 3, 10)  # a bare int for 1-d


def test_output_size_with_dilation_larger_than_stride(rng):
    """Reachable sizes are set by the stride (PyTorch), even when dilation allows more
    output_padding."""
    m = convt.ConvTranspose1d(2, 2, 2, stride=1, dilation=3, rng=4)
    x = rng.standard_normal((1, 2, 5)).astype(np.float32)
    assert m(x, output_size=(8,)).shape == (1, 2, 8)
    with pytest.raises(ValueError, match="valid sizes"):
        m(x, output_size=(9,))
    m2 = convt.ConvTranspose1d(2, 2, 2, stride=1, dilation=3, output_padding=2, rng=4)
    y = m2(x)
    assert y.shape == (1, 2, 10)
    assert_matches_reference(y, x, m2.weight, m2.bias, dilation=3, output_padding=2)


@pytest.mark.parametrize("nd,args,kw,text", [
    (2, (16, 33, 3), dict(stride=2), "ConvTranspose2d(16, 33, kernel_size=(3, 3), stride=(2, 2))"),
    (1, (16, 33, 3), dict(), "ConvTranspose1d(16, 33, kernel_size=(3,), stride=(1,))"),
    (2, (16, 33, (3, 5)), dict(stride=(2, 1), padding=(4, 2)),
     "ConvTranspose2d(16, 33, kernel_size=(3, 5), stride=(2, 1), padding=(4, 2))"),
    (3, (16, 33, 3), dict(stride=2, padding=1, output_padding=1, groups=1, bias=False,
                          dilation=2),
     ("ConvTranspose3d(16, 33, kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1), "
      "dilation=(2, 2, 2), output_padding=(1, 1, 1), bias=False)")),
    (1, (4, 6, 2), dict(groups=2),
     "ConvTranspose1d(4, 6, kernel_size=(2,), stride=(1,), groups=2)"),
    (2, (4, 6, 2), dict(padding=0, dilation=1, output_padding=0, bias=True),
     "ConvTranspose2d(4, 6, kernel_size=(2, 2), stride=(1, 1))"),
])
def test_repr(nd, args, kw, text):
    assert repr(CLS[nd](*args, **kw)) == text


def test_attributes():
    m = convt.ConvTranspose2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 2), groups=2,
                              dilation=(1, 2), padding_mode="zeros")
    assert (m.in_channels, m.out_channels, m.kernel_size) == (4, 6, (3, 5))
    assert (m.stride, m.padding, m.output_padding, m.dilation) == ((2, 1), (1, 2), (0, 0), (1, 2))
    assert m.groups == 2 and m.padding_mode == "zeros"
    assert m.weight.shape == (4, 3, 3, 5) and m.weight.dtype == np.float32
    assert m.bias.shape == (6,) and m.bias.dtype == np.float32


def test_hyper_parameters_are_read_only():
    """The packed weights depend on them: they cannot be changed behind the layer's back."""
    m = convt.ConvTranspose2d(4, 6, 3)
    for name, value in [("stride", (2, 2)), ("padding", (1, 1)), ("dilation", (2, 2)),
                        ("output_padding", (1, 1)), ("groups", 2)]:
        with pytest.raises(AttributeError):
            setattr(m, name, value)
    assert m.stride == (1, 1) and m.groups == 1


@pytest.mark.parametrize("nd,cin,cout,groups,k", [(1, 8, 12, 2, 3), (2, 8, 12, 2, 3),
                                                  (3, 6, 4, 1, (2, 3, 2)), (2, 32, 32, 32, 5)])
def test_init_bounds_and_determinism(nd, cin, cout, groups, k):
    m = CLS[nd](cin, cout, k, groups=groups, rng=42)
    kernel = (k,) * nd if isinstance(k, int) else k
    bound = 1 / math.sqrt(cout // groups * math.prod(kernel))  # fan_in as in PyTorch
    for a in (m.weight, m.bias):
        assert np.abs(a).max() <= bound
    assert np.abs(m.weight).max() > 0.8 * bound  # actually spans the range
    assert m.weight.min() < 0 < m.weight.max()
    assert abs(m.weight.mean()) < 0.2 * bound
    m2 = CLS[nd](cin, cout, k, groups=groups, rng=42)
    np.testing.assert_array_equal(m.weight, m2.weight)
    np.testing.assert_array_equal(m.bias, m2.bias)
    m3 = CLS[nd](cin, cout, k, groups=groups, rng=np.random.default_rng(43))
    assert not np.array_equal(m.weight, m3.weight)
    assert not np.array_equal(m.bias, m3.bias)


def test_init_statistics_uniform():
    m = convt.ConvTranspose2d(64, 64, 3, rng=0)
    bound = 1 / math.sqrt(64 * 9)
    w = m.weight.astype(np.float64)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b/sqrt(3)
    hist, _ = np.histogram(w, bins=10, range=(-bound, bound))
    assert hist.min() > 0.8 * w.size / 10  # flat


def test_generator_rng_advances():
    g = np.random.default_rng(7)
    a = convt.ConvTranspose1d(3, 3, 3, rng=g)
    b = convt.ConvTranspose1d(3, 3, 3, rng=g)
    assert not np.array_equal(a.weight, b.weight)


def test_bias_false_is_none(rng):
    m = convt.ConvTranspose2d(8, 12, 3, bias=False, rng=1)
    assert m.bias is None
    x = rng.standard_normal((1, 8, 4, 4)).astype(np.float32)
    assert_matches_reference(m(x), x, m.weight, None)


def test_weight_read_only_and_reassignment_repacks(rng):
    m = convt.ConvTranspose1d(3, 4, 3, stride=2, rng=0)
    assert not m.weight.flags.writeable
    with pytest.raises(ValueError):
        m.weight[0, 0, 0] = 1.0
    x = rng.standard_normal((1, 3, 6)).astype(np.float32)
    y0 = m(x)  # packs the initial weights
    neww = rng.standard_normal(m.weight.shape)  # float64: converted
    m.weight = neww
    assert m.weight.dtype == np.float32 and not m.weight.flags.writeable
    np.testing.assert_array_equal(m.weight, neww.astype(np.float32))
    y1 = m(x)
    assert not np.array_equal(y0, y1)
    assert_matches_reference(y1, x, m.weight, m.bias, stride=2)
    neww[...] = 0  # the layer holds a copy
    np.testing.assert_array_equal(m(x), y1)
    m.weight = np.asfortranarray(rng.standard_normal(m.weight.shape).astype(np.float32))
    assert m.weight.flags.c_contiguous
    assert_matches_reference(m(x), x, m.weight, m.bias, stride=2)


def test_assigned_float32_arrays_are_copied(rng):
    """Assigning float32 arrays (no conversion needed) still copies: the caller's arrays stay
    writeable and later writes to them do not reach the layer."""
    m = convt.ConvTranspose2d(4, 6, 3, stride=2, rng=0)
    x = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)
    w = rng.standard_normal(m.weight.shape).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    m.weight, m.bias = w, b
    y = m(x)
    assert w.flags.writeable and b.flags.writeable
    w[...] = 0
    b[...] = 0
    np.testing.assert_array_equal(m(x), y)
    assert np.any(m.weight != 0) and np.any(m.bias != 0)


def test_bias_read_only_reassignment_and_removal(rng):
    m = convt.ConvTranspose2d(4, 6, 3, stride=2, groups=2, rng=0)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    assert not m.bias.flags.writeable
    with pytest.raises(ValueError):
        m.bias[0] = 1.0
    y0 = m(x)
    old_bias = m.bias.copy()
    newb = np.arange(6, dtype=np.float64)
    m.bias = newb
    assert m.bias.dtype == np.float32 and not m.bias.flags.writeable
    newb[...] = -1  # the layer holds a copy
    y1 = m(x)
    shift = (np.arange(6, dtype=np.float32) - old_bias).reshape(1, 6, 1, 1)
    np.testing.assert_allclose(y1 - y0, np.broadcast_to(shift, y0.shape), rtol=0, atol=1e-5)
    assert_matches_reference(y1, x, m.weight, np.arange(6, dtype=np.float32), stride=2,
                             groups=2)
    m.bias = None
    assert m.bias is None
    assert_matches_reference(m(x), x, m.weight, None, stride=2, groups=2)
    assert "bias=False" in repr(m)


def test_out_threads_and_dtypes(rng):
    m = convt.ConvTranspose2d(8, 8, 4, stride=2, padding=1, rng=0)
    x = rng.standard_normal((2, 8, 9, 9)).astype(np.float32)
    out = np.full((2, 8, 18, 18), np.nan, np.float32)
    assert m(x, out=out, num_threads=1) is out
    np.testing.assert_array_equal(out, m(x, num_threads=2))
    assert_matches_reference(out, x, m.weight, m.bias, stride=2, padding=1)
    out2 = np.empty((2, 8, 19, 19), np.float32)
    assert m(x, output_size=(19, 19), out=out2) is out2
    assert_matches_reference(out2, x, m.weight, m.bias, stride=2, padding=1, output_padding=1)
    np.testing.assert_array_equal(m(x.astype(np.float64)), m(x))
    y16 = m(x.astype(np.float16))
    assert y16.dtype == np.float32
    np.testing.assert_array_equal(y16, m(x.astype(np.float16).astype(np.float32)))


def test_layer_reused_on_many_shapes(rng):
    """Cached plans per input shape must not leak between shapes."""
    m = convt.ConvTranspose2d(6, 9, 3, stride=2, padding=1, groups=3, rng=0)
    shapes = [(1, 6, 4, 5), (2, 6, 7, 3), (1, 6, 4, 5), (3, 6, 1, 1), (2, 6, 7, 3)]
    shapes += [(1, 6, i + 1, 2) for i in range(20)]  # more shapes than the plan cache holds
    for shp in shapes:
        x = rng.standard_normal(shp).astype(np.float32)
        assert_matches_reference(m(x), x, m.weight, m.bias, stride=2, padding=1, groups=3)
