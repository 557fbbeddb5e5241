"""ConvTranspose1d/2d/3d layers: shapes, output_size, repr, parameters, initialisation."""

import math

import numpy as np
import pytest
from conftest import assert_matches_reference

import convt

CLS = {1: convt.ConvTranspose1d, 2: convt.ConvTranspose2d, 3: convt.ConvTranspose3d}


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_forward_matches_reference(rng, nd):
    m = CLS[nd](4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1, rng=0)
    x = rng.standard_normal((2, 4) + (5,) * nd).astype(np.float32)
    y = m(x)
    assert y.shape == (2, 6) + (10,) * nd
    assert_matches_reference(y, x, m.weight, m.bias, stride=2, padding=1, output_padding=1,
                             groups=2)
    np.testing.assert_array_equal(m.forward(x), y)
    np.testing.assert_array_equal(m(x[1]), y[1])  # unbatched


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_output_size_every_reachable_padding(rng, nd):
    m = CLS[nd](3, 2, 3, stride=3, padding=1, rng=1)
    x = rng.standard_normal((1, 3) + (4,) * nd).astype(np.float32)
    base = (4 - 1) * 3 - 2 + 3 - 1 + 1  # size with output_padding 0
    for extra in range(3):  # stride 3: output_padding 0, 1, 2
        size = (base + extra,) * nd
        for spec in (size, (1, 2) + size):
            y = m(x, output_size=spec)
            assert y.shape == (1, 2) + size
            assert_matches_reference(y, x, m.weight, m.bias, stride=3, padding=1,
                                     output_padding=extra)
        yu = m(x[0], output_size=(2,) + size)  # unbatched full shape
        np.testing.assert_array_equal(yu, m(x, output_size=size)[0])
    with pytest.raises(ValueError, match="valid sizes range from"):
        m(x, output_size=(base + 3,) * nd)
    with pytest.raises(ValueError, match="valid sizes range from"):
        m(x, output_size=(base - 1,) * nd)


def test_output_size_per_dimension(rng):
    m = convt.ConvTranspose2d(2, 2, 3, stride=(2, 3), padding=1, rng=2)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    y = m(x, output_size=(10, 15))
    assert y.shape == (1, 2, 10, 15)
    assert_matches_reference(y, x, m.weight, m.bias, stride=(2, 3), padding=1,
                             output_padding=(1, 2))


@pytest.mark.parametrize("nd,kw,text", [
    (2, dict(stride=2), "ConvTranspose2d(16, 33, kernel_size=(3, 3), stride=(2, 2))"),
    (1, dict(), "ConvTranspose1d(16, 33, kernel_size=(3,), stride=(1,))"),
    (3, dict(stride=2, padding=1, output_padding=1, groups=1, bias=False, dilation=2),
     "ConvTranspose3d(16, 33, kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1), "
     "dilation=(2, 2, 2), output_padding=(1, 1, 1), bias=False)"),
])
def test_repr(nd, kw, text):
    assert repr(CLS[nd](16, 33, 3, **kw)) == text


def test_attributes():
    m = convt.ConvTranspose2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 2), groups=2,
                              dilation=(1, 2), padding_mode="zeros")
    assert (m.in_channels, m.out_channels, m.kernel_size) == (4, 6, (3, 5))
    assert (m.stride, m.padding, m.output_padding, m.dilation) == ((2, 1), (1, 2), (0, 0), (1, 2))
    assert m.groups == 2 and m.padding_mode == "zeros"
    assert m.weight.shape == (4, 3, 3, 5) and m.weight.dtype == np.float32
    assert m.bias.shape == (6,) and m.bias.dtype == np.float32


def test_init_bounds_and_determinism():
    m = convt.ConvTranspose2d(8, 12, 3, groups=2, rng=42)
    bound = 1 / math.sqrt(6 * 9)  # fan_in = C_out/groups * prod(kernel)
    assert np.abs(m.weight).max() <= bound and np.abs(m.bias).max() <= bound
    assert np.abs(m.weight).max() > 0.8 * bound  # actually spans the range
    m2 = convt.ConvTranspose2d(8, 12, 3, groups=2, rng=42)
    np.testing.assert_array_equal(m.weight, m2.weight)
    np.testing.assert_array_equal(m.bias, m2.bias)
    m3 = convt.ConvTranspose2d(8, 12, 3, groups=2, rng=np.random.default_rng(43))
    assert not np.array_equal(m.weight, m3.weight)
    assert convt.ConvTranspose2d(8, 12, 3, bias=False).bias is None


def test_weight_reassignment_repacks(rng):
    m = convt.ConvTranspose1d(3, 4, 3, stride=2, rng=0)
    x = rng.standard_normal((1, 3, 6)).astype(np.float32)
    y0 = m(x)
    neww = rng.standard_normal(m.weight.shape)  # float64: converted
    m.weight = neww
    assert m.weight.dtype == np.float32 and not m.weight.flags.writeable
    y1 = m(x)
    assert not np.array_equal(y0, y1)
    assert_matches_reference(y1, x, m.weight, m.bias, stride=2)
    neww[...] = 0  # the layer holds a copy
    np.testing.assert_array_equal(m(x), y1)
    m.bias = None
    assert_matches_reference(m(x), x, m.weight, None, stride=2)
    with pytest.raises(ValueError):
        m.bias[0] = 1.0 if m.bias is not None else (_ for _ in ()).throw(ValueError())


def test_out_and_threads(rng):
    m = convt.ConvTranspose2d(8, 8, 4, stride=2, padding=1, rng=0)
    x = rng.standard_normal((2, 8, 9, 9)).astype(np.float32)
    out = np.empty((2, 8, 18, 18), np.float32)
    assert m(x, out=out, num_threads=1) is out
    np.testing.assert_array_equal(out, m(x, num_threads=2))
