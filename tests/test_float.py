"""convt's float32 transposed convolution against the independent float64 reference."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_matches_reference, make_data
from hypothesis import assume, given
from hypothesis import strategies as st
from reference import conv_ref, conv_transpose_ref, out_size

import convt
from convt import _engine

FN = {1: convt.conv_transpose1d, 2: convt.conv_transpose2d, 3: convt.conv_transpose3d}

# (stride, padding, output_padding, dilation, kernel): kernel < stride, == stride, > stride,
# kernel sizes 1..5, output_padding up to max(stride, dilation) - 1 (also >= stride when the
# dilation is larger), stride 1, dilation > stride, padding > kernel extent / 2.
GEOMETRIES = [
    (1, 0, 0, 1, 3),
    (1, 2, 0, 2, 3),
    (1, 1, 1, 2, 2),   # output_padding allowed by the dilation alone
    (2, 0, 0, 1, 2),
    (2, 1, 1, 1, 4),
    (2, 1, 0, 1, 3),
    (2, 0, 1, 1, 1),
    (3, 1, 2, 1, 2),
    (3, 0, 1, 1, 1),
    (2, 2, 2, 3, 3),
    (4, 3, 3, 2, 5),
]
# (C_in, C_out, groups): dense, grouped, C_out/groups != C_in/groups (both ways), depthwise,
# depthwise multiplier 2, and 3 output channels per group (GEMM path with a partial tile).
CHANNELS = [(3, 5, 1), (4, 6, 2), (6, 3, 3), (2, 8, 2), (4, 4, 4), (4, 8, 4), (5, 10, 5),
            (3, 9, 3)]
# How the input is laid out / whether there is a bias.
VARIANTS = ["batched", "unbatched-nobias", "channel-major-view", "strided-view-nobias"]


def _layout(rng, variant, nd, cin):
    """An input array for ``variant`` (and whether a bias is used)."""
    if variant == "batched":
        return rng.standard_normal((2, cin) + {1: (7,), 2: (5, 6), 3: (3, 4, 5)}[nd]
                                   ).astype(np.float32), True
    if variant == "unbatched-nobias":
        return rng.standard_normal((cin,) + {1: (9,), 2: (6, 5), 3: (4, 3, 5)}[nd]
                                   ).astype(np.float32), False
    if variant == "channel-major-view":  # (N, C, ...) view of (C, N, ...) memory
        sp = {1: (11,), 2: (4, 7), 3: (3, 3, 4)}[nd]
        x = np.swapaxes(rng.standard_normal((cin, 3) + sp).astype(np.float32), 0, 1)
        assert not x.flags.c_contiguous
        return x, True
    # every other element of the last axis, batch reversed: negative and non-unit strides
    sp = {1: (13,), 2: (3, 5), 3: (2, 5, 3)}[nd]
    big = rng.standard_normal((3, cin) + sp[:-1] + (2 * sp[-1],)).astype(np.float32)
    x = big[::-1, ..., ::2]
    assert not x.flags.c_contiguous and x.shape[2:] == sp
    return x, False


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_matches_reference(rng, nd, geom, channels, variant):
    s, p, op, d, k = geom
    cin, cout, g = channels
    x, with_bias = _layout(rng, variant, nd, cin)
    w = rng.standard_normal((cin, cout // g) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if with_bias else None
    params = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    y = FN[nd](x, w, b, **params)
    assert y.ndim == x.ndim
    assert_matches_reference(y, x, w, b, **params)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_unbatched_equals_batched(rng, nd, groups):
    x, w, b = make_data(rng, nd, 4, 6, groups, 3, batch=3)
    params = dict(stride=2, padding=1, output_padding=1, groups=groups)
    yb = FN[nd](x, w, b, **params)
    for n in range(3):
        yu = FN[nd](x[n], w, b, **params)
        assert yu.shape == yb.shape[1:]
        np.testing.assert_array_equal(yu, yb[n])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_tuple_parameters(rng, nd):
    """Per-dimension parameters differ: each dimension must use its own."""
    s, p, op, d, k = (3, 2, 1)[:nd], (1, 0, 2)[:nd], (2, 0, 1)[:nd], (1, 2, 3)[:nd], (2, 3, 4)[:nd]
    sp = (5, 6, 4)[:nd]
    x, w, b = make_data(rng, nd, 3, 4, 1, k, spatial=sp)
    params = dict(stride=s, padding=p, output_padding=op, dilation=d)
    y = FN[nd](x, w, b, **params)
    assert y.shape == (2, 4) + tuple(out_size(*a) for a in zip(sp, k, s, p, d, op))
    assert_matches_reference(y, x, w, b, **params)
    # lists, numpy integers and 1-d integer arrays are the same parameters
    y2 = FN[nd](x, w, b, stride=list(s), padding=np.array(p), output_padding=tuple(op),
                dilation=[np.int64(v) for v in d])
    np.testing.assert_array_equal(y2, y)


def test_scalar_parameters_broadcast(rng):
    x, w, b = make_data(rng, 3, 2, 3, 1, 3)
    np.testing.assert_array_equal(
        convt.conv_transpose3d(x, w, b, 2, 1, 1, 1, 2),
        convt.conv_transpose3d(x, w, b, (2,) * 3, (1,) * 3, (1,) * 3, 1, (2,) * 3))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_non_contiguous_weight_and_bias(rng, nd):
    x, w, b = make_data(rng, nd, 4, 6, 1, 3)
    ref = FN[nd](x, w, b, stride=2)
    wf = np.asfortranarray(w)
    wr = np.ascontiguousarray(w[..., ::-1])[..., ::-1]  # negative strides, same values
    bb = np.repeat(b, 2)[::2]
    assert not wf.flags.c_contiguous and not bb.flags.c_contiguous
    for ww, bias in ((wf, b), (wr, b), (w, bb)):
        np.testing.assert_array_equal(FN[nd](x, ww, bias, stride=2), ref)
    xb = np.broadcast_to(x[:1], x.shape)  # zero batch stride
    assert_matches_reference(FN[nd](xb, w, b, stride=2), np.array(xb), w, b, stride=2)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_inputs_are_not_modified(rng, nd):
    x, w, b = make_data(rng, nd, 6, 6, 3, 3)
    copies = [a.copy() for a in (x, w, b)]
    FN[nd](x, w, b, stride=2, padding=1, groups=3)
    FN[nd](x, w, b, stride=3, groups=3, num_threads=2)
    for a, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(a, c)


# Big enough for several register tiles (6 channels x 16 positions), K blocks (256 = taps per
# phase * C_in/groups), channel blocks (132), column blocks and shrunken panels (huge K).
@pytest.mark.parametrize("nd,shape,cin,cout,groups,k,s,p", [
    (1, (1, 300, 37), 300, 70, 1, 2, 2, 0),       # K = 300: two K blocks, kernel == stride
    (2, (1, 300, 5, 6), 300, 20, 1, 2, 2, 0),     # same in 2-d
    (3, (1, 300, 3, 3, 4), 300, 13, 1, 2, 2, 0),  # and 3-d
    (2, (1, 40, 6, 7), 40, 70, 1, 3, 1, 1),       # K = 360 (9 taps * 40), 12 register rows
    (3, (2, 40, 3, 4, 3), 40, 70, 1, 3, 2, 1),
    (1, (3, 40, 131), 40, 70, 1, 16, 8, 4),       # many register tiles, odd length, 8 phases
    (2, (2, 32, 19, 23), 32, 20, 1, 4, 2, 1),     # several column blocks, odd sizes, borders
    (2, (3, 16, 33, 17), 16, 12, 1, 3, 2, 1),     # batch 3, sizes not multiples of 16
    (3, (1, 24, 9, 10, 11), 24, 13, 1, 3, 2, 1),
    (2, (1, 8, 70, 3), 8, 7, 1, 3, 1, 1),         # slivers spanning several rows
    (2, (1, 300, 9, 11), 300, 200, 1, 2, 2, 0),   # C_out > 132: several channel blocks
    (2, (2, 64, 7, 9), 64, 300, 2, 3, 2, 1),      # grouped, 150 channels per group
    (1, (1, 300, 50), 300, 8, 1, 64, 1, 0),       # K = 19200: narrow column panels
    (1, (2, 4, 3000), 4, 140, 1, 3, 1, 1),        # long rows: many column blocks
    (2, (2, 64, 20, 20), 64, 64, 64, 5, 3, 2),    # depthwise, direct path, big enough to split
])
def test_larger_blocks(rng, nd, shape, cin, cout, groups, k, s, p):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((cin, cout // groups) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = FN[nd](x, w, b, stride=s, padding=p, groups=groups)
    assert_matches_reference(y, x, w, b, stride=s, padding=p, groups=groups)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_other_float_dtypes_are_converted(rng, dtype):
    x, w, b = make_data(rng, 2, 3, 4, 1, 3)
    xd, wd, bd = x.astype(dtype), w.astype(dtype), b.astype(dtype)
    y = convt.conv_transpose2d(xd, wd, bd, stride=2)
    assert y.dtype == np.float32
    # the same as converting to float32 first
    ref = convt.conv_transpose2d(xd.astype(np.float32), wd.astype(np.float32),
                                 bd.astype(np.float32), stride=2)
    np.testing.assert_array_equal(y, ref)
    assert_matches_reference(y, xd.astype(np.float32), wd.astype(np.float32),
                             bd.astype(np.float32), stride=2)


def test_mixed_float_dtypes(rng):
    x, w, b = make_data(rng, 1, 3, 4, 1, 3)
    y = convt.conv_transpose1d(x.astype(np.float64), w, b.astype(np.float16), stride=2)
    assert y.dtype == np.float32
    assert_matches_reference(y, x, w, b.astype(np.float16).astype(np.float32), stride=2)


def test_array_likes(rng):
    x, w, b = make_data(rng, 1, 2, 2, 1, 2, batch=1, spatial=(3,))
    y = convt.conv_transpose1d(x.tolist(), w.tolist(), b.tolist())
    np.testing.assert_array_equal(y, convt.conv_transpose1d(x, w, b))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("cout", [4, 12])  # direct path (2 per group) and GEMM path
def test_megengine_grouped_layout(rng, nd, cout):
    x, w, b = make_data(rng, nd, 6, cout, 2, 3)
    wg = w.reshape((2, 3) + w.shape[1:])  # (groups, C_in/g, C_out/g, *k)
    b4 = b.reshape((1, cout) + (1,) * nd)
    ref = FN[nd](x, w, b, stride=2, groups=2)
    np.testing.assert_array_equal(FN[nd](x, wg, b4, stride=2, groups=2), ref)
    np.testing.assert_array_equal(FN[nd](x, w, b4, stride=2, groups=2), ref)
    assert_matches_reference(ref, x, w, b, stride=2, groups=2)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("cout,groups,k,s", [(6, 2, 3, 2), (4, 4, 3, 2), (5, 1, 1, 3),
                                             (8, 4, 2, 4)])
def test_out_argument(rng, nd, cout, groups, k, s):
    """``out=`` is returned, fully overwritten (NaN prefill), equal to the allocated result;
    GEMM and direct paths, kernel < stride (positions with only the bias)."""
    x, w, b = make_data(rng, nd, 4, cout, groups, k)
    params = dict(stride=s, padding=1 if k > 1 else 0, output_padding=s - 1, groups=groups)
    ref = FN[nd](x, w, b, **params)
    out = np.full(ref.shape, np.nan, dtype=np.float32)
    res = FN[nd](x, w, b, out=out, **params)
    assert res is out
    np.testing.assert_array_equal(out, ref)
    assert_matches_reference(out, x, w, b, **params)
    out1 = np.full(ref.shape[1:], np.nan, np.float32)  # unbatched input into an unbatched out
    assert FN[nd](x[1], w, None, out=out1, **params) is out1
    assert_matches_reference(out1, x[1], w, None, **params)


def test_out_reused_across_calls(rng):
    x, w, b = make_data(rng, 2, 4, 6, 1, 3)
    out = np.empty((2, 6, 11, 13), np.float32)
    convt.conv_transpose2d(x, w, b, stride=2, out=out)
    convt.conv_transpose2d(x * 2, w, None, stride=2, out=out)  # no accumulation into out
    assert_matches_reference(out, x * 2, w, None, stride=2)


def test_empty_batch(rng):
    x, w, b = make_data(rng, 2, 4, 6, 1, 3, batch=0)
    y = convt.conv_transpose2d(x, w, b, stride=2)
    assert y.shape == (0, 6, 11, 13) and y.dtype == np.float32


@pytest.mark.parametrize("cout,groups", [(4, 1), (3, 3)])
def test_bias_only_positions(rng, cout, groups):
    """kernel 1 < stride: positions no tap reaches hold exactly the bias (or 0)."""
    x, w, b = make_data(rng, 2, 3, cout, groups, 1)
    y = convt.conv_transpose2d(x, w, b, stride=3, output_padding=2, groups=groups)
    gap = y[:, :, 1::3, :]
    np.testing.assert_array_equal(gap, np.broadcast_to(b[None, :, None, None], gap.shape))
    assert_matches_reference(y, x, w, b, stride=3, output_padding=2, groups=groups)
    y0 = convt.conv_transpose2d(x, w, None, stride=3, output_padding=2, groups=groups)
    assert np.all(y0[:, :, 1::3, :] == 0) and np.all(y0[:, :, :, 2::3] == 0)


def test_outputs_reached_by_no_input(rng):
    """Padding crops away every position some phase would produce."""
    x, w, b = make_data(rng, 1, 2, 3, 1, 2, spatial=(1,))
    # uncropped length 2*(1-1) + 2 + 1 = 3 (op 1), padding 1: the single middle position
    y = convt.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1)
    assert y.shape == (2, 3, 1)
    assert_matches_reference(y, x, w, b, stride=2, padding=1, output_padding=1)


def test_size_one_everything(rng):
    x, w, b = make_data(rng, 3, 1, 1, 1, 1, batch=1, spatial=(1, 1, 1))
    y = convt.conv_transpose3d(x, w, b)
    assert y.shape == (1, 1, 1, 1, 1)
    np.testing.assert_allclose(y.ravel(), x.ravel() * w.ravel() + b, rtol=1e-6)


def _threads_case(rng, nd, cin, cout, groups, k, batch, spatial, **params):
    x, w, b = make_data(rng, nd, cin, cout, groups, k, batch=batch, spatial=spatial)
    macs = x.size * cout // groups * k**nd
    assert macs >= 1_000_000  # big enough to be split between threads
    ys = [FN[nd](x, w, b, groups=groups, num_threads=t, **params) for t in (1, 2, 3, 64)]
    for y in ys[1:]:
        assert np.array_equal(ys[0], y)  # bitwise, not merely close
    assert_matches_reference(ys[0], x, w, b, groups=groups, **params)


def test_threads_bitwise_identical_gemm(rng):
    _threads_case(rng, 2, 64, 48, 1, 4, 3, (20, 21), stride=2, padding=1)


def test_threads_bitwise_identical_direct(rng):
    _threads_case(rng, 2, 32, 32, 32, 3, 2, (48, 49), stride=2)


def test_threads_bitwise_identical_3d_grouped(rng):
    _threads_case(rng, 3, 16, 24, 2, 3, 2, (8, 9, 7), stride=(1, 2, 2), padding=1)


def test_threads_bitwise_identical_few_phases(rng):
    """A single large 1-d phase with K blocks: the split is over columns and channels."""
    _threads_case(rng, 1, 300, 40, 1, 1, 1, (400,))


# ------------------------------------------------------------------ property tests
@st.composite
def configs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cig = draw(st.integers(1, 4))
    cog = draw(st.integers(1, 8))
    k = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d))
    spatial = tuple(draw(st.integers(1, 5 if nd == 3 else 9)) for _ in range(nd))
    p = []
    for a in range(nd):
        full = out_size(spatial[a], k[a], s[a], 0, d[a], op[a])
        p.append(draw(st.integers(0, (full - 1) // 2)))  # keeps every output size >= 1
    batch = draw(st.sampled_from([None, 1, 2, 3]))
    return dict(nd=nd, groups=groups, cin=cig * groups, cout=cog * groups, kernel=k, stride=s,
                padding=tuple(p), output_padding=op, dilation=d, spatial=spatial, batch=batch,
                bias=draw(st.booleans()), reversed=draw(st.booleans()),
                threads=draw(st.sampled_from([None, 1, 2])),
                seed=draw(st.integers(0, 2**32 - 1)))


@given(configs())
def test_property_random_configs(cfg):
    rng = np.random.default_rng(cfg["seed"])
    nd = cfg["nd"]
    shape = ((cfg["batch"],) if cfg["batch"] else ()) + (cfg["cin"],) + cfg["spatial"]
    x = rng.standard_normal(shape).astype(np.float32)
    if cfg["reversed"]:
        x = x[..., ::-1]  # a non-contiguous view
    w = rng.standard_normal((cfg["cin"], cfg["cout"] // cfg["groups"]) + cfg["kernel"]
                            ).astype(np.float32)
    b = rng.standard_normal(cfg["cout"]).astype(np.float32) if cfg["bias"] else None
    params = dict(stride=cfg["stride"], padding=cfg["padding"],
                  output_padding=cfg["output_padding"], groups=cfg["groups"],
                  dilation=cfg["dilation"])
    y = FN[nd](x, w, b, num_threads=cfg["threads"], **params)
    assert y.ndim == x.ndim
    assert_matches_reference(y, x, w, b, **params)


@given(configs())
def test_property_adjoint(cfg):
    """<conv_transpose(x), y> == <x, conv(y)> (no bias, no output_padding)."""
    rng = np.random.default_rng(cfg["seed"])
    nd = cfg["nd"]
    params = dict(stride=cfg["stride"], padding=cfg["padding"], groups=cfg["groups"],
                  dilation=cfg["dilation"])
    assume(all(out_size(i, k, s, p, d, 0) > 0 for i, k, s, p, d in zip(
        cfg["spatial"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"])))
    batch = cfg["batch"] or 1
    x = rng.standard_normal((batch, cfg["cin"]) + cfg["spatial"]).astype(np.float32)
    w = rng.standard_normal((cfg["cin"], cfg["cout"] // cfg["groups"]) + cfg["kernel"]
                            ).astype(np.float32)
    t = FN[nd](x, w, **params).astype(np.float64)
    y = rng.standard_normal(t.shape)
    lhs = float(np.sum(t * y))
    rhs = float(np.sum(x.astype(np.float64) * conv_ref(y, w, in_spatial=cfg["spatial"],
                                                       **params)))
    scale = float(np.sum(np.abs(t) * np.abs(y))) + 1e-12
    assert abs(lhs - rhs) <= 1e-5 * scale


# ------------------------------------------------------------------ ISA variants
_ISA_SCRIPT = r"""
import sys, numpy as np, convt
rng = np.random.default_rng(7)
cases = [
    ((2, 40, 13, 17), (40, 30, 4, 3), dict(stride=2, padding=1, output_padding=1)),  # GEMM
    ((1, 8, 9, 10), (8, 1, 3, 3), dict(stride=2, groups=8)),                         # direct
    ((1, 8, 9, 10), (8, 2, 3, 3), dict(stride=(1, 3), groups=4, dilation=2)),        # direct
    ((2, 300, 21), (300, 7, 2), dict(stride=2)),                                     # K blocks
    ((1, 6, 4, 5, 6), (6, 9, 3, 2, 3), dict(stride=(2, 1, 3), padding=1, groups=3)),
]
arrays = {}
for i, (xs, ws, kw) in enumerate(cases):
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1)).astype(np.float32)
    fn = getattr(convt, "conv_transpose%dd" % (len(xs) - 2))
    arrays["x%d" % i], arrays["w%d" % i], arrays["b%d" % i] = x, w, b
    arrays["y%d" % i] = fn(x, w, b, **kw)
