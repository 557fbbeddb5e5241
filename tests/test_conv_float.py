"""Forward convolution (convt.conv{1,2,3}d and convt.Conv{1,2,3}d) in float32 against the
independent float64 reference (tests/reference_conv.py), against PyTorch where it is installed
(those tests alone skip without torch), and against convt's own transposed convolution through
the adjoint identity."""

import importlib.util
import math
import os
import pickle
import subprocess
import sys
import zlib

import numpy as np
import pytest
from conftest import assert_close
from hypothesis import assume, given
from hypothesis import strategies as st
from reference_conv import (
    PADDING_MODES,
    accumulate_forward,
    conv_forward_naive,
    conv_forward_ref,
    conv_out_size,
    error_bound_forward,
    pad_nd,
    resolve_padding,
)
from reference_q import requantize

import convt


# Looked up when called, so that the reference checks below run before the API exists.
def FN(nd):
    return getattr(convt, f"conv{nd}d")


def CLS(nd):
    return getattr(convt, f"Conv{nd}d")


def FT(nd):
    return getattr(convt, f"conv_transpose{nd}d")


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch is not installed")


def assert_matches(y, x, w, b=None, **params):
    """float32 result vs the float64 reference, within a few ulps of the magnitude flowing
    into each element; ``x`` may be unbatched."""
    w = np.asarray(w)
    x = np.asarray(x)
    xb = x if x.ndim == w.ndim else x[None]
    ref = conv_forward_ref(xb, w, b, **params)
    bound = error_bound_forward(xb, w, b, **params)
    if x.ndim != w.ndim:
        ref, bound = ref[0], bound[0]
    assert isinstance(y, np.ndarray) and y.dtype == np.float32, type(y)
    assert_close(y, ref, bound)


SPATIAL = {1: (9,), 2: (6, 7), 3: (4, 5, 5)}

# (stride, padding, dilation, kernel): every padding form -- ints, 'same' with odd and even
# kernels, with dilation (even and odd total padding: symmetric and one extra on the right),
# 'valid' -- kernel < stride, == stride, > stride, padding beyond half the kernel extent.
GEOMETRIES = [
    (1, 0, 1, 3),
    (1, 1, 1, 3),
    (2, 1, 1, 3),
    (2, 0, 1, 2),
    (3, 2, 1, 2),
    (3, 1, 2, 1),
    (1, 3, 2, 3),
    (2, 2, 2, 3),
    (1, "same", 1, 3),
    (1, "same", 1, 2),   # total 1: left 0, right 1
    (1, "same", 2, 4),   # total 6: symmetric
    (1, "same", 3, 2),   # total 3: left 1, right 2
    (1, "valid", 1, 3),
    (2, "valid", 2, 2),
]
# (C_in, C_out, groups): dense, grouped, fewer outputs than inputs per group, depthwise,
# depthwise multiplier 2, more output channels than a register tile.
CHANNELS = [(3, 5, 1), (4, 6, 2), (6, 3, 3), (4, 4, 4), (4, 8, 4), (8, 20, 1)]
VARIANTS = ["batched", "unbatched-nobias", "strided-view-nobias"]


def _input(rng, variant, nd, cin):
    sp = SPATIAL[nd]
    if variant == "batched":
        return rng.standard_normal((2, cin) + sp).astype(np.float32), True
    if variant == "unbatched-nobias":
        return rng.standard_normal((cin,) + sp).astype(np.float32), False
    big = rng.standard_normal((3, cin) + sp[:-1] + (2 * sp[-1],)).astype(np.float32)
    x = big[::-1, ..., ::2]  # negative batch stride, every other element of the last axis
    assert not x.flags.c_contiguous and x.shape[2:] == sp
    return x, False


