"""Quantized operator and layers against the int64 reference: bit for bit."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from reference import out_size
from reference_q import accumulate, requantize

import convt
from convt.quantized import functional as QF

QFN = {1: QF.conv_transpose1d, 2: QF.conv_transpose2d, 3: QF.conv_transpose3d}
QCLS = {1: convt.quantized.ConvTranspose1d, 2: convt.quantized.ConvTranspose2d,
        3: convt.quantized.ConvTranspose3d}
SPATIAL = {1: (7,), 2: (5, 6), 3: (3, 4, 4)}


def make(rng, nd, cin, cout, groups, kernel, per_channel, spatial=None, batch=2, zx=None,
         full_range=True, bias=True):
    spatial = spatial or SPATIAL[nd]
    hi = 256 if full_range else 128
    xq = rng.integers(0, hi, (batch, cin) + spatial).astype(np.uint8)
    zx = int(rng.integers(0, hi)) if zx is None else zx
    cog = cout // groups
    wq = rng.integers(-128, 128, (cin, cog) + (kernel,) * nd).astype(np.int8)
    if per_channel:
        sw = rng.uniform(0.002, 0.02, cog)
        zw = rng.integers(-30, 30, cog)
        w = convt.QTensor(wq, sw, zw, axis=1)
    else:
        sw, zw = np.full(cog, 0.01), np.full(cog, int(rng.integers(-30, 30)))
        w = convt.QTensor(wq, 0.01, int(zw[0]))
    b = rng.standard_normal(cout).astype(np.float32) * 3 if bias else None
    return convt.QTensor(xq, 0.04, zx), w, sw, zw, b


def expected(x, w, sw, zw, b, groups, mode, sy, zy, **geom):
    acc = accumulate(x.int_repr() if x.ndim == w.ndim else x.int_repr()[None],
                     x.q_zero_point(), w.int_repr(), zw, groups=groups, **geom)
    y = requantize(acc, mode, x.q_scale(), np.tile(sw, groups), b, sy, zy)
    return y if x.ndim == w.ndim else y[0]


GEOMETRIES = [  # stride, padding, output_padding, dilation, kernel
    (1, 0, 0, 1, 3), (2, 1, 1, 1, 4), (2, 0, 0, 1, 2), (3, 2, 2, 2, 3), (2, 1, 0, 1, 1),
    (1, 2, 0, 2, 3),
]
CHANNELS = [(3, 5, 1), (4, 6, 2), (4, 4, 4), (6, 3, 3), (8, 14, 1)]


@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("per_channel", [False, True])
def test_bit_exact_against_reference(rng, mode, nd, geom, channels, per_channel):
    s, p, op, d, k = geom
    cin, cout, g = channels
    x, w, sw, zw, b = make(rng, nd, cin, cout, g, k, per_channel)
    params = dict(stride=s, padding=p, output_padding=op, dilation=d)
    y = QFN[nd](x, w, b, groups=g, scale=0.3, zero_point=100, requant=mode, **params)
    assert isinstance(y, convt.QTensor) and y.dtype == np.uint8
    assert (y.q_scale(), y.q_zero_point()) == (0.3, 100)
    np.testing.assert_array_equal(y.int_repr(), expected(x, w, sw, zw, b, g, mode, 0.3, 100,
                                                         **params))


@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
def test_unbatched_no_bias_and_blocks(rng, mode):
    # unbatched, no bias; then channel/column/K blocks larger than every tile
    x, w, sw, zw, _ = make(rng, 2, 4, 6, 2, 3, True, batch=1, bias=False)
    y = QF.conv_transpose2d(x.__class__(x.int_repr()[0], 0.04, x.q_zero_point()), w, None,
                            stride=2, groups=2, scale=0.1, zero_point=7, requant=mode)
    np.testing.assert_array_equal(
        y.int_repr(), expected(x, w, sw, zw, None, 2, mode, 0.1, 7, stride=2)[0])
    x, w, sw, zw, b = make(rng, 1, 300, 20, 1, 2, False, spatial=(37,), batch=1)
    y = QF.conv_transpose1d(x, w, b, stride=2, scale=2.0, zero_point=128, requant=mode)
    np.testing.assert_array_equal(y.int_repr(), expected(x, w, sw, zw, b, 1, mode, 2.0, 128,
                                                         stride=2))


def test_large_accumulators_no_saturation(rng):
    """Full-range activations against extreme weights: every int16 pair path would saturate."""
    xq = np.full((1, 64, 5, 5), 255, np.uint8)
    wq = np.full((64, 4, 4, 4), -128, np.int8)
    x, w = convt.QTensor(xq, 0.01, 0), convt.QTensor(wq, 0.01, 0)
    acc = accumulate(xq, 0, wq, np.zeros(4), stride=2, padding=1, output_padding=0, groups=1,
                     dilation=1)
    assert acc.min() < -2**21  # far beyond int16
    for sy in (1.0, 300.0):
        y = QF.conv_transpose2d(x, w, None, stride=2, padding=1, scale=sy, zero_point=255)
        np.testing.assert_array_equal(y.int_repr(),
                                      requantize(acc, "fbgemm", 0.01, np.full(4, 0.01), None,
                                                 sy, 255))


def test_tap_less_positions_hold_requantized_bias(rng):
    x, w, sw, zw, b = make(rng, 2, 3, 4, 1, 1, False)
    y = QF.conv_transpose2d(x, w, b, stride=3, output_padding=2, scale=0.05, zero_point=128)
    np.testing.assert_array_equal(y.int_repr(), expected(x, w, sw, zw, b, 1, "fbgemm", 0.05,
                                                         128, stride=3, output_padding=2))


def test_threads_and_isa_bitwise(rng, tmp_path):
    x, w, sw, zw, b = make(rng, 2, 48, 40, 1, 4, True, spatial=(17, 19))
    y1 = QF.conv_transpose2d(x, w, b, stride=2, padding=1, scale=0.5, zero_point=3,
                             num_threads=1)
    y2 = QF.conv_transpose2d(x, w, b, stride=2, padding=1, scale=0.5, zero_point=3,
                             num_threads=2)
    assert np.array_equal(y1.int_repr(), y2.int_repr())
    np.save(tmp_path / "x.npy", x.int_repr())
    np.save(tmp_path / "w.npy", w.int_repr())
    script = (
        "import sys, numpy as np, convt\n"
        f"x = convt.QTensor(np.load(r'{tmp_path / 'x.npy'}'), 0.04, {x.q_zero_point()})\n"
        f"w = convt.QTensor(np.load(r'{tmp_path / 'w.npy'}'), {list(sw)!r}, {list(zw)!r}, axis=1)\n"
        f"b = np.array({b.tolist()!r}, np.float32)\n"
        "y = convt.quantized.functional.conv_transpose2d(x, w, b, stride=2, padding=1, "
        "scale=0.5, zero_point=3)\n"
        f"np.save(r'{tmp_path / 'y.npy'}', y.int_repr()); print(convt.isa()[0])\n")
    env = dict(os.environ, CONVT_ISA="portable")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "portable"
    assert np.array_equal(np.load(tmp_path / "y.npy"), y1.int_repr())


@st.composite
def qconfigs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cig, cog = draw(st.integers(1, 5)), draw(st.integers(1, 7))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d))
    spatial = tuple(draw(st.integers(1, 4 if nd == 3 else 7)) for _ in range(nd))
    p = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    return dict(nd=nd, groups=groups, cig=cig, cog=cog, k=k, s=s, d=d, op=op, p=p,
                spatial=spatial, per_channel=draw(st.booleans()),
                mode=draw(st.sampled_from(["fbgemm", "qnnpack"])),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)),
                batched=draw(st.booleans()))


@given(qconfigs())
def test_property_bit_exact(cfg):
    nd = cfg["nd"]
    assume(all(out_size(*a) > 0 for a in zip(cfg["spatial"], cfg["k"], cfg["s"], cfg["p"],
                                               cfg["d"], cfg["op"])))
    rng = np.random.default_rng(cfg["seed"])
    g = cfg["groups"]
    xq = rng.integers(0, 256, (2, cfg["cig"] * g) + cfg["spatial"]).astype(np.uint8)
    wq = rng.integers(-128, 128, (cfg["cig"] * g, cfg["cog"]) + cfg["k"]).astype(np.int8)
    sw = rng.uniform(0.001, 0.03, cfg["cog"])
    zw = rng.integers(-128, 128, cfg["cog"])
    w = (convt.QTensor(wq, sw, zw, axis=1) if cfg["per_channel"]
         else convt.QTensor(wq, float(sw[0]), int(zw[0])))
    if not cfg["per_channel"]:
        sw, zw = np.full(cfg["cog"], float(sw[0])), np.full(cfg["cog"], int(zw[0]))
    zx = int(rng.integers(0, 256))
    x = convt.QTensor(xq if cfg["batched"] else xq[0], float(rng.uniform(0.001, 0.1)), zx)
    b = rng.standard_normal(cfg["cog"] * g).astype(np.float32) if cfg["bias"] else None
    sy, zy = float(rng.uniform(0.01, 2.0)), int(rng.integers(0, 256))
    params = dict(stride=cfg["s"], padding=cfg["p"], output_padding=cfg["op"],
                  dilation=cfg["d"])
    y = QFN[nd](x, w, b, groups=g, scale=sy, zero_point=zy, requant=cfg["mode"], **params)
    np.testing.assert_array_equal(
        y.int_repr(), expected(x, w, sw, zw, b, g, cfg["mode"], sy, zy, **params))


# ------------------------------------------------------------------ QTensor and quantizers
def test_qtensor_api():
    q = convt.QTensor(np.array([[0, 128], [255, 1]], np.uint8), 0.5, 128)
    assert q.qscheme() == "per_tensor_affine" and q.shape == (2, 2) and q.dtype == np.uint8
    assert (q.q_scale(), q.q_zero_point()) == (0.5, 128)
    np.testing.assert_array_equal(q.dequantize(), [[-64.0, 0.0], [63.5, -63.5]])
    assert "scale=0.5" in repr(q)
    with pytest.raises(ValueError, match="per-channel"):
        q.q_per_channel_scales()
    qc = convt.QTensor(np.array([[1, -1], [2, 3]], np.int8), [0.1, 0.2], [0, 1], axis=1)
    assert qc.qscheme() == "per_channel_affine" and qc.q_per_channel_axis() == 1
    np.testing.assert_allclose(qc.dequantize(), [[0.1, -0.4], [0.2, 0.4]], rtol=1e-6)
    with pytest.raises(ValueError, match="per-tensor"):
        qc.q_scale()
    for obj in (q, qc):
        r = pickle.loads(pickle.dumps(obj))
        np.testing.assert_array_equal(r.int_repr(), obj.int_repr())
        assert r.qscheme() == obj.qscheme()


def test_quantize_rounding_and_clamping():
    x = np.array([0.05, 0.15, 0.25, -0.05, 100.0, -100.0, np.nan], np.float32)
    q = convt.quantize_per_tensor(x, 0.1, 10, np.uint8).int_repr()
    # ties to even after adding the zero point; clamped; NaN -> zero point
    assert q.tolist() == [10, 12, 12, 10, 255, 0, 10]
    qi = convt.quantize_per_tensor(x, 0.1, 0, np.int8).int_repr()
    assert qi[4] == 127 and qi[5] == -128


@pytest.mark.parametrize("kw,exc,match", [
    (dict(scale=0.0), ValueError, "scale"),
    (dict(scale=float("inf")), ValueError, "scale"),
    (dict(scale="1"), TypeError, "scale"),
    (dict(zero_point=256), ValueError, "zero_point"),
    (dict(zero_point=1.5), TypeError, "zero_point"),
    (dict(dtype=np.int16), TypeError, "dtype"),
])
def test_quantize_errors(kw, exc, match):
    args = dict(x=np.zeros(3, np.float32), scale=0.1, zero_point=0, dtype=np.uint8)
    args.update(kw)
    with pytest.raises(exc, match=match):
        convt.quantize_per_tensor(**args)


def test_qtensor_errors():
    with pytest.raises(TypeError, match="uint8 or numpy.int8"):
        convt.QTensor(np.zeros(3, np.int32), 0.1, 0)
    with pytest.raises(ValueError, match="zero_point"):
        convt.QTensor(np.zeros(3, np.int8), 0.1, 200)
    with pytest.raises(ValueError, match="scales must have shape"):
        convt.QTensor(np.zeros((2, 3), np.int8), [0.1, 0.1], [0, 0, 0], axis=1)
    with pytest.raises(ValueError, match="axis"):
        convt.QTensor(np.zeros((2, 3), np.int8), [0.1], [0], axis=2)
    with pytest.raises(ValueError, match="scales must be positive"):
        convt.QTensor(np.zeros((2, 3), np.int8), [0.1, -1, 2], [0, 0, 0], axis=1)


# ------------------------------------------------------------------ operator errors
def _qargs():
    x = convt.QTensor(np.zeros((1, 4, 5, 5), np.uint8), 0.1, 0)
    w = convt.QTensor(np.zeros((4, 3, 3, 3), np.int8), 0.1, 0)
    return x, w


@pytest.mark.parametrize("change,exc,match", [
    (lambda x, w: (x.int_repr().astype(np.float32), w, {}), TypeError, "input must be a convt.QTensor"),
    (lambda x, w: (convt.QTensor(x.int_repr().view(np.int8), 0.1, 0), w, {}), TypeError, "uint8"),
    (lambda x, w: (x, convt.QTensor(w.int_repr().view(np.uint8), 0.1, 0), {}), TypeError, "int8"),
    (lambda x, w: (x, w.int_repr(), {}), TypeError, "weight must be a convt.QTensor"),
    (lambda x, w: (x, convt.QTensor(w.int_repr(), [0.1] * 4, [0] * 4, axis=0), {}), ValueError, "axis 1"),
    (lambda x, w: (x, w, dict(scale=-1.0)), ValueError, "scale"),
    (lambda x, w: (x, w, dict(zero_point=300)), ValueError, "zero_point"),
    (lambda x, w: (x, w, dict(requant="onednn")), ValueError, "requant"),
    (lambda x, w: (x, w, dict(stride=0)), ValueError, "stride"),
    (lambda x, w: (x, w, dict(output_padding=1)), ValueError, "output_padding"),
    (lambda x, w: (x, w, dict(padding=-1)), ValueError, "padding"),
    (lambda x, w: (x, w, dict(groups=3)), ValueError, "groups"),
    (lambda x, w: (convt.QTensor(np.zeros((1, 3, 5, 5), np.uint8), 0.1, 0), w, {}), ValueError, "channels"),
    (lambda x, w: (x, w, dict(bias=np.zeros(4, np.float32))), ValueError, "bias"),
    (lambda x, w: (x, w, dict(out=np.zeros((1, 3, 7, 7), np.float32))), TypeError, "out has dtype"),
])
def test_operator_errors(change, exc, match):
    x, w = _qargs()
    x, w, kw = change(x, w)
    args = dict(scale=0.1, zero_point=0)
    args.update(kw)
    with pytest.raises(exc, match=match):
        QF.conv_transpose2d(x, w, **args)


# ------------------------------------------------------------------ layers
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_layer_matches_functional_and_options(rng, nd):
    m = QCLS[nd](4, 6, 3, stride=2, padding=1, groups=2, rng=0)
    x, w, sw, zw, b = make(rng, nd, 4, 6, 2, 3, True)
    m.set_weight_bias(w, b)
    m.scale, m.zero_point = 0.2, 50
    y = m(x)
    ref = QFN[nd](x, w, b, stride=2, padding=1, groups=2, scale=0.2, zero_point=50)
    np.testing.assert_array_equal(y.int_repr(), ref.int_repr())
    # scale changes take effect on the next call (torch's QNNPACK caches them)
    m.scale = 0.4
    assert not np.array_equal(m(x).int_repr(), y.int_repr())
    m.scale = 0.2
    # output_size and unbatched input
    size = tuple(s * 2 for s in SPATIAL[nd])
    yo = m(x, output_size=size)
    assert yo.shape == (2, 6) + size
    xu = convt.QTensor(x.int_repr()[0], x.q_scale(), x.q_zero_point())
    np.testing.assert_array_equal(m(xu, output_size=size).int_repr(), yo.int_repr()[0])
    # state_dict round trip and pickling
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias", "scale", "zero_point"]
    assert sd["scale"].dtype == np.float32 and sd["zero_point"].dtype == np.int64
    m2 = QCLS[nd](4, 6, 3, stride=2, padding=1, groups=2)
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2(x).int_repr(), y.int_repr())
    m3 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m3(x).int_repr(), y.int_repr())
    pp = pickle.loads(pickle.dumps(m._packed_params))
    assert pp.transpose and pp.stride == m.stride and pp.groups == 2
    np.testing.assert_array_equal(pp.unpack()[0].int_repr(), w.int_repr())


def test_layer_repr_init_and_errors():
    m = convt.quantized.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert repr(m) == ("QuantizedConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), "
                       "scale=1.0, zero_point=0, padding=(1, 1), output_padding=(1, 1), "
                       "groups=2)")
    assert m.weight().dtype == np.int8 and m.weight().shape == (4, 3, 3, 3)
    assert np.abs(m.weight().int_repr()).max() > 0  # initialised, not empty
    m0 = convt.quantized.ConvTranspose1d(2, 2, 3, bias=False)
    assert m0.bias() is None and "bias=False" in repr(m0)
    with pytest.raises(ValueError, match="weight must have shape"):
        m.set_weight_bias(convt.QTensor(np.zeros((4, 6, 3, 3), np.int8), 0.1, 0), None)
    with pytest.raises(ValueError, match="scale"):
        m.scale = 0
    with pytest.raises(ValueError, match="zero_point"):
        m.zero_point = -1
    with pytest.raises(TypeError, match="QTensor"):
        m(np.zeros((1, 4, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="padding_mode"):
        convt.quantized.ConvTranspose2d(4, 6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="valid sizes"):
        m(convt.QTensor(np.zeros((1, 4, 3, 3), np.uint8), 0.1, 0), output_size=(9, 9))


@pytest.mark.parametrize("qscheme", ["per_tensor", "per_channel"])
def test_from_float(rng, qscheme):
    fm = convt.ConvTranspose2d(8, 4, 3, stride=2, rng=0)
    qm = convt.quantized.ConvTranspose2d.from_float(
        fm, input_scale=0.05, input_zero_point=0, output_scale=0.05, output_zero_point=128,
        weight_qscheme=qscheme)
    assert qm.weight().qscheme() == qscheme + "_affine"
    x = rng.uniform(0, 5, (1, 8, 6, 6)).astype(np.float32)
    err = np.abs(qm(qm.quantize_input(x)).dequantize() - fm(x)).max()
    assert err <= 0.06  # about one output step
    with pytest.raises(ValueError, match="weight_qscheme"):
        convt.quantized.ConvTranspose2d.from_float(
            fm, input_scale=0.05, input_zero_point=0, output_scale=0.05,
            output_zero_point=128, weight_qscheme="per_group")


# ------------------------------------------------------------------ fbgemm's fused bias step
@pytest.mark.parametrize("cout", [1, 2, 8, 40])  # direct kernel and GEMM, vector and tail
def test_fbgemm_bias_step_is_one_fused_multiply_add(cout):
    """Issue 9's near-tie reproducer: (127-10)*-45 + (19-10)*-1 = -5274 with bias -2.40308.
    Rounded twice (f32(bias*rcp), then + acc) the value is -56.500004 -> 98; FBGEMM's fused
    multiply-add gives -56.499996 -> 99, torch's output, on every path and tier."""
    n = 37  # 2 blocks of 16 and a tail
    x = np.empty((1, 2, n), np.uint8)
    x[:, 0], x[:, 1] = 127, 19
    w = np.empty((2, cout, 1), np.int8)
    w[0], w[1] = -45, -1
    bias = np.full(cout, -2.40308, np.float32)
    y = QF.conv_transpose1d(convt.QTensor(x, 0.02, 10), convt.QTensor(w, 0.004, 0), bias,
                            scale=0.05, zero_point=155)
    np.testing.assert_array_equal(y.int_repr(), np.full((1, cout, n), 99, np.uint8))