np.savez(sys.argv[1], **arrays)
print(convt.isa()[0])
"""
TIER_NAMES = [t["name"] for t in _engine.tiers()]
_ISA_PARAMS = [dict(stride=2, padding=1, output_padding=1), dict(stride=2, groups=8),
               dict(stride=(1, 3), groups=4, dilation=2), dict(stride=2),
               dict(stride=(2, 1, 3), padding=1, groups=3)]


def _run_isa(tmp_path, isa):
    env = dict(os.environ, CONVT_ISA=isa)
    path = tmp_path / f"{isa}.npz"
    res = subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(path)], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip(), dict(np.load(path))


def test_portable_isa_matches_default(tmp_path):
    name, port = _run_isa(tmp_path, "portable")
    assert name == "portable"
    default_name, auto = _run_isa(tmp_path, "auto")
    assert default_name in TIER_NAMES
    if os.environ.get("CONVT_ISA", "auto").strip().lower() in ("", "auto"):
        assert default_name == convt.isa()[0]
    for i, params in enumerate(_ISA_PARAMS):
        x, w, b = port[f"x{i}"], port[f"w{i}"], port[f"b{i}"]
        np.testing.assert_array_equal(x, auto[f"x{i}"])  # same data in both processes
        assert_matches_reference(port[f"y{i}"], x, w, b, **params)
        assert_matches_reference(auto[f"y{i}"], x, w, b, **params)
        np.testing.assert_allclose(port[f"y{i}"], auto[f"y{i}"], rtol=1e-5, atol=1e-4)


def test_isa_report():
    name, why = convt.isa()
    assert name in TIER_NAMES
    assert isinstance(why, str) and why
    if os.environ.get("CONVT_ISA", "").strip().lower() == "portable":
        assert name == "portable"


def test_unknown_isa_warns():
    env = dict(os.environ, CONVT_ISA="sse9")
    res = subprocess.run([sys.executable, "-W", "always", "-c",
                          "import convt; print(convt.isa()[0])"],
                         env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert "CONVT_ISA" in res.stderr and res.stdout.strip() in TIER_NAMES


def test_max_threads_and_openmp_flags():
    assert isinstance(convt.openmp_enabled(), bool)
    n = convt.max_threads()
    assert isinstance(n, int) and n >= 1
    if not convt.openmp_enabled():
        assert n == 1


@pytest.mark.parametrize("groups", [1, 2])  # GEMM and direct paths
def test_huge_stride_and_dilation_are_fast_and_exact(rng, groups):
    """Phases exist only for residues some tap reaches: a stride of 10**6 plans <= k phases."""
    x = rng.standard_normal((1, 2, 3)).astype(np.float32)
    w = rng.standard_normal((2, 6 // groups, 2)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    s, d = 10**6, 7
    y = convt.conv_transpose1d(x, w, b, stride=s, dilation=d, groups=groups)
    assert y.shape == (1, 6, 2 * s + d + 1)
    expect = np.broadcast_to(b[None, :, None], y.shape).astype(np.float64).copy()
    cig, cog = 2 // groups, w.shape[1]
    for g in range(groups):
        for co in range(cog):
            for ci in range(cig):
                for i in range(3):
                    for k in range(2):
                        expect[0, g * cog + co, i * s + k * d] += (
                            x[0, g * cig + ci, i] * w[g * cig + ci, co, k])
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)


def test_reference_cross_check_of_large_stride(rng):
    """The float64 reference agrees with convt where stride > kernel * dilation."""
    x, w, b = make_data(rng, 2, 3, 6, 1, (2, 3), spatial=(4, 3))
    params = dict(stride=(9, 11), padding=(2, 3), dilation=(3, 2), output_padding=(8, 10))
    y = convt.conv_transpose2d(x, w, b, **params)
    assert y.shape == (2, 6, 3 * 9 - 4 + 3 + 8 + 1, 2 * 11 - 6 + 4 + 10 + 1)
    assert_matches_reference(y, x, w, b, **params)
    np.testing.assert_allclose(y, conv_transpose_ref(x, w, b, **params), rtol=1e-5, atol=1e-5)