# ------------------------------------------------------------------ the references themselves
def test_reference_matches_naive_loops(rng):
    for nd, sp, k, params in [
        (1, (7,), (3,), dict(stride=2, padding=1, dilation=2)),
        (1, (6,), (2,), dict(padding="same", dilation=3)),
        (2, (5, 4), (2, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
        (2, (4, 5), (2, 2), dict(padding="same", groups=2)),
        (3, (3, 4, 3), (2, 1, 2), dict(stride=(1, 2, 1), padding="valid", groups=3)),
    ]:
        g = params.get("groups", 1)
        x = rng.standard_normal((2, 6) + sp)
        w = rng.standard_normal((6, 6 // g) + k)
        b = rng.standard_normal(6)
        np.testing.assert_allclose(conv_forward_ref(x, w, b, **params),
                                   conv_forward_naive(x, w, b, **params), atol=1e-12)


def test_reference_padding_helpers(rng):
    """The index maps written from the definitions agree with numpy's own pad modes."""
    x = rng.standard_normal((2, 3, 5, 4))
    pairs = ((4, 2), (1, 3))  # reflect needs pad < size, circular pad <= size
    for mode, npmode in [("zeros", "constant"), ("reflect", "reflect"),
                         ("replicate", "edge"), ("circular", "wrap")]:
        np.testing.assert_array_equal(pad_nd(x, pairs, mode),
                                      np.pad(x, ((0, 0), (0, 0)) + pairs, mode=npmode))
    assert resolve_padding("same", (2, 3, 4), (3, 1, 2)) == ((1, 2), (1, 1), (3, 3))
    assert resolve_padding("valid", (2, 3), 1) == ((0, 0), (0, 0))
    assert resolve_padding((1, (2, 3)), (3, 3), 1) == ((1, 1), (2, 3))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_reference_matches_torch(torch):
    """The float64 reference against torch (F.conv{n}d and nn.Conv{n}d with every padding
    mode) in float64: validates the reference itself."""
    F = torch.nn.functional
    rng = np.random.default_rng(99)
    for nd in (1, 2, 3):
        for cin, cout, g in [(3, 5, 1), (4, 8, 4)]:
            for s, p, d, k in GEOMETRIES:
                x = rng.standard_normal((2, cin) + SPATIAL[nd])
                w = rng.standard_normal((cout, cin // g) + (k,) * nd)
                b = rng.standard_normal(cout)
                with torch.no_grad():
                    t = getattr(F, f"conv{nd}d")(torch.from_numpy(x), torch.from_numpy(w),
                                                 torch.from_numpy(b), s, p, d, g).numpy()
                np.testing.assert_allclose(conv_forward_ref(x, w, b, s, p, d, g), t,
                                           rtol=1e-10, atol=1e-10)
                for mode in PADDING_MODES[1:]:
                    if mode == "reflect" and p == "same" and d * (k - 1) >= 2 * min(SPATIAL[nd]):
                        continue
                    tm = getattr(torch.nn, f"Conv{nd}d")(cin, cout, k, s, p, d, g,
                                                         padding_mode=mode).double()
                    with torch.no_grad():
                        tm.weight.copy_(torch.from_numpy(w))
                        tm.bias.copy_(torch.from_numpy(b))
                        t = tm(torch.from_numpy(x)).numpy()
                    np.testing.assert_allclose(
                        conv_forward_ref(x, w, b, s, p, d, g, padding_mode=mode), t,
                        rtol=1e-10, atol=1e-10, err_msg=f"{nd} {mode} {(s, p, d, k)}")


# ------------------------------------------------------------------ functional vs reference
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_functional_matches_reference(rng, nd, geom, channels, variant):
    s, p, d, k = geom
    cin, cout, g = channels
    x, with_bias = _input(rng, variant, nd, cin)
    w = rng.standard_normal((cout, cin // g) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if with_bias else None
    params = dict(stride=s, padding=p, dilation=d, groups=g)
    y = FN(nd)(x, w, b, **params)
    assert y.ndim == x.ndim
    assert_matches(y, x, w, b, **params)
    if p == "same":
        assert y.shape[-nd:] == x.shape[-nd:]


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_positional_arguments_follow_torch_order(rng, nd):
    """conv{n}d(input, weight, bias, stride, padding, dilation, groups), as torch."""
    x = rng.standard_normal((2, 4) + SPATIAL[nd]).astype(np.float32)
    w = rng.standard_normal((6, 2) + (2,) * nd).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    y = FN(nd)(x, w, b, 1, 1, 2, 2)
    np.testing.assert_array_equal(y, FN(nd)(x, w, b, stride=1, padding=1, dilation=2, groups=2))
    assert_matches(y, x, w, b, stride=1, padding=1, dilation=2, groups=2)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_per_dimension_parameters(rng, nd):
    k, s, p, d = (2, 3, 4)[:nd], (3, 1, 2)[:nd], (1, 0, 2)[:nd], (1, 2, 1)[:nd]
    sp = (8, 7, 9)[:nd]
    x = rng.standard_normal((2, 3) + sp).astype(np.float32)
    w = rng.standard_normal((4, 3) + k).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y = FN(nd)(x, w, b, stride=s, padding=p, dilation=d)
    assert y.shape == (2, 4) + tuple(conv_out_size(*a) for a in zip(sp, k, s, p, p, d))
    assert_matches(y, x, w, b, stride=s, padding=p, dilation=d)
    # lists, numpy integers and 1-d integer arrays are the same parameters
    y2 = FN(nd)(x, w, b, stride=list(s), padding=np.array(p), dilation=[np.int64(v) for v in d])
    np.testing.assert_array_equal(y2, y)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_same_with_per_dimension_even_kernels_and_dilation(rng, nd):
    k, d = (2, 3, 4)[:nd], (3, 1, 2)[:nd]  # totals 3 (asymmetric), 2, 6
    sp = (6, 5, 7)[:nd]
    x = rng.standard_normal((2, 4) + sp).astype(np.float32)
    w = rng.standard_normal((6, 2) + k).astype(np.float32)
    y = FN(nd)(x, w, None, padding="same", dilation=d, groups=2)
    assert y.shape == (2, 6) + sp
    assert_matches(y, x, w, None, padding="same", dilation=d, groups=2)
    # 'same' is the explicit split: left total//2 and the extra on the right (first dim)
    ref = conv_forward_ref(x, w, None, padding=tuple(resolve_padding("same", k, d)),
                           dilation=d, groups=2)
    assert_close(y, ref, error_bound_forward(x, w, None, padding="same", dilation=d, groups=2))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_valid_is_padding_zero(rng, nd):
    x = rng.standard_normal((2, 3) + SPATIAL[nd]).astype(np.float32)
    w = rng.standard_normal((5, 3) + (3,) * nd).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    np.testing.assert_array_equal(FN(nd)(x, w, b, padding="valid", stride=2),
                                  FN(nd)(x, w, b, padding=0, stride=2))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_unbatched_equals_batched(rng, nd, groups):
    x = rng.standard_normal((3, 4) + SPATIAL[nd]).astype(np.float32)
    w = rng.standard_normal((6, 4 // groups) + (3,) * nd).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    params = dict(stride=2, padding=1, groups=groups)
    yb = FN(nd)(x, w, b, **params)
    for n in range(3):
        yu = FN(nd)(x[n], w, b, **params)
        assert yu.shape == yb.shape[1:]
        np.testing.assert_array_equal(yu, yb[n])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_output_exactly_one_position(rng, nd):
    """Input exactly the kernel extent: one output position per dimension."""
    k, d = 3, 2
    x = rng.standard_normal((2, 3) + (d * (k - 1) + 1,) * nd).astype(np.float32)
    w = rng.standard_normal((4, 3) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y = FN(nd)(x, w, b, dilation=d, stride=5)
    assert y.shape == (2, 4) + (1,) * nd
    assert_matches(y, x, w, b, dilation=d, stride=5)


def test_size_one_everything(rng):
    x = rng.standard_normal((1, 1, 1, 1, 1)).astype(np.float32)
    w = rng.standard_normal((1, 1, 1, 1, 1)).astype(np.float32)
    b = rng.standard_normal(1).astype(np.float32)
    y = convt.conv3d(x, w, b)
    assert y.shape == (1, 1, 1, 1, 1)
    np.testing.assert_allclose(y.ravel(), x.ravel() * w.ravel() + b, rtol=1e-6)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("cin,cout,groups,k,s,p", [(4, 6, 2, 3, 2, 1), (4, 4, 4, 3, 1, "same"),
                                                   (3, 5, 1, 1, 3, 0), (8, 8, 4, 2, 2, 1)])
def test_out_argument(rng, nd, cin, cout, groups, k, s, p):
    """out= is returned, fully overwritten (NaN prefill) and equal to the allocated result."""
    x = rng.standard_normal((2, cin) + SPATIAL[nd]).astype(np.float32)
    w = rng.standard_normal((cout, cin // groups) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    params = dict(stride=s, padding=p, groups=groups)
    ref = FN(nd)(x, w, b, **params)
    out = np.full(ref.shape, np.nan, np.float32)
    assert FN(nd)(x, w, b, out=out, **params) is out
    np.testing.assert_array_equal(out, ref)
    assert_matches(out, x, w, b, **params)
    FN(nd)(x * 2, w, None, out=out, **params)  # no accumulation into out
    assert_matches(out, x * 2, w, None, **params)
    out1 = np.full(ref.shape[1:], np.nan, np.float32)  # unbatched input, unbatched out
    assert FN(nd)(x[1], w, None, out=out1, **params) is out1
    assert_matches(out1, x[1], w, None, **params)


def test_bias_none_and_zero_bias_agree(rng):
    x = rng.standard_normal((2, 4, 6, 7)).astype(np.float32)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    y0 = convt.conv2d(x, w, None, padding=1)
    np.testing.assert_array_equal(y0, convt.conv2d(x, w, np.zeros(6, np.float32), padding=1))
    assert_matches(y0, x, w, None, padding=1)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_inputs_not_modified_and_dtypes_converted(rng, nd):
    x = rng.standard_normal((2, 6) + SPATIAL[nd]).astype(np.float32)
    w = rng.standard_normal((6, 2) + (3,) * nd).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    copies = [a.copy() for a in (x, w, b)]
    y = FN(nd)(x, w, b, padding="same", groups=3, num_threads=2)
    for a, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(a, c)
    y64 = FN(nd)(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                 padding="same", groups=3)
    assert y64.dtype == np.float32
    np.testing.assert_array_equal(y64, y)


def test_empty_batch(rng):
    x = np.zeros((0, 3, 6, 7), np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    y = convt.conv2d(x, w, None, stride=2)
    assert y.shape == (0, 5, 2, 3) and y.dtype == np.float32


# Big enough for several register tiles, K blocks (C_in/groups * taps > 256), channel
# blocks (C_out > 132), column blocks, long rows strided along W, and the 1x1 / depthwise
# special shapes.
@pytest.mark.parametrize("nd,shape,cout,groups,k,params", [
    (1, (1, 300, 37), 70, 1, 2, dict(stride=2)),
    (2, (1, 300, 7, 8), 20, 1, 2, dict(padding=1)),
    (3, (1, 40, 4, 5, 6), 13, 1, 3, dict(padding="same")),
    (2, (2, 40, 9, 10), 200, 1, 3, dict(stride=(1, 2), padding=1)),
    (2, (2, 16, 33, 47), 12, 1, 3, dict(stride=2, padding=1)),
    (2, (1, 8, 70, 3), 7, 1, 3, dict(padding="same")),
    (1, (2, 4, 3000), 140, 1, 3, dict(padding=1)),
    (1, (1, 16, 500), 24, 1, 5, dict(stride=3, dilation=2)),
    (2, (1, 64, 20, 21), 64, 64, 5, dict(stride=2, padding=2)),
    (2, (1, 32, 19, 23), 64, 32, 3, dict(padding="same", dilation=2)),
    (2, (2, 96, 9, 11), 96, 1, 1, dict()),
    (2, (1, 64, 12, 13), 300, 2, 1, dict(stride=2)),
    (3, (1, 24, 9, 10, 11), 24, 24, 3, dict(stride=2, padding=1)),
])
def test_larger_blocks(rng, nd, shape, cout, groups, k, params):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((cout, shape[1] // groups) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = FN(nd)(x, w, b, groups=groups, **params)
    assert_matches(y, x, w, b, groups=groups, **params)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_outputs_reached_only_by_padding(rng, nd):
    """Padding wider than the input: border outputs see only padding (the bias, or 0)."""
    x = rng.standard_normal((2, 3) + (1, 2, 1)[:nd]).astype(np.float32)
    w = rng.standard_normal((4, 3) + (2,) * nd).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y = FN(nd)(x, w, b, padding=3)
    assert y.shape == (2, 4) + tuple(i + 5 for i in (1, 2, 1)[:nd])
    assert_matches(y, x, w, b, padding=3)
    corner = y[(slice(None), slice(None)) + (0,) * nd]
    np.testing.assert_array_equal(corner, np.broadcast_to(b, corner.shape))
    y0 = FN(nd)(x, w, None, padding=3, stride=2)
    assert_matches(y0, x, w, None, padding=3, stride=2)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_padding_makes_small_input_valid(rng, nd):
    """Input shorter than the kernel extent is fine once padded to it."""
    x = rng.standard_normal((1, 2) + (2,) * nd).astype(np.float32)
    w = rng.standard_normal((3, 2) + (5,) * nd).astype(np.float32)
    y = FN(nd)(x, w, None, padding=2)
    assert y.shape == (1, 3) + (2,) * nd
    assert_matches(y, x, w, None, padding=2)
    ys = FN(nd)(x, w, None, padding="same")
    np.testing.assert_array_equal(ys, y)


def test_huge_stride_is_one_output(rng):
    x = rng.standard_normal((1, 2, 9)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3)).astype(np.float32)
    y = convt.conv1d(x, w, None, stride=10**6, padding=1)
    assert y.shape == (1, 3, 1)
    assert_matches(y, x, w, None, stride=10**6, padding=1)


def test_array_likes_and_float16(rng):
    x = rng.standard_normal((1, 2, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 2)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    np.testing.assert_array_equal(convt.conv1d(x.tolist(), w.tolist(), b.tolist()),
                                  convt.conv1d(x, w, b))
    y16 = convt.conv1d(x.astype(np.float16), w, b)
    assert y16.dtype == np.float32
    np.testing.assert_array_equal(y16, convt.conv1d(x.astype(np.float16).astype(np.float32),
                                                    w, b))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("channels", [(4, 6, 1), (4, 4, 4), (8, 40, 2)])
@pytest.mark.parametrize("padding,stride,mode", [(1, 1, "zeros"), ("same", 1, "reflect"),
                                                 (0, 2, "zeros"), (2, 2, "circular")])
def test_nan_and_inf_propagate(rng, nd, channels, padding, stride, mode):
    """A NaN or an infinity in the input reaches exactly the outputs whose taps read it
    (padding copies included), as in the float64 reference (and torch)."""
    cin, cout, g = channels
    x = rng.standard_normal((2, cin) + SPATIAL[nd]).astype(np.float32)
    x[(0, 0) + tuple(n // 2 for n in SPATIAL[nd])] = np.nan
    x[(1, cin - 1) + (0,) * nd] = np.inf
    m = CLS(nd)(cin, cout, 3, stride, padding, groups=g, padding_mode=mode, rng=0)
    y = m(x)
    with np.errstate(invalid="ignore"):
        ref = conv_forward_ref(x, m.weight, m.bias, stride=stride, padding=padding, groups=g,
                               padding_mode=mode)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
    fin = np.isfinite(ref)
    assert fin.any()
    with np.errstate(invalid="ignore"):
        bound = error_bound_forward(np.where(np.isfinite(x), x, 0), m.weight, m.bias,
                                    stride=stride, padding=padding, groups=g,
                                    padding_mode=mode)
    assert np.all(np.abs(y[fin] - ref[fin]) <= bound[fin])


# ------------------------------------------------------------------ threads
def _threads_case(rng, nd, cin, cout, groups, k, batch, spatial, **params):
    x = rng.standard_normal((batch, cin) + spatial).astype(np.float32)
    w = rng.standard_normal((cout, cin // groups) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    assert x.size * (cout // groups) * k**nd >= 1_000_000  # big enough to be split
    ys = [FN(nd)(x, w, b, groups=groups, num_threads=t, **params) for t in (1, 2, None)]
    for y in ys[1:]:
        assert np.array_equal(ys[0], y)  # bitwise, not merely close
    assert_matches(ys[0], x, w, b, groups=groups, **params)


def test_threads_bitwise_identical_dense(rng):
    _threads_case(rng, 2, 32, 48, 1, 3, 2, (24, 25), stride=1, padding=1)


def test_threads_bitwise_identical_depthwise(rng):
    _threads_case(rng, 2, 64, 64, 64, 3, 2, (64, 65), stride=2, padding="valid")


def test_threads_bitwise_identical_3d_grouped_same(rng):
    _threads_case(rng, 3, 16, 24, 2, 2, 2, (8, 9, 7), padding="same", dilation=(1, 2, 1))


def test_threads_bitwise_identical_1d_long(rng):
    _threads_case(rng, 1, 64, 40, 1, 5, 1, (3000,), stride=2, padding=2)


# ------------------------------------------------------------------ property tests
@st.composite
def configs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cig, cog = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    spatial = tuple(draw(st.integers(1, 6 if nd == 3 else 10)) for _ in range(nd))
    form = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if form == "same":
        s = (1,) * nd
        padding = "same"
    elif form == "valid":
        padding = "valid"
    elif form == "int":
        padding = draw(st.integers(0, 3))
    else:
        padding = tuple(draw(st.integers(0, 3)) for _ in range(nd))
    return dict(nd=nd, groups=groups, cin=cig * groups, cout=cog * groups, kernel=k, stride=s,
                dilation=d, padding=padding, spatial=spatial,
                batch=draw(st.sampled_from([None, 1, 2])), bias=draw(st.booleans()),
                reversed=draw(st.booleans()), threads=draw(st.sampled_from([None, 1, 2])),
                seed=draw(st.integers(0, 2**32 - 1)))


def _out_sizes(cfg):
    pairs = resolve_padding(cfg["padding"], cfg["kernel"], cfg["dilation"])
    return tuple(conv_out_size(i, k, s, pl, pr, d) for i, k, s, (pl, pr), d in zip(
        cfg["spatial"], cfg["kernel"], cfg["stride"], pairs, cfg["dilation"]))


@given(configs())
def test_property_random_configs(cfg):
    assume(min(_out_sizes(cfg)) >= 1)
    rng = np.random.default_rng(cfg["seed"])
    nd = cfg["nd"]
    shape = ((cfg["batch"],) if cfg["batch"] else ()) + (cfg["cin"],) + cfg["spatial"]
    x = rng.standard_normal(shape).astype(np.float32)
    if cfg["reversed"]:
        x = x[..., ::-1]
    w = rng.standard_normal((cfg["cout"], cfg["cin"] // cfg["groups"]) + cfg["kernel"]
                            ).astype(np.float32)
    b = rng.standard_normal(cfg["cout"]).astype(np.float32) if cfg["bias"] else None
    params = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
                  groups=cfg["groups"])
    y = FN(nd)(x, w, b, num_threads=cfg["threads"], **params)
    assert y.shape[-nd:] == _out_sizes(cfg)
    assert_matches(y, x, w, b, **params)


@given(configs())
def test_property_adjoint_of_conv_transpose(cfg):
    """<conv(x, w), y> == <x, conv_transpose(y, w)> in float64 sums.  The forward weight
    (C_out, C_in/g, *k) is the transposed layer's (C_in', C_out'/g, *k) weight with
    C_in' = C_out; output_padding picks the transposed output size equal to x's."""
    cfg = dict(cfg)
    pairs = resolve_padding(cfg["padding"], cfg["kernel"], cfg["dilation"])
    assume(all(lo == hi for lo, hi in pairs))  # conv_transpose pads symmetrically
    osz = _out_sizes(cfg)
    assume(min(osz) >= 1)
    rng = np.random.default_rng(cfg["seed"])
    nd = cfg["nd"]
    p = tuple(lo for lo, _ in pairs)
    s, d, k, sp = cfg["stride"], cfg["dilation"], cfg["kernel"], cfg["spatial"]
    op = tuple((sp[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) % s[a] for a in range(nd))
    batch = cfg["batch"] or 1
    x = rng.standard_normal((batch, cfg["cin"]) + sp).astype(np.float32)
    w = rng.standard_normal((cfg["cout"], cfg["cin"] // cfg["groups"]) + k).astype(np.float32)
    t = FN(nd)(x, w, None, stride=s, padding=cfg["padding"], dilation=d, groups=cfg["groups"])
    y = rng.standard_normal(t.shape).astype(np.float32)
    z = FT(nd)(y, w, None, stride=s, padding=p, output_padding=op, groups=cfg["groups"],
               dilation=d)
    assert z.shape == x.shape
    lhs = float(np.sum(t.astype(np.float64) * y))
    rhs = float(np.sum(x.astype(np.float64) * z))
    # both sides carry float32 errors of a few ulps of <|x| * |w|, |y|>
    mag = conv_forward_ref(np.abs(x), np.abs(w), None, stride=s, padding=p, dilation=d,
                           groups=cfg["groups"])
    scale = float(np.sum(mag * np.abs(y)))
    assert abs(lhs - rhs) <= 2e-5 * scale + 1e-9, (lhs, rhs, scale)


@st.composite
def larger_configs(draw):
    """Channel counts and lengths past the engine's tiles (register tiles, K and channel
    blocks, W splits), every padding mode, layers."""
    nd = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    if depthwise:
        groups, cig, cog = draw(st.integers(1, 40)), 1, draw(st.integers(1, 2))
    else:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cig, cog = (draw(st.integers(1, 72 if nd < 3 else 24)) for _ in range(2))
    k = tuple(draw(st.integers(1, 5 if nd < 3 else 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    spatial = tuple(draw(st.integers(1, {1: 300, 2: 24, 3: 9}[nd])) for _ in range(nd))
    form = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if form == "same":
        s, padding = (1,) * nd, "same"
    elif form == "valid":
        padding = "valid"
    elif form == "int":
        padding = draw(st.integers(0, 2))
    else:
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    return dict(nd=nd, groups=groups, cin=cig * groups, cout=cog * groups, kernel=k,
                stride=s, dilation=d, padding=padding, spatial=spatial,
                batch=draw(st.sampled_from([None, 1, 2])), bias=True, reversed=False,
                mode=draw(st.sampled_from(PADDING_MODES)),
                threads=draw(st.sampled_from([None, 1, 2])),
                seed=draw(st.integers(0, 2**32 - 1)))


@given(larger_configs())
def test_property_larger_layers(cfg):
    assume(min(_out_sizes(cfg)) >= 1)
    nd, mode = cfg["nd"], cfg["mode"]
    pairs = resolve_padding(cfg["padding"], cfg["kernel"], cfg["dilation"])
    if mode == "reflect" and any(max(pr) >= i for pr, i in zip(pairs, cfg["spatial"])):
        mode = "zeros"
    if mode == "circular" and any(max(pr) > i for pr, i in zip(pairs, cfg["spatial"])):
        mode = "zeros"
    rng = np.random.default_rng(cfg["seed"])
    m = CLS(nd)(cfg["cin"], cfg["cout"], cfg["kernel"], cfg["stride"], cfg["padding"],
                cfg["dilation"], cfg["groups"], padding_mode=mode, rng=rng)
    shape = ((cfg["batch"],) if cfg["batch"] else ()) + (cfg["cin"],) + cfg["spatial"]
    x = rng.standard_normal(shape).astype(np.float32)
    y = m(x, num_threads=cfg["threads"])
    assert_matches(y, x, m.weight, m.bias, stride=cfg["stride"], padding=cfg["padding"],
                   dilation=cfg["dilation"], groups=cfg["groups"], padding_mode=mode)


# ------------------------------------------------------------------ layers
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("padding,k,d,groups", [
    (1, 3, 1, 1),
    (2, 3, 2, 2),
    ("same", 2, 1, 1),   # asymmetric total 1
    ("same", 4, 1, 2),   # asymmetric total 3
    ("same", 3, 2, 4),   # symmetric total 4
    ("valid", 3, 1, 1),
    ((2, 0, 1), 2, 1, 2),
])
def test_layer_padding_modes_match_reference(rng, nd, mode, padding, k, d, groups):
    pad = padding[:nd] if isinstance(padding, tuple) else padding
    stride = 2 if padding == (2, 0, 1) else 1
    m = CLS(nd)(4, 8, k, stride=stride, padding=pad, dilation=d, groups=groups,
                padding_mode=mode, rng=1)
    assert m.padding_mode == mode
    assert m.weight.shape == (8, 4 // groups) + (k,) * nd and m.weight.dtype == np.float32
    x = rng.standard_normal((2, 4) + SPATIAL[nd]).astype(np.float32)
    params = dict(stride=stride, padding=pad, dilation=d, groups=groups, padding_mode=mode)
    y = m(x)
    assert_matches(y, x, m.weight, m.bias, **params)
    np.testing.assert_array_equal(m(x[1]), y[1])  # unbatched
    np.testing.assert_array_equal(m.forward(x), y)
    if mode == "zeros":  # the functional form with the layer's parameters
        np.testing.assert_array_equal(
            FN(nd)(x, m.weight, m.bias, stride, pad, d, groups), y)


@pytest.mark.parametrize("mode", ["reflect", "circular", "replicate"])
def test_layer_padding_mode_largest_allowed_padding(rng, mode):
    """reflect: padding up to size - 1; circular: up to size (as torch); replicate: any."""
    n = 4
    pad = {"reflect": n - 1, "circular": n, "replicate": 2 * n}[mode]
    m = convt.Conv1d(2, 3, 3, padding=pad, padding_mode=mode, rng=2)
    x = rng.standard_normal((2, 2, n)).astype(np.float32)
    y = m(x)
    assert y.shape == (2, 3, n + 2 * pad - 2)
    assert_matches(y, x, m.weight, m.bias, padding=pad, padding_mode=mode)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_layer_out_threads_and_attributes(rng, nd):
    m = CLS(nd)(6, 4, 3, stride=2, padding=1, dilation=1, groups=2, padding_mode="reflect",
                device=None, dtype=None, rng=0)
    assert (m.in_channels, m.out_channels, m.kernel_size) == (6, 4, (3,) * nd)
    assert (m.stride, m.padding, m.dilation, m.groups) == ((2,) * nd, (1,) * nd, (1,) * nd, 2)
    x = rng.standard_normal((2, 6) + SPATIAL[nd]).astype(np.float32)
    y = m(x)
    out = np.full(y.shape, np.nan, np.float32)
    assert m(x, out=out, num_threads=1) is out
    np.testing.assert_array_equal(out, y)
    np.testing.assert_array_equal(m(x, num_threads=2), y)
    assert_matches(y, x, m.weight, m.bias, stride=2, padding=1, groups=2,
                   padding_mode="reflect")


def test_layer_weight_read_only_reassignment_and_bias_none(rng):
    m = convt.Conv2d(4, 6, 3, padding="same", rng=0)
    assert not m.weight.flags.writeable
    with pytest.raises(ValueError):
        m.weight[0, 0, 0, 0] = 1.0
    x = rng.standard_normal((1, 4, 5, 6)).astype(np.float32)
    y0 = m(x)
    neww = rng.standard_normal((6, 4, 3, 3))
    m.weight = neww
    assert m.weight.dtype == np.float32 and not m.weight.flags.writeable
    neww[...] = 0  # the layer holds a copy
    y1 = m(x)
    assert not np.array_equal(y0, y1)
    assert_matches(y1, x, m.weight, m.bias, padding="same")
    m.bias = None
    assert m.bias is None
    assert_matches(m(x), x, m.weight, None, padding="same")
    m0 = convt.Conv1d(2, 2, 3, bias=False, rng=0)
    assert m0.bias is None and "bias=False" in repr(m0)


@pytest.mark.parametrize("nd,cin,cout,groups,k", [(1, 8, 12, 2, 3), (2, 8, 12, 4, 3),
                                                  (3, 6, 4, 1, (2, 3, 2)), (2, 32, 32, 32, 5)])
def test_layer_init_bounds_and_determinism(nd, cin, cout, groups, k):
    m = CLS(nd)(cin, cout, k, groups=groups, rng=42)
    kernel = (k,) * nd if isinstance(k, int) else k
    bound = 1 / math.sqrt(cin // groups * math.prod(kernel))  # torch's fan_in for Conv
    for a in (m.weight, m.bias):
        assert np.abs(a).max() <= bound
    assert np.abs(m.weight).max() > 0.8 * bound
    m2 = CLS(nd)(cin, cout, k, groups=groups, rng=42)
    np.testing.assert_array_equal(m.weight, m2.weight)
    np.testing.assert_array_equal(m.bias, m2.bias)
    assert not np.array_equal(m.weight, CLS(nd)(cin, cout, k, groups=groups, rng=43).weight)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["zeros", "circular"])
def test_layer_state_dict_and_pickle(rng, nd, mode):
    m = CLS(nd)(4, 6, 3, stride=2, padding=1, groups=2, padding_mode=mode, rng=5)
    x = rng.standard_normal((2, 4) + SPATIAL[nd]).astype(np.float32)
    y = m(x)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"]
    m2 = CLS(nd)(4, 6, 3, stride=2, padding=1, groups=2, padding_mode=mode, rng=6)
    assert not np.array_equal(m2(x), y)
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2(x), y)
    m3 = pickle.loads(pickle.dumps(m))
    assert repr(m3) == repr(m) and m3.padding_mode == mode
    np.testing.assert_array_equal(m3(x), y)


@pytest.mark.parametrize("nd,args,kw,text", [
    (2, (16, 33, 3), dict(stride=2), "Conv2d(16, 33, kernel_size=(3, 3), stride=(2, 2))"),
    (1, (4, 6, 3), dict(padding="valid"),
     "Conv1d(4, 6, kernel_size=(3,), stride=(1,), padding=valid)"),
    (2, (4, 6, (3, 2)), dict(padding="same", padding_mode="circular", groups=2, bias=False),
     ("Conv2d(4, 6, kernel_size=(3, 2), stride=(1, 1), padding=same, groups=2, bias=False, "
      "padding_mode=circular)")),
    (3, (16, 33, (3, 5, 2)), dict(stride=(2, 1, 1), padding=(4, 2, 0), dilation=2),
     ("Conv3d(16, 33, kernel_size=(3, 5, 2), stride=(2, 1, 1), padding=(4, 2, 0), "
      "dilation=(2, 2, 2))")),
])
def test_layer_repr(nd, args, kw, text):
    assert repr(CLS(nd)(*args, **kw)) == text


# ------------------------------------------------------------------ errors
def _x():
    return np.zeros((1, 4, 5, 5), np.float32)


def _w(shape=(6, 4, 3, 3)):
    return np.zeros(shape, np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: convt.conv2d(_x(), _w(), padding="same", stride=2), ValueError, "padding|stride"),
    (lambda: convt.conv2d(_x(), _w(), padding="same", stride=(1, 2)), ValueError,
     "padding|stride"),
    (lambda: convt.conv2d(_x(), _w(), padding="full"), ValueError, "padding"),
    (lambda: convt.conv2d(_x(), _w(), padding="SAME"), ValueError, "padding"),
    (lambda: convt.conv2d(_x(), _w(), padding=-1), ValueError, "padding"),
    (lambda: convt.conv2d(_x(), _w(), padding=1.5), TypeError, "padding"),
    (lambda: convt.conv2d(_x(), _w(), stride=0), ValueError, "stride"),
    (lambda: convt.conv2d(_x(), _w(), dilation=0), ValueError, "dilation"),
    (lambda: convt.conv2d(_x(), _w(), groups=3), ValueError, "groups"),
    (lambda: convt.conv2d(_x(), _w(), stride="2"), TypeError, "stride"),
    # input smaller than the kernel extent: no output position
    (lambda: convt.conv2d(_x(), _w((6, 4, 6, 3))), ValueError, "(?i)input|kernel|output"),
    (lambda: convt.conv2d(_x(), _w(), dilation=3), ValueError, "(?i)input|kernel|output"),
    (lambda: convt.conv1d(np.zeros((2, 3), np.float32), np.zeros((1, 2, 4), np.float32)),
     ValueError, "(?i)input|kernel|output|channels"),
    # weight of the wrong shape
    (lambda: convt.conv2d(_x(), _w((6, 4, 3))), ValueError, "weight"),
    (lambda: convt.conv2d(_x(), _w((6, 3, 3, 3))), ValueError, "weight|channels"),
    (lambda: convt.conv2d(_x(), _w((6, 4, 3, 3)), groups=2), ValueError, "weight|channels|groups"),
    (lambda: convt.conv2d(_x(), _w((5, 2, 3, 3)), groups=2), ValueError,
     "out_channels|weight|groups"),
    (lambda: convt.conv2d(_x(), _w(), np.zeros(5, np.float32)), ValueError, "bias"),
    (lambda: convt.conv2d(np.zeros((4, 5), np.float32), _w()), ValueError, "input"),
    (lambda: convt.conv2d(_x(), _w(), out=np.zeros((1, 6, 3, 3), np.float64)), TypeError, "out"),
    (lambda: convt.conv2d(_x(), _w(), out=np.zeros((1, 6, 4, 3), np.float32)), ValueError, "out"),
    (lambda: convt.Conv2d(4, 6, 3, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: convt.Conv2d(4, 6, 3, padding_mode="reflection"), ValueError, "padding_mode"),
    (lambda: convt.Conv2d(4, 6, 3, padding="same", stride=2), ValueError, "padding|stride"),
    (lambda: convt.Conv2d(4, 6, 3, padding="half"), ValueError, "padding"),
    (lambda: convt.Conv2d(4, 6, 3, groups=4), ValueError, "groups|out_channels"),
    # torch refuses reflect padding >= the input size and circular padding > the input size
    (lambda: convt.Conv1d(2, 2, 3, padding=4, padding_mode="reflect")(np.zeros((1, 2, 4))),
     ValueError, "(?i)padding|input"),
    (lambda: convt.Conv2d(2, 2, 3, padding=(1, 5), padding_mode="reflect")(
        np.zeros((1, 2, 8, 5))), ValueError, "(?i)padding|input"),
    (lambda: convt.Conv1d(2, 2, 9, padding="same", padding_mode="reflect")(
        np.zeros((1, 2, 4))), ValueError, "(?i)padding|input"),
    (lambda: convt.Conv1d(2, 2, 3, padding=5, padding_mode="circular")(np.zeros((1, 2, 4))),
     ValueError, "(?i)padding|input"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call()
    # messages describe the forward operator, not the transposed one they may share code with
    assert "transposed" not in str(info.value) and "output_padding" not in str(info.value)


@pytest.mark.parametrize("what", ["input", "weight", "bias"])
def test_out_overlapping_an_argument(what):
    buf = np.zeros(4096, np.float32)
    out = buf[:90].reshape(1, 2, 5, 9)
    shapes = dict(input=(1, 4, 7, 11), weight=(2, 4, 3, 3), bias=(2,))
    args = {k: np.ones(v, np.float32) for k, v in shapes.items()}
    n = int(np.prod(shapes[what]))
    args[what] = buf[40:40 + n].reshape(shapes[what])
    with pytest.raises(ValueError, match="overlap"):
        convt.conv2d(**args, out=out)
    args[what] = buf[1000:1000 + n].reshape(shapes[what])  # disjoint parts are fine
    assert convt.conv2d(**args, out=out) is out
    # the in-place 1x1 case: out is the input itself
    x = np.ones((1, 4, 5, 5), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        convt.conv2d(x, np.ones((4, 4, 1, 1), np.float32), out=x)


@pytest.mark.parametrize("arg", ["stride", "padding", "dilation"])
@pytest.mark.parametrize("value", [2**31, 2**63 - 1, 2**63, 2**64, -2**63])
def test_huge_hyper_parameters_are_value_errors(arg, value):
    with pytest.raises(ValueError, match=arg):
        convt.conv1d(np.array([[[2.0]]], np.float32),
                     np.array([[[1.0, 10.0, 100.0]]], np.float32), **{arg: value})


def test_largest_stride_and_padding(rng):
    x = rng.standard_normal((1, 2, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3)).astype(np.float32)
    s = 2**31 - 1
    y = convt.conv1d(x, w, None, stride=s, padding=s)  # (3 + 2s - 3) // s + 1 = 3
    assert y.shape == (1, 3, 3)
    # (not through the reference: it would pad to 2**32 elements)
    assert np.all(y[..., 0] == 0) and np.all(y[..., 2] == 0)  # only padding under the taps
    np.testing.assert_allclose(y[0, :, 1], np.einsum("ck,ock->o", x[0].astype(np.float64), w),
                               rtol=1e-5, atol=1e-5)


def test_modules_of_the_other_direction_are_refused():
    with pytest.raises(TypeError, match="mod"):
        convt.quantized.Conv2d.from_float(
            convt.ConvTranspose2d(4, 6, 3), input_scale=0.1, input_zero_point=0,
            output_scale=0.1, output_zero_point=0)
    with pytest.raises(TypeError, match="mod"):
        convt.quantized.ConvTranspose2d.from_float(
            convt.Conv2d(4, 6, 3), input_scale=0.1, input_zero_point=0, output_scale=0.1,
            output_zero_point=0)
    with pytest.raises(TypeError, match="mod"):
        convt.quantized.Conv2d.from_float(
            convt.Conv1d(4, 6, 3), input_scale=0.1, input_zero_point=0, output_scale=0.1,
            output_zero_point=0)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_torch_modules_of_the_other_direction_are_refused(torch):
    with pytest.raises(TypeError, match="module"):
        convt.Conv2d.from_torch(torch.nn.ConvTranspose2d(4, 6, 3))
    with pytest.raises(TypeError, match="module"):
        convt.ConvTranspose2d.from_torch(torch.nn.Conv2d(4, 6, 3))
    with pytest.raises(TypeError, match="module"):
        convt.Conv3d.from_torch(torch.nn.Conv2d(4, 6, 3))
    with pytest.raises(TypeError, match="module"):
        convt.quantized.Conv2d.from_torch(torch.ao.nn.quantized.ConvTranspose2d(4, 6, 3))
    with pytest.raises(TypeError, match="module"):
        convt.quantized.Conv2d.from_torch(torch.nn.Conv2d(4, 6, 3))


# ------------------------------------------------------------------ torch
TORCH_CASES = [  # C_in, C_out, groups, kernel, stride, padding, dilation
    (4, 6, 1, 3, 1, 0, 1), (4, 6, 2, 3, 2, 1, 1), (6, 6, 6, 3, 2, 1, 1), (3, 8, 1, 2, 2, 0, 1),
    (8, 4, 4, 3, 3, 2, 2), (5, 5, 1, 1, 3, 0, 1), (16, 33, 1, 3, 1, "same", 3),
    (4, 8, 4, 2, 1, "same", 1), (6, 18, 3, 4, 1, "same", 2), (12, 6, 3, 3, 2, "valid", 1),
    (40, 70, 1, 3, 1, 1, 1),
]


def _t(torch, a):
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def _assert_matches_torch(torch, y, x, w, b, nd, s, p, d, g):
    F = getattr(torch.nn.functional, f"conv{nd}d")
    with torch.no_grad():
        ref = F(_t(torch, x), _t(torch, w), _t(torch, b), s, p, d, g).numpy()
        mag = F(_t(torch, np.abs(x)), _t(torch, np.abs(w)),
                _t(torch, None if b is None else np.abs(b)), s, p, d, g).numpy()
        ref32 = F(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(w),
                  None if b is None else torch.from_numpy(b), s, p, d, g).numpy()
    assert y.shape == ref32.shape and y.dtype == np.float32
    assert_close(y, ref, 1e-5 * mag + 1e-6)
    assert_close(y, ref32.astype(np.float64), 3e-5 * mag + 3e-6)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", TORCH_CASES)
@pytest.mark.parametrize("variant", ["batched", "unbatched", "noncontig-nobias"])
def test_functional_matches_torch(torch, nd, case, variant):
    cin, cout, g, k, s, p, d = case
    rng = np.random.default_rng(zlib.crc32(repr((nd, variant, case)).encode()))
    sp = (9, 8, 7)[:nd]
    if variant == "noncontig-nobias":
        x = rng.standard_normal((2, cin) + sp[:-1] + (2 * sp[-1],)).astype(np.float32)[..., ::2]
    else:
        x = rng.standard_normal(((2,) if variant == "batched" else ()) + (cin,) + sp
                                ).astype(np.float32)
    w = rng.standard_normal((cout, cin // g) + (k,) * nd).astype(np.float32)
    b = None if variant.endswith("nobias") else rng.standard_normal(cout).astype(np.float32)
    y = FN(nd)(x, w, b, s, p, d, g)
    _assert_matches_torch(torch, y, x, w, b, nd, s, p, d, g)


MODULE_CASES = [
    dict(in_channels=6, out_channels=4, kernel_size=3, stride=2, padding=1, groups=2),
    dict(in_channels=3, out_channels=5, kernel_size=2, stride=3, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", groups=4, dilation=2),
    dict(in_channels=4, out_channels=8, kernel_size=2, padding="same"),
    dict(in_channels=8, out_channels=12, kernel_size=4, stride=2, padding=(1, 2, 0)),
    dict(in_channels=4, out_channels=6, kernel_size=3, padding="valid", dilation=2),
]


def _kw_nd(kw, nd):
    kw = dict(kw)
    if isinstance(kw.get("padding"), tuple):
        kw["padding"] = kw["padding"][:nd]
    if nd > 1 and kw["kernel_size"] > 2:  # a non-square kernel
        kw["kernel_size"] = (kw["kernel_size"], kw["kernel_size"] - 1, kw["kernel_size"])[:nd]
    return kw


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", MODULE_CASES)
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_module_from_torch_and_back(torch, nd, kw, mode):
    kw = _kw_nd(kw, nd)
    torch.manual_seed(nd)
    tm = getattr(torch.nn, f"Conv{nd}d")(padding_mode=mode, **kw)
    cm = CLS(nd).from_torch(tm)
    assert type(cm) is CLS(nd)
    assert repr(cm) == repr(tm)
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                 "dilation", "groups", "padding_mode"):
        assert getattr(cm, attr) == getattr(tm, attr), attr
    np.testing.assert_array_equal(cm.weight, tm.weight.detach().numpy())
    if tm.bias is None:
        assert cm.bias is None
    else:
        np.testing.assert_array_equal(cm.bias, tm.bias.detach().numpy())
    x = np.random.default_rng(nd).standard_normal((2, kw["in_channels"]) + (7, 6, 5)[:nd]
                                                  ).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x)).numpy()
        refu = tm(torch.from_numpy(x[1])).numpy()
    y = cm(x)
    assert y.shape == ref.shape
    params = dict(stride=cm.stride, padding=kw.get("padding", 0), dilation=cm.dilation,
                  groups=cm.groups, padding_mode=mode)
    bound = error_bound_forward(x, cm.weight, cm.bias, **params)
    assert_close(y, ref.astype(np.float64), 3 * bound)
    assert_close(cm(x[1]), refu.astype(np.float64), 3 * bound[1])
    # from_torch copies: later changes to the torch module do not reach the layer
    with torch.no_grad():
        tm.weight.add_(1.0)
    np.testing.assert_array_equal(cm(x), y)
    # to_torch: the same layer back in torch; from_torch of that is the same layer again
    tm2 = cm.to_torch()
    assert type(tm2) is type(tm) and repr(tm2) == repr(cm)
    assert tm2.padding_mode == mode
    np.testing.assert_array_equal(tm2.weight.detach().numpy(), cm.weight)
    with torch.no_grad():
        ref2 = tm2(torch.from_numpy(x)).numpy()
    assert_close(y, ref2.astype(np.float64), 3 * bound)
    cm2 = CLS(nd).from_torch(tm2)
    np.testing.assert_array_equal(cm2(x), y)
    # torch's state_dict loads into the convt layer and convt's (format='torch') into torch
    cm3 = CLS(nd)(padding_mode=mode, rng=9, **kw)
    cm3.load_state_dict(tm2.state_dict())
    np.testing.assert_array_equal(cm3(x), y)
    tm3 = getattr(torch.nn, f"Conv{nd}d")(padding_mode=mode, **kw)
    tm3.load_state_dict(cm.state_dict(format="torch"))
    np.testing.assert_array_equal(tm3.weight.detach().numpy(), cm.weight)


@st.composite
def torch_configs(draw):
    cfg = draw(configs())
    cfg["reversed"] = False
    cfg["mode"] = draw(st.sampled_from(PADDING_MODES))
    return cfg


@needs_torch
@pytest.mark.filterwarnings("ignore::UserWarning")
@given(cfg=torch_configs())
def test_property_layer_matches_torch(cfg):
    import torch
    assume(min(_out_sizes(cfg)) >= 1)
    nd, mode = cfg["nd"], cfg["mode"]
    pairs = resolve_padding(cfg["padding"], cfg["kernel"], cfg["dilation"])
    if mode == "reflect":
        assume(all(max(pr) < i for pr, i in zip(pairs, cfg["spatial"])))
    if mode == "circular":
        assume(all(max(pr) <= i for pr, i in zip(pairs, cfg["spatial"])))
    torch.manual_seed(cfg["seed"] % 2**31)
    tm = getattr(torch.nn, f"Conv{nd}d")(cfg["cin"], cfg["cout"], cfg["kernel"], cfg["stride"],
                                         cfg["padding"], cfg["dilation"], cfg["groups"],
                                         bias=cfg["bias"], padding_mode=mode)
    cm = CLS(nd).from_torch(tm)
    rng = np.random.default_rng(cfg["seed"])
    shape = ((cfg["batch"],) if cfg["batch"] else ()) + (cfg["cin"],) + cfg["spatial"]
    x = rng.standard_normal(shape).astype(np.float32)
    y = cm(x, num_threads=cfg["threads"])
    with torch.no_grad():
        ref = tm(torch.from_numpy(x)).numpy()
    assert y.shape == ref.shape
    xb = x if cfg["batch"] else x[None]
    bound = error_bound_forward(xb, cm.weight, cm.bias, stride=cfg["stride"],
                                padding=cfg["padding"], dilation=cfg["dilation"],
                                groups=cfg["groups"], padding_mode=mode)
    assert_close(y, ref.astype(np.float64), 3 * (bound if cfg["batch"] else bound[0]))


# ------------------------------------------------------------------ ISA tiers
_ISA_SCRIPT = r"""
import sys, numpy as np, convt
QF = convt.quantized.functional
rng = np.random.default_rng(11)
cases = [  # x shape, weight shape, params
    ((2, 40, 13, 17), (30, 40, 4, 3), dict(stride=2, padding=1)),
    ((1, 8, 19, 20), (8, 1, 3, 3), dict(stride=2, groups=8)),
    ((1, 8, 9, 10), (16, 2, 3, 3), dict(padding="same", groups=4, dilation=2)),
    ((2, 300, 41), (7, 300, 2), dict(stride=2)),
    ((1, 6, 4, 5, 6), (9, 2, 3, 2, 3), dict(stride=(2, 1, 3), padding=1, groups=3)),
    ((2, 24, 70), (40, 24, 5), dict(padding="same")),
]
out = {}
for i, (xs, ws, kw) in enumerate(cases):
    nd = len(xs) - 2
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    out["x%d" % i], out["w%d" % i], out["b%d" % i] = x, w, b
    out["y%d" % i] = getattr(convt, "conv%dd" % nd)(x, w, b, **kw)
    xq = rng.integers(0, 256, xs).astype(np.uint8)
    wq = rng.integers(-128, 128, ws).astype(np.int8)
    zw = rng.integers(-20, 20, ws[0]) if i % 2 else np.zeros(ws[0], np.int64)
    sw = rng.uniform(0.002, 0.02, ws[0])
    out["xq%d" % i], out["wq%d" % i], out["zw%d" % i], out["sw%d" % i] = xq, wq, zw, sw
    for mode in ("fbgemm", "qnnpack"):
        out["yq%d%s" % (i, mode)] = getattr(QF, "conv%dd" % nd)(
            convt.QTensor(xq, 0.03, 77), convt.QTensor(wq, sw, zw, axis=0), b, scale=0.6,
            zero_point=50, requant=mode, **kw).int_repr()
np.savez(sys.argv[1], **out)
print(convt.isa()[0])
"""
_ISA_PARAMS = [dict(stride=2, padding=1), dict(stride=2, groups=8),
               dict(padding="same", groups=4, dilation=2), dict(stride=2),
               dict(stride=(2, 1, 3), padding=1, groups=3), dict(padding="same")]


def _available_tiers():
    from convt import _engine
    return [t["name"] for t in _engine.tiers() if t.get("available", True)]


@pytest.mark.parametrize("tier", ["portable", "avx2", "avx512", "avxvnni", "avx512vnni"])
def test_every_isa_tier_matches_references(tmp_path, tier):
    """The forward kernels of each instruction-set tier (CONVT_ISA) against the references:
    float within the bound, quantized bit for bit (weight zero points zero and non-zero)."""
    if tier not in _available_tiers():
        pytest.skip(f"{tier} not available on this CPU")
    path = tmp_path / "out.npz"
    res = subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(path)],
                         env=dict(os.environ, CONVT_ISA=tier), capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == tier
    r = dict(np.load(path))
    for i, params in enumerate(_ISA_PARAMS):
        x, w, b = r[f"x{i}"], r[f"w{i}"], r[f"b{i}"]
        assert_matches(r[f"y{i}"], x, w, b, **params)
        acc = accumulate_forward(r[f"xq{i}"], 77, r[f"wq{i}"], r[f"zw{i}"], **params)
        for mode in ("fbgemm", "qnnpack"):
            np.testing.assert_array_equal(
                r[f"yq{i}{mode}"], requantize(acc, mode, 0.03, r[f"sw{i}"], b, 0.6, 50),
                err_msg=f"case {i} {mode} on {tier}")


# ----------------------------------------------------------------------------- fuzz findings
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_out_overlapping_the_input_is_refused_with_a_padding_mode(mode):
    """The overlap check looks at the caller's input, not the padded copy (found by fuzzing:
    the input was overwritten)."""
    m = convt.Conv1d(2, 2, 1, padding=1, padding_mode=mode, rng=0)
    x = np.ones((1, 2, 7), np.float32)
    with pytest.raises(ValueError, match="out"):
        m(x[..., :7], out=x)
    assert np.all(x == 1)


def test_huge_padding_mode_copy_is_an_error_naming_the_padding():
    big = 2**31 - 1
    m = convt.Conv2d(1, 1, 1, stride=big, padding=big, padding_mode="replicate", rng=0)
    x = np.ones((1, 1, 1, 1), np.float32)
    with pytest.raises(ValueError, match="num_threads"):  # arguments checked before padding
        m(x, num_threads=0)
    with pytest.raises((ValueError, MemoryError), match="padding_mode='replicate'"):
        m(x)


@pytest.mark.parametrize("layer", [False, True])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_nonfinite_weight_meeting_zero_padding_is_nan(layer, value):
    """Zero padding is zeros: 0 * inf is NaN, as the definition (the engine skips padding
    taps, so the layer marks those outputs); outputs whose taps avoid it stay exact."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    w[1, 2, 0, 1] = value
    kw = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    if layer:
        m = convt.Conv2d(3, 4, (3, 2), bias=False, **kw)
        m.weight = w
        y = m(x)
    else:
        y = convt.conv2d(x, w, **kw)
    ref = conv_forward_ref(x, w, **kw)
    assert np.array_equal(np.isnan(y), np.isnan(ref))
    assert np.isnan(y[:, 1]).any() and not np.isnan(y[:, [0, 2, 3]]).any()
    finite = np.isfinite(ref)
    assert_close(y[finite], ref[finite], error_bound_forward(x, w, **kw)[finite])


def test_nonfinite_weight_with_huge_padding_allocates_nothing_big():
    """The NaN marking works on index arithmetic, not on a padded copy (2**31 elements)."""
    w = np.full((1, 1, 2), np.nan, np.float32)
    x = np.ones((1, 1, 7), np.float32)
    y = convt.conv1d(x, w, padding=2**30 - 3, dilation=2**31 - 5)
    assert y.shape == (1, 1, 6) and np.isnan(y).all()