def test_reference_fma_is_rounded_once(rng):
    """The test reference's float32 fma against exact rational arithmetic, on values whose
    float64 sums land on float32 midpoints (where rounding twice goes wrong)."""
    from fractions import Fraction
    from reference_q import fma_f32

    a = rng.standard_normal(3000).astype(np.float32)
    b = rng.standard_normal(3000).astype(np.float32)
    # c near -a*b + a float32 midpoint, so that many sums are ties or near-ties
    c = (-(a.astype(np.float64) * b) + rng.integers(-4, 4, 3000) * 0.5).astype(np.float32)
    got = fma_f32(a, b, c)
    for i in range(len(a)):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        lo = np.float32(float(exact))  # nearest float64, then a candidate float32
        cands = [np.nextafter(lo, np.float32(-np.inf)), lo, np.nextafter(lo, np.float32(np.inf))]
        errs = [abs(Fraction(float(v)) - exact) for v in cands]
        best = min(errs)
        ok = [v for v, e in zip(cands, errs) if e == best]
        if len(ok) == 2:  # a true tie: the even mantissa
            ok = [v for v in ok if not (np.float32(v).view(np.int32) & 1)]
        assert got[i] == ok[0], (i, a[i], b[i], c[i], got[i], ok)


def test_layer_caches_requantization_constants_without_going_stale(rng):
    """The layer keeps its requantization constants between calls; a new output scale or
    input scale takes effect on the next call, and the bias is the layer's own copy."""
    m = convt.quantized.ConvTranspose1d(4, 6, 3, stride=2, rng=0)
    w = convt.QTensor(rng.integers(-128, 128, (4, 6, 3), dtype=np.int8), 0.01, 0)
    bias = rng.standard_normal(6).astype(np.float32)
    m.set_weight_bias(w, bias)
    q = rng.integers(0, 256, (2, 4, 9), dtype=np.uint8)

    keep = bias.copy()

    def check(sx, scale):
        got = m(convt.QTensor(q, sx, 3)).int_repr()
        want = QF.conv_transpose1d(convt.QTensor(q, sx, 3), w, keep, stride=2, scale=scale,
                                   zero_point=100).int_repr()
        np.testing.assert_array_equal(got, want)

    m.scale, m.zero_point = 0.05, 100
    check(0.02, 0.05)
    bias[:] = 100.0  # the caller's array, not the layer's
    np.testing.assert_array_equal(m.bias(), keep)
    check(0.02, 0.05)
    m.scale = 0.2
    check(0.02, 0.2)
    check(0.03, 0.2)
