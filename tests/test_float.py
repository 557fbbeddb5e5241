"""convt's float32 transposed convolution against the float64 reference."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_matches_reference
from hypothesis import assume, given
from hypothesis import strategies as st
from reference import conv_ref, out_size

import convt

FN = {1: convt.conv_transpose1d, 2: convt.conv_transpose2d, 3: convt.conv_transpose3d}
SPATIAL = {1: (7,), 2: (5, 6), 3: (3, 4, 5)}

# (stride, padding, output_padding, dilation, kernel): kernel < stride, == stride, > stride,
# output_padding reaching max(stride, dilation) - 1, stride 1, dilation > stride.
GEOMETRIES = [
    (1, 0, 0, 1, 3),
    (1, 2, 0, 2, 3),
    (2, 0, 0, 1, 2),
    (2, 1, 1, 1, 4),
    (2, 1, 0, 1, 3),
    (3, 1, 2, 1, 2),
    (3, 0, 1, 1, 1),
    (2, 2, 2, 3, 3),
    (4, 3, 3, 2, 5),
]
# (C_in, C_out, groups): dense, grouped, C_out/groups != C_in/groups, depthwise, 2 per group.
CHANNELS = [(3, 5, 1), (4, 6, 2), (6, 3, 3), (4, 4, 4), (4, 8, 4), (5, 10, 5)]


def _case(rng, nd, cin, cout, groups, kernel, batch=2, spatial=None, bias=True):
    spatial = spatial or SPATIAL[nd]
    x = rng.standard_normal((batch, cin) + spatial).astype(np.float32)
    w = rng.standard_normal((cin, cout // groups) + (kernel,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, w, b


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_matches_reference(rng, nd, geom, channels):
    s, p, op, d, k = geom
    cin, cout, g = channels
    x, w, b = _case(rng, nd, cin, cout, g, k)
    params = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    y = FN[nd](x, w, b, **params)
    assert_matches_reference(y, x, w, b, **params)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unbatched_and_no_bias(rng, nd):
    x, w, _ = _case(rng, nd, 4, 6, 2, 3, batch=1, bias=False)
    params = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    y = FN[nd](x[0], w, **params)
    assert y.ndim == nd + 1
    assert_matches_reference(y, x[0], w, None, **params)
    np.testing.assert_array_equal(y, FN[nd](x, w, **params)[0])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_tuple_parameters(rng, nd):
    """Per-dimension parameters differ: each dimension must use its own."""
    s, p, op, d, k = (3, 2, 1)[:nd], (1, 0, 2)[:nd], (2, 0, 1)[:nd], (1, 2, 3)[:nd], (2, 3, 4)[:nd]
    x = rng.standard_normal((2, 3) + SPATIAL[nd]).astype(np.float32)
    w = rng.standard_normal((3, 4) + k).astype(np.float32)
    params = dict(stride=s, padding=p, output_padding=op, dilation=d)
    y = FN[nd](x, w, **params)
    assert y.shape[2:] == tuple(out_size(*a) for a in zip(SPATIAL[nd], k, s, p, d, op))
    assert_matches_reference(y, x, w, None, **params)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_non_contiguous_input(rng, nd):
    x, w, b = _case(rng, nd, 4, 6, 1, 3)
    xs = np.swapaxes(np.ascontiguousarray(np.swapaxes(x, 0, 1)), 0, 1)  # channel-major memory
    xv = np.repeat(x, 2, axis=-1)[..., ::2]  # strided view
    assert not xs.flags.c_contiguous and not xv.flags.c_contiguous
    ref = FN[nd](x, w, b, stride=2)
    np.testing.assert_array_equal(FN[nd](xs, w, b, stride=2), ref)
    np.testing.assert_array_equal(FN[nd](xv, w, b, stride=2), ref)
    wv = np.asfortranarray(w)
    np.testing.assert_array_equal(FN[nd](x, wv, b, stride=2), ref)


@pytest.mark.parametrize("nd,shape,cin,cout,k,s,p", [
    (1, (1, 300, 37), 300, 70, 2, 2, 0),      # K = 300 > 256: several K blocks
    (1, (3, 40, 131), 40, 70, 16, 8, 4),      # many register tiles, odd length, 8 W phases
    (2, (2, 32, 19, 23), 32, 20, 4, 2, 1),    # several column blocks, odd sizes, borders
    (3, (1, 24, 9, 10, 11), 24, 13, 3, 2, 1),
    (2, (1, 8, 70, 3), 8, 7, 3, 1, 1),        # slivers spanning several rows
])
def test_larger_blocks(rng, nd, shape, cin, cout, k, s, p):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((cin, cout) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = FN[nd](x, w, b, stride=s, padding=p)
    assert_matches_reference(y, x, w, b, stride=s, padding=p)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_other_float_dtypes_are_converted(rng, dtype):
    x, w, b = _case(rng, 2, 3, 4, 1, 3)
    y = convt.conv_transpose2d(x.astype(dtype), w.astype(dtype), b.astype(dtype), stride=2)
    assert y.dtype == np.float32
    ref = convt.conv_transpose2d(x.astype(dtype).astype(np.float32),
                                 w.astype(dtype).astype(np.float32),
                                 b.astype(dtype).astype(np.float32), stride=2)
    np.testing.assert_array_equal(y, ref)


def test_array_likes(rng):
    x, w, b = _case(rng, 1, 2, 2, 1, 2, batch=1, spatial=(3,))
    y = convt.conv_transpose1d(x.tolist(), w.tolist(), b.tolist())
    np.testing.assert_array_equal(y, convt.conv_transpose1d(x, w, b))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_megengine_grouped_layout(rng, nd):
    x, w, b = _case(rng, nd, 6, 4, 2, 3)
    wg = w.reshape((2, 3) + w.shape[1:])  # (groups, C_in/g, C_out/g, *k)
    b4 = b.reshape((1, 4) + (1,) * nd)
    ref = FN[nd](x, w, b, stride=2, groups=2)
    np.testing.assert_array_equal(FN[nd](x, wg, b4, stride=2, groups=2), ref)


def test_out_argument(rng):
    x, w, b = _case(rng, 2, 4, 6, 2, 3)
    ref = convt.conv_transpose2d(x, w, b, stride=2, groups=2)
    out = np.full(ref.shape, np.nan, dtype=np.float32)
    res = convt.conv_transpose2d(x, w, b, stride=2, groups=2, out=out)
    assert res is out
    np.testing.assert_array_equal(out, ref)
    # unbatched into a 3-d out
    out1 = np.empty(ref.shape[1:], np.float32)
    assert convt.conv_transpose2d(x[0], w, b, stride=2, groups=2, out=out1) is out1
    np.testing.assert_array_equal(out1, ref[0])


def test_empty_batch(rng):
    x, w, b = _case(rng, 2, 4, 6, 1, 3, batch=0)
    y = convt.conv_transpose2d(x, w, b, stride=2)
    assert y.shape == (0, 6, 11, 13)


def test_bias_only_positions(rng):
    """kernel 1 < stride: positions no tap reaches hold exactly the bias."""
    x, w, b = _case(rng, 2, 3, 4, 1, 1)
    y = convt.conv_transpose2d(x, w, b, stride=3, output_padding=2)
    np.testing.assert_array_equal(y[:, :, 1::3, :], np.broadcast_to(b[None, :, None, None],
                                                                    y[:, :, 1::3, :].shape))
    assert_matches_reference(y, x, w, b, stride=3, output_padding=2)


def test_threads_bitwise_identical(rng):
    x, w, b = _case(rng, 2, 64, 48, 1, 4, batch=3, spatial=(20, 21))
    y1 = convt.conv_transpose2d(x, w, b, stride=2, padding=1, num_threads=1)
    y2 = convt.conv_transpose2d(x, w, b, stride=2, padding=1, num_threads=2)
    y3 = convt.conv_transpose2d(x, w, b, stride=2, padding=1, num_threads=3)
    assert np.array_equal(y1, y2) and np.array_equal(y1, y3)
    xd, wd, bd = _case(rng, 2, 32, 32, 32, 3, batch=2, spatial=(40, 41))  # direct path
    d1 = convt.conv_transpose2d(xd, wd, bd, stride=2, groups=32, num_threads=1)
    d2 = convt.conv_transpose2d(xd, wd, bd, stride=2, groups=32, num_threads=2)
    assert np.array_equal(d1, d2)


# ------------------------------------------------------------------ property tests
@st.composite
def configs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cig = draw(st.integers(1, 4))
    cog = draw(st.integers(1, 4))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d))
    spatial = tuple(draw(st.integers(1, 5 if nd == 3 else 8)) for _ in range(nd))
    p = []
    for a in range(nd):
        full = out_size(spatial[a], k[a], s[a], 0, d[a], op[a])
        p.append(draw(st.integers(0, (full - 1) // 2)))
    batch = draw(st.sampled_from([None, 1, 2]))
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(nd=nd, groups=groups, cin=cig * groups, cout=cog * groups, kernel=k, stride=s,
                padding=tuple(p), output_padding=op, dilation=d, spatial=spatial, batch=batch,
                seed=seed)


@given(configs())
def test_property_random_configs(cfg):
    rng = np.random.default_rng(cfg["seed"])
    nd = cfg["nd"]
    shape = ((cfg["batch"],) if cfg["batch"] else ()) + (cfg["cin"],) + cfg["spatial"]
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((cfg["cin"], cfg["cout"] // cfg["groups"]) + cfg["kernel"]
                            ).astype(np.float32)
    b = rng.standard_normal(cfg["cout"]).astype(np.float32)
    params = dict(stride=cfg["stride"], padding=cfg["padding"],
                  output_padding=cfg["output_padding"], groups=cfg["groups"],
                  dilation=cfg["dilation"])
    y = FN[nd](x, w, b, **params)
    assert_matches_reference(y, x, w, b, **params)


@given(configs())
def test_property_adjoint(cfg):
    """<conv_transpose(x), y> == <x, conv(y)> (no bias, no output_padding)."""
    rng = np.random.default_rng(cfg["seed"])
    nd = cfg["nd"]
    x = rng.standard_normal((1, cfg["cin"]) + cfg["spatial"]).astype(np.float32)
    w = rng.standard_normal((cfg["cin"], cfg["cout"] // cfg["groups"]) + cfg["kernel"]
                            ).astype(np.float32)
    params = dict(stride=cfg["stride"], padding=cfg["padding"], groups=cfg["groups"],
                  dilation=cfg["dilation"])
    assume(all(out_size(i, k, s, p, d, 0) > 0 for i, k, s, p, d in zip(
        cfg["spatial"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"])))
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
x = rng.standard_normal((2, 40, 13, 17)).astype(np.float32)
w = rng.standard_normal((40, 30, 4, 3)).astype(np.float32)
b = rng.standard_normal(30).astype(np.float32)
xd = rng.standard_normal((1, 8, 9, 10)).astype(np.float32)
wd = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
y = convt.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
yd = convt.conv_transpose2d(xd, wd, None, stride=2, groups=8)
np.save(sys.argv[1], y); np.save(sys.argv[2], yd)
print(convt.isa()[0])
"""


def _run_isa(tmp_path, isa):
    env = dict(os.environ, CONVT_ISA=isa)
    a, b = tmp_path / f"{isa}.npy", tmp_path / f"{isa}_d.npy"
    res = subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(a), str(b)], env=env,
                         capture_output=True, text=True, check=True)
    return res.stdout.strip(), np.load(a), np.load(b)


def test_portable_isa_matches_default(tmp_path):
    name, y, yd = _run_isa(tmp_path, "portable")
    assert name == "portable"
    default_name, y0, yd0 = _run_isa(tmp_path, "auto")
    assert default_name == convt.isa()[0] if os.environ.get("CONVT_ISA", "auto") == "auto" \
        else default_name in ("avx2", "neon", "portable")
    np.testing.assert_allclose(y, y0, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(yd, yd0, rtol=1e-5, atol=1e-5)


def test_isa_report():
    name, why = convt.isa()
    assert name in ("avx2", "neon", "portable") and why
    if os.environ.get("CONVT_ISA") == "portable":
        assert name == "portable"


def test_unknown_isa_warns(tmp_path):
    env = dict(os.environ, CONVT_ISA="sse9")
    res = subprocess.run([sys.executable, "-W", "always", "-c", "import convt; print(convt.isa()[0])"],
                         env=env, capture_output=True, text=True, check=True)
    assert "CONVT_ISA" in res.stderr and res.stdout.strip() in ("avx2", "neon", "portable")


@pytest.mark.parametrize("groups", [1, 2])  # GEMM and direct paths
def test_huge_stride_and_dilation_are_fast_and_exact(rng, groups):
    """Phases exist only for residues some tap reaches: a stride of 10**6 plans <= k phases."""
    x = rng.standard_normal((1, 2, 3)).astype(np.float32)
    w = rng.standard_normal((2, 2 // groups, 2)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    s, d = 10**6, 7
    y = convt.conv_transpose1d(x, w, b, stride=s, dilation=d, groups=groups)
    assert y.shape == (1, 2, 2 * s + d + 1)
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
