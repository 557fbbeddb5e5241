"""Quantized FORWARD convolution (convt.quantized.functional.conv{1,2,3}d and
convt.quantized.Conv{1,2,3}d): bit for bit against the int64 reference (tests/reference_conv.py
accumulator + tests/reference_q.py requantization), and against torch.ao.nn.quantized.Conv{n}d
where torch is installed (those tests alone skip without it).  Ends with the seed example: a
quantized Conv3d downsampling and a ConvTranspose3d upsampling back with output_size."""

import importlib.util
import pickle
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from reference_conv import (
    PADDING_MODES,
    accumulate_forward,
    conv_out_size,
    resolve_padding,
)
from reference_q import accumulate, requantize

import convt
from convt.quantized import functional as QF


def QFN(nd):
    return getattr(QF, f"conv{nd}d")


def QCLS(nd):
    return getattr(convt.quantized, f"Conv{nd}d")


def FCLS(nd):
    return getattr(convt, f"Conv{nd}d")


@pytest.fixture
def torch():
    t = pytest.importorskip("torch")
    return t


needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch is not installed")

SPATIAL = {1: (9,), 2: (6, 7), 3: (4, 5, 5)}


def make(rng, nd, cin, cout, groups, kernel, per_channel, spatial=None, batch=2, hi=256,
         zx=None, bias=True, zero_zw=False):
    """uint8 input QTensor, int8 weight QTensor (C_out, C_in/groups, *k), per-output-channel
    weight scales and zero points as arrays, float32 bias."""
    spatial = spatial or SPATIAL[nd]
    kernel = (kernel,) * nd if np.isscalar(kernel) else tuple(kernel)
    xq = rng.integers(0, hi, ((batch,) if batch else ()) + (cin,) + spatial).astype(np.uint8)
    zx = int(rng.integers(0, hi)) if zx is None else zx
    wq = rng.integers(-128, 128, (cout, cin // groups) + kernel).astype(np.int8)
    if per_channel:
        sw = rng.uniform(0.002, 0.02, cout)
        zw = np.zeros(cout, np.int64) if zero_zw else rng.integers(-30, 30, cout)
        w = convt.QTensor(wq, sw, zw, axis=0)
    else:
        z = 0 if zero_zw else int(rng.integers(-30, 30))
        sw, zw = np.full(cout, 0.01), np.full(cout, z)
        w = convt.QTensor(wq, 0.01, z)
    b = (rng.standard_normal(cout) * 3).astype(np.float32) if bias else None
    return convt.QTensor(xq, 0.04, zx), w, sw, zw, b


def expected(x, w, sw, zw, b, mode, sy, zy, stride=1, padding=0, dilation=1, groups=1,
             padding_mode="zeros"):
    """uint8 result of the references; x may be unbatched."""
    batched = x.ndim == w.ndim
    xq = x.int_repr() if batched else x.int_repr()[None]
    acc = accumulate_forward(xq, x.q_zero_point(), w.int_repr(), zw, stride=stride,
                             padding=padding, dilation=dilation, groups=groups,
                             padding_mode=padding_mode)
    y = requantize(acc, mode, x.q_scale(), sw, b, sy, zy)
    return y if batched else y[0]


def check(y, x, w, sw, zw, b, mode, sy, zy, **params):
    assert isinstance(y, convt.QTensor) and y.dtype == np.uint8
    assert (y.q_scale(), y.q_zero_point()) == (sy, zy)
    np.testing.assert_array_equal(y.int_repr(), expected(x, w, sw, zw, b, mode, sy, zy,
                                                         **params))


GEOMETRIES = [  # stride, padding, dilation, kernel
    (1, 0, 1, 3), (2, 1, 1, 3), (2, 0, 1, 2), (3, 2, 2, 2), (2, 0, 1, 1), (1, 3, 2, 3),
    (1, "same", 1, 3), (1, "same", 1, 2), (1, "same", 3, 2), (1, "valid", 1, 3),
    (2, "valid", 2, 2),
]
CHANNELS = [(3, 5, 1), (4, 6, 2), (4, 4, 4), (4, 8, 4), (6, 3, 3), (8, 20, 1)]


# ------------------------------------------------------------------ the reference itself
def test_reference_accumulator_against_float_reference(rng):
    """The int64 accumulator equals the float64 reference on the shifted integers."""
    from reference_conv import conv_forward_ref

    for mode in PADDING_MODES:
        xq = rng.integers(0, 256, (2, 4, 6, 5)).astype(np.uint8)
        wq = rng.integers(-128, 128, (6, 2, 3, 2)).astype(np.int8)
        zw = rng.integers(-10, 10, 6)
        acc = accumulate_forward(xq, 17, wq, zw, stride=(1, 2), padding="same" if mode ==
                                 "zeros" else 1, dilation=(2, 1), groups=2, padding_mode=mode)
        ref = conv_forward_ref(xq.astype(np.float64) - 17,
                               wq.astype(np.float64) - zw.reshape(6, 1, 1, 1), None,
                               stride=(1, 2), padding="same" if mode == "zeros" else 1,
                               dilation=(2, 1), groups=2, padding_mode=mode)
        np.testing.assert_array_equal(acc, ref.astype(np.int64))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("engine", ["fbgemm", "qnnpack"])
def test_reference_matches_torch(torch, engine):
    """accumulate_forward + requantize against torch's own quantized Conv{n}d: validates the
    reference (fbgemm with activations <= 127, qnnpack full range)."""
    if engine not in torch.backends.quantized.supported_engines:
        pytest.skip(f"no {engine} engine")
    rng = np.random.default_rng(5)
    for nd in ((1, 2, 3) if engine == "fbgemm" else (1, 2)):
        for cin, cout, g in [(3, 5, 1), (4, 4, 4), (4, 8, 2)]:
            for s, p, d, k in [(1, 1, 1, 3), (2, 0, 1, 2), (1, 2, 2, 3)]:
                for pc in (False, True):
                    for pm in (("zeros", "reflect") if nd < 3 else ("zeros",)):
                        x, w, sw, zw, b = make(rng, nd, cin, cout, g, k, pc, zero_zw=True,
                                               hi=128 if engine == "fbgemm" else 256)
                        tm = _torch_layer(torch, nd, engine, cin, cout, g, k, s, p, d, pm,
                                          w, b, 0.3, 100)
                        ref = tm(x.to_torch()).int_repr().numpy()
                        np.testing.assert_array_equal(
                            ref, expected(x, w, sw, zw, b, engine, 0.3, 100, stride=s,
                                          padding=p, dilation=d, groups=g, padding_mode=pm))


# ------------------------------------------------------------------ functional
@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("per_channel", [False, True])
def test_bit_exact_against_reference(rng, mode, nd, geom, channels, per_channel):
    s, p, d, k = geom
    cin, cout, g = channels
    x, w, sw, zw, b = make(rng, nd, cin, cout, g, k, per_channel)
    params = dict(stride=s, padding=p, dilation=d, groups=g)
    y = QFN(nd)(x, w, b, scale=0.3, zero_point=100, requant=mode, **params)
    check(y, x, w, sw, zw, b, mode, 0.3, 100, **params)
    if p == "same":
        assert y.shape == x.shape[:1] + (cout,) + x.shape[2:]


@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("padding,k,d,groups", [(1, 3, 1, 1), (2, 3, 2, 2), ("same", 2, 1, 1),
                                                ("same", 4, 1, 2), ("valid", 3, 1, 1)])
def test_padding_modes_functional_and_layer(rng, mode, nd, padding_mode, padding, k, d,
                                            groups):
    x, w, sw, zw, b = make(rng, nd, 4, 6, groups, k, True)
    params = dict(padding=padding, dilation=d, groups=groups, padding_mode=padding_mode)
    y = QFN(nd)(x, w, b, scale=0.2, zero_point=30, requant=mode, **params)
    check(y, x, w, sw, zw, b, mode, 0.2, 30, **params)
    m = QCLS(nd)(4, 6, k, padding=padding, dilation=d, groups=groups,
                 padding_mode=padding_mode, requant=mode)
    assert m.padding_mode == padding_mode
    m.set_weight_bias(w, b)
    m.scale, m.zero_point = 0.2, 30
    np.testing.assert_array_equal(m(x).int_repr(), y.int_repr())
    xu = convt.QTensor(x.int_repr()[1], x.q_scale(), x.q_zero_point())
    np.testing.assert_array_equal(m(xu).int_repr(), y.int_repr()[1])


@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unbatched_and_no_bias(rng, mode, nd):
    x, w, sw, zw, _ = make(rng, nd, 4, 6, 2, 3, True, batch=3, bias=False)
    params = dict(stride=2, padding=1, groups=2)
    yb = QFN(nd)(x, w, None, scale=0.1, zero_point=7, requant=mode, **params)
    check(yb, x, w, sw, zw, None, mode, 0.1, 7, **params)
    for n in range(3):
        xu = convt.QTensor(x.int_repr()[n], x.q_scale(), x.q_zero_point())
        yu = QFN(nd)(xu, w, None, scale=0.1, zero_point=7, requant=mode, **params)
        assert yu.shape == yb.shape[1:]
        np.testing.assert_array_equal(yu.int_repr(), yb.int_repr()[n])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_per_dimension_parameters(rng, nd):
    k, s, p, d = (2, 3, 4)[:nd], (3, 1, 2)[:nd], (1, 0, 2)[:nd], (1, 2, 1)[:nd]
    sp = (8, 7, 9)[:nd]
    x, w, sw, zw, b = make(rng, nd, 3, 4, 1, k, True, spatial=sp)
    params = dict(stride=s, padding=p, dilation=d)
    y = QFN(nd)(x, w, b, scale=0.5, zero_point=128, **params)
    assert y.shape == (2, 4) + tuple(conv_out_size(*a) for a in zip(sp, k, s, p, p, d))
    check(y, x, w, sw, zw, b, "fbgemm", 0.5, 128, **params)


@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
def test_larger_blocks(rng, mode):
    """Channel, column and K blocks larger than any tile: dense 2-d, depthwise, long 1-d."""
    for nd, cin, cout, g, k, sp, params in [
        (2, 64, 40, 1, 3, (13, 17), dict(padding=1)),
        (2, 32, 32, 32, 3, (20, 21), dict(stride=2, padding="valid")),
        (1, 300, 20, 1, 2, (37,), dict(stride=2)),
        (3, 16, 24, 2, 3, (6, 7, 5), dict(padding="same", dilation=(1, 2, 1))),
    ]:
        x, w, sw, zw, b = make(rng, nd, cin, cout, g, k, True, spatial=sp, batch=1)
        y = QFN(nd)(x, w, b, groups=g, scale=2.0, zero_point=128, requant=mode, **params)
        check(y, x, w, sw, zw, b, mode, 2.0, 128, groups=g, **params)


def test_large_accumulators_no_saturation():
    """Full-range activations against extreme weights: int16 pair sums would saturate."""
    xq = np.full((1, 64, 5, 5), 255, np.uint8)
    wq = np.full((4, 64, 3, 3), -128, np.int8)
    acc = accumulate_forward(xq, 0, wq, np.zeros(4), padding=1)
    assert acc.min() < -2**21
    for sy in (1.0, 300.0):
        y = QF.conv2d(convt.QTensor(xq, 0.01, 0), convt.QTensor(wq, 0.01, 0), None, padding=1,
                      scale=sy, zero_point=255)
        np.testing.assert_array_equal(
            y.int_repr(), requantize(acc, "fbgemm", 0.01, np.full(4, 0.01), None, sy, 255))


def test_fbgemm_bias_step_is_one_fused_multiply_add():
    """Issue 9's near tie in the forward direction: (127-10)*-45 + (19-10)*-1 = -5274 with
    bias -2.40308 is -56.499996 -> 99 with one rounding (torch's), 98 with two."""
    n = 37
    x = np.empty((1, 2, n), np.uint8)
    x[:, 0], x[:, 1] = 127, 19
    for cout in (1, 8, 40):
        w = np.empty((cout, 2, 1), np.int8)
        w[:, 0], w[:, 1] = -45, -1
        y = QF.conv1d(convt.QTensor(x, 0.02, 10), convt.QTensor(w, 0.004, 0),
                      np.full(cout, -2.40308, np.float32), scale=0.05, zero_point=155)
        np.testing.assert_array_equal(y.int_repr(), np.full((1, cout, n), 99, np.uint8))


def test_threads_bitwise(rng):
    for nd, cin, cout, g, sp, params in [(2, 48, 40, 1, (17, 19), dict(padding=1)),
                                         (2, 32, 32, 32, (64, 65), dict(stride=2)),
                                         (3, 16, 16, 1, (8, 8, 8), dict(padding="same"))]:
        x, w, sw, zw, b = make(rng, nd, cin, cout, g, 3, True, spatial=sp)
        ys = [QFN(nd)(x, w, b, groups=g, scale=0.5, zero_point=3, num_threads=t, **params)
              for t in (1, 2, None)]
        for y in ys[1:]:
            assert np.array_equal(y.int_repr(), ys[0].int_repr())
        check(ys[0], x, w, sw, zw, b, "fbgemm", 0.5, 3, groups=g, **params)


@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_outputs_reached_only_by_padding_hold_requantized_bias(rng, mode, nd):
    x, w, sw, zw, b = make(rng, nd, 3, 4, 1, 2, True, spatial=(1, 2, 1)[:nd])
    for params in (dict(padding=3), dict(padding=3, stride=2), dict(padding=2, dilation=3)):
        y = QFN(nd)(x, w, b, scale=0.05, zero_point=128, requant=mode, **params)
        check(y, x, w, sw, zw, b, mode, 0.05, 128, **params)


def test_out_argument(rng):
    x, w, _sw, _zw, b = make(rng, 2, 4, 6, 2, 3, False)
    ref = QF.conv2d(x, w, b, padding=1, groups=2, scale=0.1, zero_point=9)
    out = np.zeros(ref.shape, np.uint8)
    y = QF.conv2d(x, w, b, padding=1, groups=2, scale=0.1, zero_point=9, out=out)
    np.testing.assert_array_equal(y.int_repr(), ref.int_repr())
    np.testing.assert_array_equal(out, ref.int_repr())


@st.composite
def qconfigs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cig, cog = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    spatial = tuple(draw(st.integers(1, 5 if nd == 3 else 8)) for _ in range(nd))
    form = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if form == "same":
        s, padding = (1,) * nd, "same"
    elif form == "valid":
        padding = "valid"
    elif form == "int":
        padding = draw(st.integers(0, 2))
    else:
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    return dict(nd=nd, groups=groups, cig=cig, cog=cog, k=k, s=s, d=d, padding=padding,
                spatial=spatial, per_channel=draw(st.booleans()),
                mode=draw(st.sampled_from(["fbgemm", "qnnpack"])),
                padding_mode=draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate",
                                                   "circular"])),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)),
                batched=draw(st.booleans()))


@given(qconfigs())
def test_property_bit_exact(cfg):
    nd, g = cfg["nd"], cfg["groups"]
    pairs = resolve_padding(cfg["padding"], cfg["k"], cfg["d"])
    osz = [conv_out_size(i, k, s, pl, pr, d) for i, k, s, (pl, pr), d in zip(
        cfg["spatial"], cfg["k"], cfg["s"], pairs, cfg["d"])]
    assume(min(osz) >= 1)
    if cfg["padding_mode"] == "reflect":
        assume(all(max(pr) < i for pr, i in zip(pairs, cfg["spatial"])))
    if cfg["padding_mode"] == "circular":
        assume(all(max(pr) <= i for pr, i in zip(pairs, cfg["spatial"])))
    rng = np.random.default_rng(cfg["seed"])
    cin, cout = cfg["cig"] * g, cfg["cog"] * g
    xq = rng.integers(0, 256, (2, cin) + cfg["spatial"]).astype(np.uint8)
    wq = rng.integers(-128, 128, (cout, cfg["cig"]) + cfg["k"]).astype(np.int8)
    sw = rng.uniform(0.001, 0.03, cout)
    zw = rng.integers(-128, 128, cout)
    if cfg["per_channel"]:
        w = convt.QTensor(wq, sw, zw, axis=0)
    else:
        w = convt.QTensor(wq, float(sw[0]), int(zw[0]))
        sw, zw = np.full(cout, float(sw[0])), np.full(cout, int(zw[0]))
    x = convt.QTensor(xq if cfg["batched"] else xq[0], float(rng.uniform(0.001, 0.1)),
                      int(rng.integers(0, 256)))
    b = rng.standard_normal(cout).astype(np.float32) if cfg["bias"] else None
    sy, zy = float(rng.uniform(0.01, 2.0)), int(rng.integers(0, 256))
    params = dict(stride=cfg["s"], padding=cfg["padding"], dilation=cfg["d"], groups=g,
                  padding_mode=cfg["padding_mode"])
    y = QFN(nd)(x, w, b, scale=sy, zero_point=zy, requant=cfg["mode"], **params)
    check(y, x, w, sw, zw, b, cfg["mode"], sy, zy, **params)


@st.composite
def larger_qconfigs(draw):
    """Channel counts and lengths past the engine's tiles, both requantizations, every
    padding mode, per-channel weights with zero points."""
    nd = draw(st.integers(1, 3))
    if draw(st.booleans()):  # depthwise (multiplier 1 or 2)
        groups, cig, cog = draw(st.integers(1, 40)), 1, draw(st.integers(1, 2))
    else:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cig, cog = (draw(st.integers(1, 72 if nd < 3 else 24)) for _ in range(2))
    k = tuple(draw(st.integers(1, 5 if nd < 3 else 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    spatial = tuple(draw(st.integers(1, {1: 300, 2: 24, 3: 9}[nd])) for _ in range(nd))
    form = draw(st.sampled_from(["int", "same", "valid"]))
    padding = {"same": "same", "valid": "valid"}.get(form) or draw(st.integers(0, 2))
    if form == "same":
        s = (1,) * nd
    return dict(nd=nd, groups=groups, cig=cig, cog=cog, k=k, s=s, d=d, padding=padding,
                spatial=spatial, mode=draw(st.sampled_from(["fbgemm", "qnnpack"])),
                padding_mode=draw(st.sampled_from(PADDING_MODES)),
                threads=draw(st.sampled_from([None, 1, 2])),
                seed=draw(st.integers(0, 2**32 - 1)))


@given(larger_qconfigs())
def test_property_larger_bit_exact(cfg):
    nd, g, pm = cfg["nd"], cfg["groups"], cfg["padding_mode"]
    pairs = resolve_padding(cfg["padding"], cfg["k"], cfg["d"])
    assume(min(conv_out_size(i, k, s, pl, pr, d) for i, k, s, (pl, pr), d in zip(
        cfg["spatial"], cfg["k"], cfg["s"], pairs, cfg["d"])) >= 1)
    if pm == "reflect" and any(max(pr) >= i for pr, i in zip(pairs, cfg["spatial"])):
        pm = "zeros"
    if pm == "circular" and any(max(pr) > i for pr, i in zip(pairs, cfg["spatial"])):
        pm = "zeros"
    rng = np.random.default_rng(cfg["seed"])
    x, w, sw, zw, b = make(rng, nd, cfg["cig"] * g, cfg["cog"] * g, g, cfg["k"], True,
                           spatial=cfg["spatial"], batch=int(rng.integers(1, 3)))
    params = dict(stride=cfg["s"], padding=cfg["padding"], dilation=cfg["d"], groups=g,
                  padding_mode=pm)
    y = QFN(nd)(x, w, b, scale=0.7, zero_point=60, requant=cfg["mode"],
                num_threads=cfg["threads"], **params)
    check(y, x, w, sw, zw, b, cfg["mode"], 0.7, 60, **params)


# ------------------------------------------------------------------ errors
def _qargs():
    x = convt.QTensor(np.zeros((1, 4, 5, 5), np.uint8), 0.1, 0)
    w = convt.QTensor(np.zeros((6, 4, 3, 3), np.int8), 0.1, 0)
    return x, w


@pytest.mark.parametrize("change,exc,match", [
    (lambda x, w: (x.int_repr().astype(np.float32), w, {}), TypeError, "input"),
    (lambda x, w: (convt.QTensor(x.int_repr().view(np.int8), 0.1, 0), w, {}), TypeError,
     "uint8"),
    (lambda x, w: (x, convt.QTensor(w.int_repr().view(np.uint8), 0.1, 0), {}), TypeError,
     "int8"),
    (lambda x, w: (x, w.int_repr(), {}), TypeError, "weight"),
    # per-channel weights must be along axis 0 (the output channels) for forward conv
    (lambda x, w: (x, convt.QTensor(w.int_repr(), [0.1] * 4, [0] * 4, axis=1), {}),
     ValueError, "axis"),
    (lambda x, w: (x, w, dict(scale=-1.0)), ValueError, "scale"),
    (lambda x, w: (x, w, dict(zero_point=300)), ValueError, "zero_point"),
    (lambda x, w: (x, w, dict(requant="onednn")), ValueError, "requant"),
    (lambda x, w: (x, w, dict(stride=0)), ValueError, "stride"),
    (lambda x, w: (x, w, dict(padding=-1)), ValueError, "padding"),
    (lambda x, w: (x, w, dict(padding="full")), ValueError, "padding"),
    (lambda x, w: (x, w, dict(padding="same", stride=2)), ValueError, "padding|stride"),
    (lambda x, w: (x, w, dict(padding_mode="mirror")), ValueError, "padding_mode"),
    (lambda x, w: (x, w, dict(padding=5, padding_mode="reflect")), ValueError,
     "(?i)padding|input"),
    (lambda x, w: (x, w, dict(groups=3)), ValueError, "groups"),
    (lambda x, w: (x, w, dict(dilation=3)), ValueError, "(?i)input|kernel|output"),
    (lambda x, w: (convt.QTensor(np.zeros((1, 3, 5, 5), np.uint8), 0.1, 0), w, {}),
     ValueError, "channels|weight"),
    (lambda x, w: (x, convt.QTensor(np.zeros((6, 4, 3), np.int8), 0.1, 0), {}), ValueError,
     "weight"),
    (lambda x, w: (x, w, dict(bias=np.zeros(4, np.float32))), ValueError, "bias"),
    (lambda x, w: (x, w, dict(out=np.zeros((1, 6, 3, 3), np.float32))), TypeError, "out"),
])
def test_operator_errors(change, exc, match):
    x, w = _qargs()
    x, w, kw = change(x, w)
    args = dict(scale=0.1, zero_point=0)
    args.update(kw)
    with pytest.raises(exc, match=match):
        QF.conv2d(x, w, **args)


# ------------------------------------------------------------------ layers
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
def test_layer_matches_functional_and_round_trips(rng, nd, mode):
    m = QCLS(nd)(4, 6, 3, stride=2, padding=1, groups=2, requant=mode, rng=0)
    assert m.weight().shape == (6, 2) + (3,) * nd and m.weight().dtype == np.int8
    assert np.abs(m.weight().int_repr()).max() > 0  # initialised, not empty
    x, w, sw, zw, b = make(rng, nd, 4, 6, 2, 3, True)
    m.set_weight_bias(w, b)
    m.scale, m.zero_point = 0.2, 50
    y = m(x)
    ref = QFN(nd)(x, w, b, stride=2, padding=1, groups=2, scale=0.2, zero_point=50,
                  requant=mode)
    np.testing.assert_array_equal(y.int_repr(), ref.int_repr())
    check(y, x, w, sw, zw, b, mode, 0.2, 50, stride=2, padding=1, groups=2)
    np.testing.assert_array_equal(m.forward(x).int_repr(), y.int_repr())
    # a new output scale takes effect on the next call
    m.scale = 0.4
    check(m(x), x, w, sw, zw, b, mode, 0.4, 50, stride=2, padding=1, groups=2)
    m.scale = 0.2
    out = np.zeros(y.shape, np.uint8)
    np.testing.assert_array_equal(m(x, out=out, num_threads=2).int_repr(), y.int_repr())
    np.testing.assert_array_equal(out, y.int_repr())
    # state_dict round trip and pickling
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias", "scale", "zero_point"]
    assert sd["scale"].dtype == np.float32 and sd["zero_point"].dtype == np.int64
    m2 = QCLS(nd)(4, 6, 3, stride=2, padding=1, groups=2, requant=mode)
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2(x).int_repr(), y.int_repr())
    m2n = QCLS(nd)(4, 6, 3, stride=2, padding=1, groups=2, requant=mode)
    m2n.load_state_dict(dict(m.state_dict(format="npz")))
    np.testing.assert_array_equal(m2n(x).int_repr(), y.int_repr())
    m3 = pickle.loads(pickle.dumps(m))
    assert repr(m3) == repr(m)
    np.testing.assert_array_equal(m3(x).int_repr(), y.int_repr())
    pp = pickle.loads(pickle.dumps(m._packed_params))
    assert pp.stride == m.stride and pp.groups == 2
    np.testing.assert_array_equal(pp.unpack()[0].int_repr(), w.int_repr())


def test_layer_repr_and_errors():
    m = convt.quantized.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert repr(m) == ("QuantizedConv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), scale=1.0, "
                       "zero_point=0, padding=(1, 1), groups=2)")
    m3 = convt.quantized.Conv3d(4, 6, (3, 2, 1), dilation=2, bias=False)
    assert repr(m3) == ("QuantizedConv3d(4, 6, kernel_size=(3, 2, 1), stride=(1, 1, 1), "
                        "scale=1.0, zero_point=0, dilation=(2, 2, 2), bias=False)")
    assert m3.bias() is None
    with pytest.raises(ValueError, match="weight"):
        m.set_weight_bias(convt.QTensor(np.zeros((4, 3, 3, 3), np.int8), 0.1, 0), None)
    with pytest.raises(ValueError, match="scale"):
        m.scale = 0
    with pytest.raises(ValueError, match="zero_point"):
        m.zero_point = -1
    with pytest.raises(TypeError, match="QTensor"):
        m(np.zeros((1, 4, 5, 5), np.uint8))
    with pytest.raises(ValueError, match="padding_mode"):
        convt.quantized.Conv2d(4, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="padding|stride"):
        convt.quantized.Conv2d(4, 6, 3, padding="same", stride=2)


@pytest.mark.parametrize("qscheme", ["per_tensor", "per_channel"])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_from_float(rng, qscheme, padding_mode):
    fm = convt.Conv2d(8, 4, 3, padding=1, padding_mode=padding_mode, rng=0)
    qm = convt.quantized.Conv2d.from_float(
        fm, input_scale=0.05, input_zero_point=0, output_scale=0.05, output_zero_point=128,
        weight_qscheme=qscheme)
    assert qm.weight().qscheme() == qscheme + "_affine"
    assert qm.padding_mode == padding_mode
    if qscheme == "per_channel":
        assert qm.weight().q_per_channel_axis() == 0
    x = rng.uniform(0, 5, (1, 8, 6, 6)).astype(np.float32)
    err = np.abs(qm(qm.quantize_input(x)).dequantize() - fm(x)).max()
    assert err <= 0.06  # about one output step
    with pytest.raises(ValueError, match="weight_qscheme"):
        convt.quantized.Conv2d.from_float(
            fm, input_scale=0.05, input_zero_point=0, output_scale=0.05,
            output_zero_point=128, weight_qscheme="per_group")


# ------------------------------------------------------------------ the seed example
def _seed_layers(rng, requant):
    down = convt.quantized.Conv3d(16, 16, 3, stride=2, padding=1, requant=requant)
    up = convt.quantized.ConvTranspose3d(16, 16, 3, stride=2, padding=1, requant=requant)
    wd = convt.QTensor(rng.integers(-128, 128, (16, 16, 3, 3, 3)).astype(np.int8), 0.004, 0)
    wu = convt.QTensor(rng.integers(-128, 128, (16, 16, 3, 3, 3)).astype(np.int8),
                       rng.uniform(0.002, 0.006, 16), np.zeros(16, np.int64), axis=1)
    bd = (rng.standard_normal(16) * 2).astype(np.float32)
    bu = (rng.standard_normal(16) * 2).astype(np.float32)
    down.set_weight_bias(wd, bd)
    up.set_weight_bias(wu, bu)
    down.scale, down.zero_point = 0.5, 40
    up.scale, up.zero_point = 0.3, 120
    return down, up, wd, wu, bd, bu


@pytest.mark.parametrize("requant", ["fbgemm", "qnnpack"])
def test_seed_example_against_references(rng, requant):
    """downsample = Conv3d(16, 16, 3, stride=2, padding=1);
    upsample = ConvTranspose3d(16, 16, 3, stride=2, padding=1);
    h = downsample(q_input): (1, 16, 6, 6, 6); upsample(h, output_size=input.size()):
    (1, 16, 12, 12, 12) -- both bit for bit against the references."""
    down, up, wd, wu, bd, bu = _seed_layers(rng, requant)
    xq = rng.integers(0, 256, (1, 16, 12, 12, 12)).astype(np.uint8)
    q_input = convt.QTensor(xq, 0.05, 128)
    h = down(q_input)
    assert h.shape == (1, 16, 6, 6, 6)
    acc = accumulate_forward(xq, 128, wd.int_repr(), np.zeros(16), stride=2, padding=1)
    np.testing.assert_array_equal(
        h.int_repr(), requantize(acc, requant, 0.05, np.full(16, 0.004), bd, 0.5, 40))
    output = up(h, output_size=q_input.shape)
    assert output.shape == (1, 16, 12, 12, 12)
    assert (output.q_scale(), output.q_zero_point()) == (0.3, 120)
    acc2 = accumulate(h.int_repr(), 40, wu.int_repr(), np.zeros(16), stride=2, padding=1,
                      output_padding=1)
    np.testing.assert_array_equal(
        output.int_repr(),
        requantize(acc2, requant, 0.5, wu.q_per_channel_scales(), bu, 0.3, 120))
    # spatial-only output_size is the same request
    np.testing.assert_array_equal(up(h, output_size=(12, 12, 12)).int_repr(),
                                  output.int_repr())


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("per_channel", [False, True])
def test_seed_example_matches_torch(torch, per_channel):
    """The seed example on torch's fbgemm engine and on convt (layers converted with
    from_torch): equal bit for bit.  torch's quantized ConvTranspose3d has no output_size
    argument, so torch's side of the upsampling is the same layer with output_padding=1 (the
    padding output_size=(12, 12, 12) selects).  Activations stay <= 127 where torch's fbgemm
    accumulation is exact."""
    if "fbgemm" not in torch.backends.quantized.supported_engines:
        pytest.skip("no fbgemm engine")
    nnq = torch.ao.nn.quantized
    torch.backends.quantized.engine = "fbgemm"
    rng = np.random.default_rng(2024 + per_channel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        downsample = nnq.Conv3d(16, 16, 3, stride=2, padding=1)
        upsample = nnq.ConvTranspose3d(16, 16, 3, stride=2, padding=1)
        wdf = torch.from_numpy((rng.standard_normal((16, 16, 3, 3, 3)) * 0.1).astype(np.float32))
        if per_channel:
            wd = torch.quantize_per_channel(wdf, torch.from_numpy(rng.uniform(0.002, 0.004, 16)),
                                            torch.zeros(16, dtype=torch.int64), 0, torch.qint8)
        else:
            wd = torch.quantize_per_tensor(wdf, 0.003, 0, torch.qint8)
        wu = torch.quantize_per_tensor(
            torch.from_numpy((rng.standard_normal((16, 16, 3, 3, 3)) * 0.1).astype(np.float32)),
            0.003, 0, torch.qint8)
        bd = torch.from_numpy(rng.standard_normal(16).astype(np.float32))
        bu = torch.from_numpy(rng.standard_normal(16).astype(np.float32))
        downsample.set_weight_bias(wd, bd)
        upsample.set_weight_bias(wu, bu)
        downsample.scale, downsample.zero_point = 0.25, 32
        upsample.scale, upsample.zero_point = 0.2, 128
        upsample_op1 = nnq.ConvTranspose3d(16, 16, 3, stride=2, padding=1, output_padding=1)
        upsample_op1.set_weight_bias(wu, bu)
        upsample_op1.scale, upsample_op1.zero_point = 0.2, 128

        input = torch.from_numpy(rng.uniform(-3, 3, (1, 16, 12, 12, 12)).astype(np.float32))
        q_input = torch.quantize_per_tensor(input, scale=0.05, zero_point=64,
                                            dtype=torch.quint8)
        h_t = downsample(q_input)
        out_t = upsample_op1(h_t)
    assert q_input.int_repr().max() <= 127
    assert tuple(h_t.size()) == (1, 16, 6, 6, 6)
    assert h_t.int_repr().max() <= 127  # the upsampling's activations too
    assert tuple(out_t.size()) == (1, 16, 12, 12, 12)

    # the same example entirely on convt
    down = convt.quantized.Conv3d.from_torch(downsample)
    up = convt.quantized.ConvTranspose3d.from_torch(upsample)
    assert repr(down) == repr(downsample) and repr(up) == repr(upsample)
    q = convt.QTensor.from_torch(q_input)
    h = down(q)
    assert h.shape == (1, 16, 6, 6, 6)
    assert (h.q_scale(), h.q_zero_point()) == (0.25, 32)
    np.testing.assert_array_equal(h.int_repr(), h_t.int_repr().numpy())
    output = up(h, output_size=input.size())
    assert output.shape == (1, 16, 12, 12, 12)
    np.testing.assert_array_equal(output.int_repr(), out_t.int_repr().numpy())
    # and against the references
    xq = q.int_repr()
    zw = np.zeros(16, np.int64)
    sw = (wd.q_per_channel_scales().numpy() if per_channel else np.full(16, 0.003))
    acc = accumulate_forward(xq, 64, wd.int_repr().numpy(), zw, stride=2, padding=1)
    np.testing.assert_array_equal(
        h.int_repr(), requantize(acc, "fbgemm", 0.05, sw, bd.numpy(), 0.25, 32))


# ------------------------------------------------------------------ torch
def _torch_layer(torch, nd, engine, cin, cout, g, k, s, p, d, padding_mode, w, b, sy, zy):
    """A torch quantized Conv{n}d on ``engine`` with convt's QTensor weight ``w``."""
    torch.backends.quantized.engine = engine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = getattr(torch.ao.nn.quantized, f"Conv{nd}d")(
            cin, cout, k, stride=s, padding=p, dilation=d, groups=g, padding_mode=padding_mode)
        tm.set_weight_bias(w.to_torch(), None if b is None else torch.from_numpy(b))
    tm.scale, tm.zero_point = sy, zy
    return tm


def _engines(torch):
    return set(torch.backends.quantized.supported_engines)


TORCH_CASES = [  # C_in, C_out, groups, kernel, stride, padding, dilation
    (4, 6, 1, 3, 2, 1, 1), (8, 8, 2, 4, 2, 1, 1), (6, 3, 3, 3, 1, 1, 2), (16, 33, 1, 3, 2, 0, 1),
    (8, 8, 8, 3, 2, 1, 1), (8, 16, 8, 3, 1, 1, 1), (5, 10, 5, 2, 2, 0, 1), (3, 4, 1, 1, 1, 0, 1),
    (32, 32, 1, 3, 1, 1, 1),
]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", TORCH_CASES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_fbgemm_bit_exact(torch, nd, case, per_channel):
    """torch's fbgemm engine, activations <= 127 (torch's accumulation is exact there)."""
    if "fbgemm" not in _engines(torch):
        pytest.skip("no fbgemm engine")
    cin, cout, g, k, s, p, d = case
    rng = np.random.default_rng(zlib.crc32(repr((nd, per_channel) + case).encode()))
    x, w, _sw, _zw, b = make(rng, nd, cin, cout, g, k, per_channel, hi=128, zero_zw=True,
                           spatial=(7, 8, 6)[:nd])
    assert x.int_repr().max() <= 127
    tm = _torch_layer(torch, nd, "fbgemm", cin, cout, g, k, s, p, d, "zeros", w, b, 0.11, 64)
    ref = tm(x.to_torch()).int_repr().numpy()
    cm = QCLS(nd).from_torch(tm)
    assert repr(cm) == repr(tm)
    np.testing.assert_array_equal(cm(x).int_repr(), ref)
    y = QFN(nd)(x, w, b, s, p, d, g, scale=0.11, zero_point=64)
    np.testing.assert_array_equal(y.int_repr(), ref)
    # torch's quantized tensor as input
    np.testing.assert_array_equal(cm(x.to_torch()).int_repr(), ref)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("case", TORCH_CASES[:5])
def test_fbgemm_reflect_padding_bit_exact(torch, nd, case):
    """torch's quantized Conv1d/Conv2d pad the quantized input with F.pad(mode='reflect');
    torch's Conv3d refuses reflect."""
    if "fbgemm" not in _engines(torch):
        pytest.skip("no fbgemm engine")
    cin, cout, g, k, s, p, d = case
    rng = np.random.default_rng(zlib.crc32(repr((nd, "reflect") + case).encode()))
    x, w, _sw, _zw, b = make(rng, nd, cin, cout, g, k, True, hi=128, zero_zw=True,
                           spatial=(7, 8)[:nd])
    tm = _torch_layer(torch, nd, "fbgemm", cin, cout, g, k, s, p, d, "reflect", w, b, 0.2, 10)
    ref = tm(x.to_torch()).int_repr().numpy()
    cm = QCLS(nd).from_torch(tm)
    assert cm.padding_mode == "reflect"
    assert repr(cm) == repr(tm)  # torch's quantized repr leaves padding_mode out
    np.testing.assert_array_equal(cm(x).int_repr(), ref)
    y = QFN(nd)(x, w, b, s, p, d, g, "reflect", scale=0.2, zero_point=10)
    np.testing.assert_array_equal(y.int_repr(), ref)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("case", TORCH_CASES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_qnnpack_bit_exact_full_range(torch, nd, case, per_channel):
    if "qnnpack" not in _engines(torch):
        pytest.skip("no qnnpack engine")
    cin, cout, g, k, s, p, d = case
    rng = np.random.default_rng(zlib.crc32(repr((nd, per_channel, "q") + case).encode()))
    x, w, _sw, _zw, b = make(rng, nd, cin, cout, g, k, per_channel, zero_zw=True,
                           spatial=(7, 8)[:nd])
    tm = _torch_layer(torch, nd, "qnnpack", cin, cout, g, k, s, p, d, "zeros", w, b, 0.3, 100)
    ref = tm(x.to_torch()).int_repr().numpy()
    torch.backends.quantized.engine = "fbgemm" if "fbgemm" in _engines(torch) else "qnnpack"
    cm = QCLS(nd).from_torch(tm, requant="qnnpack")
    np.testing.assert_array_equal(cm(x).int_repr(), ref)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("per_channel", [False, True])
def test_to_torch_state_dict_and_pickle_round_trips(torch, nd, per_channel):
    if "fbgemm" not in _engines(torch):
        pytest.skip("no fbgemm engine")
    torch.backends.quantized.engine = "fbgemm"
    rng = np.random.default_rng(nd * 10 + per_channel)
    cm = QCLS(nd)(6, 4, 3, stride=2, padding=1, groups=2, rng=1)
    x, w, _sw, _zw, b = make(rng, nd, 6, 4, 2, 3, per_channel, hi=128, zero_zw=True)
    cm.set_weight_bias(w, b)
    # torch's state_dict holds the scale as float32: a scale exact in float32 keeps the
    # reprs equal (any other is rounded in torch's layer, as in torch's own round trips)
    cm.scale, cm.zero_point = 0.125, 77
    y = cm(x)
    tm = cm.to_torch()
    assert type(tm) is getattr(torch.ao.nn.quantized, f"Conv{nd}d")
    assert repr(tm) == repr(cm)
    assert (float(tm.scale), int(tm.zero_point)) == (0.125, 77)
    np.testing.assert_array_equal(tm.weight().int_repr().numpy(), w.int_repr())
    np.testing.assert_array_equal(tm(x.to_torch()).int_repr().numpy(), y.int_repr())
    # from_torch(to_torch(m)) is m again
    cm2 = QCLS(nd).from_torch(tm)
    np.testing.assert_array_equal(cm2(x).int_repr(), y.int_repr())
    assert cm2.weight().qscheme() == w.qscheme()
    # torch's state_dict into convt, convt's (format='torch') into torch
    tsd = tm.state_dict()
    csd = cm.state_dict()
    assert list(csd) == list(tsd)
    cm3 = QCLS(nd)(6, 4, 3, stride=2, padding=1, groups=2)
    cm3.load_state_dict(tsd)
    np.testing.assert_array_equal(cm3(x).int_repr(), y.int_repr())
    tm3 = getattr(torch.ao.nn.quantized, f"Conv{nd}d")(6, 4, 3, stride=2, padding=1, groups=2)
    tm3.load_state_dict(cm.state_dict(format="torch"))
    np.testing.assert_array_equal(tm3(x.to_torch()).int_repr().numpy(), y.int_repr())
    # pickling a layer converted from torch
    cm4 = pickle.loads(pickle.dumps(cm2))
    np.testing.assert_array_equal(cm4(x).int_repr(), y.int_repr())
    assert repr(cm4) == repr(tm)
    # a scale not exact in float32: torch's copy rounds it, the results stay equal
    cm.scale = 0.15
    tm5 = cm.to_torch()
    assert np.float32(tm5.scale) == np.float32(0.15)
    np.testing.assert_array_equal(tm5(x.to_torch()).int_repr().numpy(), cm(x).int_repr())


@needs_torch
@pytest.mark.filterwarnings("ignore::UserWarning")
@given(cfg=qconfigs())
def test_property_fbgemm_matches_torch(cfg):
    """Random geometries through torch's fbgemm Conv{n}d (integer padding, 'zeros' or
    'reflect' for 1-d/2-d), activations <= 127, weight zero points 0."""
    import torch

    assume("fbgemm" in torch.backends.quantized.supported_engines)
    nd, g = cfg["nd"], cfg["groups"]
    pm = cfg["padding_mode"] if cfg["padding_mode"] in ("zeros", "reflect") else "zeros"
    if nd == 3:
        pm = "zeros"
    pairs = resolve_padding(cfg["padding"], cfg["k"], cfg["d"])
    # torch's quantized layers take integer padding: 'valid', or 'same' when symmetric
    if isinstance(cfg["padding"], str):
        cfg = dict(cfg, padding=tuple(lo if lo == hi else 0 for lo, hi in pairs))
        pairs = resolve_padding(cfg["padding"], cfg["k"], cfg["d"])
    assume(min(conv_out_size(i, k, s, pl, pr, d) for i, k, s, (pl, pr), d in zip(
        cfg["spatial"], cfg["k"], cfg["s"], pairs, cfg["d"])) >= 1)
    if pm == "reflect":
        assume(all(max(pr) < i for pr, i in zip(pairs, cfg["spatial"])))
    rng = np.random.default_rng(cfg["seed"])
    cin, cout = cfg["cig"] * g, cfg["cog"] * g
    x, w, _sw, _zw, b = make(rng, nd, cin, cout, g, cfg["k"], cfg["per_channel"], hi=128,
                           zero_zw=True, spatial=cfg["spatial"], bias=cfg["bias"])
    tm = _torch_layer(torch, nd, "fbgemm", cin, cout, g, cfg["k"], cfg["s"], cfg["padding"],
                      cfg["d"], pm, w, b, 0.07, 90)
    ref = tm(x.to_torch()).int_repr().numpy()
    cm = QCLS(nd).from_torch(tm)
    np.testing.assert_array_equal(cm(x).int_repr(), ref)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("qscheme", ["per_tensor", "per_channel"])
def test_from_float_accepts_torch_float_module(torch, nd, qscheme):
    """from_float of a torch.nn.Conv{n}d is from_float of its convt copy."""
    torch.manual_seed(nd)
    tm = getattr(torch.nn, f"Conv{nd}d")(4, 6, 3, stride=2, padding=1, groups=2)
    kw = dict(input_scale=0.05, input_zero_point=3, output_scale=0.1, output_zero_point=100,
              weight_qscheme=qscheme)
    qa = QCLS(nd).from_float(tm, **kw)
    qb = QCLS(nd).from_float(FCLS(nd).from_torch(tm), **kw)
    assert repr(qa) == repr(qb)
    np.testing.assert_array_equal(qa.weight().int_repr(), qb.weight().int_repr())
    x = np.random.default_rng(nd).uniform(-1, 5, (2, 4) + SPATIAL[nd]).astype(np.float32)
    np.testing.assert_array_equal(qa(qa.quantize_input(x)).int_repr(),
                                  qb(qb.quantize_input(x)).int_repr())


@pytest.mark.parametrize("what", ["input", "weight", "bias"])
def test_out_overlapping_an_argument(what):
    buf = np.zeros(8192, np.uint8)
    xq = np.full((1, 4, 9), 7, np.uint8)
    wq = np.ones((6, 4, 3), np.int8)
    bias = np.zeros(6, np.float32)
    if what == "input":
        xq = buf[:36].reshape(1, 4, 9)
        xq[...] = 7
    elif what == "weight":
        wq = buf[:72].view(np.int8).reshape(6, 4, 3)
        wq[...] = 1
    else:
        bias = buf[:24].view(np.float32)
    x, w = convt.QTensor(xq, 0.1, 0), convt.QTensor(wq, 0.01, 0)
    out = buf[:6 * 7].reshape(1, 6, 7)
    with pytest.raises(ValueError, match="overlap"):
        QF.conv1d(x, w, bias, scale=0.1, zero_point=0, out=out)
    ok = buf[4096:4096 + 42].reshape(1, 6, 7)  # disjoint memory of the same buffer
    assert QF.conv1d(x, w, bias, scale=0.1, zero_point=0, out=ok).int_repr() is ok


def _near_tie_case(seed, hi):
    """Scales and biases putting most outputs within 1e-6 of a rounding tie (issue 9), on
    short and padded rows, weight zero points zero (even seeds) or not (odd seeds)."""
    rng = np.random.default_rng(3000 + seed)
    nd = (1, 2, 3)[seed % 3]
    g = int(rng.choice([1, 2, 4]))
    cin, cout = g * int(rng.integers(1, 9)), g * int(rng.integers(1, 24))
    k, s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    p = d * (k - 1)  # every input size below is large enough
    sp = {1: (int(rng.integers(3, 60)),), 2: (int(rng.integers(3, 9)), int(rng.integers(3, 20))),
          3: (4, 3, int(rng.integers(3, 9)))}[nd]
    sx = float(np.exp(rng.uniform(np.log(1e-3), np.log(0.2))))
    sw = float(np.exp(rng.uniform(np.log(1e-4), np.log(0.05))))
    a = sx * sw
    dd = int(rng.choice([1, 2, 4]))
    sy = a * dd * (1 + float(rng.choice([0, 1e-9, 1e-7])) * rng.uniform(-1, 1))
    half = 0.5 if dd == 1 else 0.0
    bias = ((rng.integers(-20000, 20000, cout) + half) * a
            * (1 + rng.choice([0, 1e-9, 1e-7, 1e-6], cout) * rng.uniform(-1, 1, cout)))
    bias = bias.astype(np.float32)
    zx, zy = int(rng.integers(0, hi)), int(rng.integers(0, 256))
    xq = rng.integers(0, hi, (2, cin) + sp).astype(np.uint8)
    wq = rng.integers(-128, 128, (cout, cin // g) + (k,) * nd).astype(np.int8)
    zw = rng.integers(-5, 5, cout) if seed % 2 else np.zeros(cout, np.int64)
    return nd, g, k, s, p, d, sx, sw, sy, bias, zx, zy, xq, wq, zw


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
def test_near_ties_bit_exact(seed, mode):
    nd, g, _k, s, p, d, sx, sw, sy, bias, zx, zy, xq, wq, zw = _near_tie_case(seed, 256)
    cout = wq.shape[0]
    y = QFN(nd)(convt.QTensor(xq, sx, zx), convt.QTensor(wq, np.full(cout, sw), zw, axis=0),
                bias, s, p, d, g, scale=sy, zero_point=zy, requant=mode)
    acc = accumulate_forward(xq, zx, wq, zw, s, p, d, g)
    np.testing.assert_array_equal(
        y.int_repr(), requantize(acc, mode, sx, np.full(cout, sw), bias, sy, zy))


@pytest.mark.parametrize("seed", range(0, 16, 2))  # weight zero points 0, as torch's fbgemm
def test_fbgemm_near_ties_match_torch(torch, seed):
    if "fbgemm" not in _engines(torch):
        pytest.skip("no fbgemm engine")
    nd, g, k, s, p, d, sx, sw, sy, bias, zx, zy, xq, wq, _zw = _near_tie_case(seed, 128)
    cin, cout = xq.shape[1], wq.shape[0]
    w = convt.QTensor(wq, sw, 0)
    tm = _torch_layer(torch, nd, "fbgemm", cin, cout, g, k, s, p, d, "zeros", w, bias, sy, zy)
    ref = tm(torch._make_per_tensor_quantized_tensor(torch.from_numpy(xq), sx, zx))
    y = QFN(nd)(convt.QTensor(xq, sx, zx), w, bias, s, p, d, g, scale=sy, zero_point=zy)
    np.testing.assert_array_equal(y.int_repr(), ref.int_repr().numpy())


@pytest.mark.parametrize("groups,cout,k,zw", [(16, 16, 5, 127), (16, 32, 3, 127),
                                              (1, 4, 3, 127), (16, 16, 5, -128)])
@pytest.mark.parametrize("mode", ["fbgemm", "qnnpack"])
def test_extreme_products_direct_and_depthwise(groups, cout, k, zw, mode):
    """(x - zx) * (w - zw) = 255 * -255 on every tap, depthwise and grouped (direct kernels
    that multiply int16 pairs) and dense: exact, no saturation."""
    xq = np.full((1, 16, 21, 23), 255, np.uint8)
    wq = np.full((cout, 16 // groups, k, k), -128 if zw > 0 else 127, np.int8)
    zws = np.full(cout, zw)
    w = convt.QTensor(wq, np.full(cout, 0.01), zws, axis=0)
    y = QF.conv2d(convt.QTensor(xq, 0.01, 0), w, None, padding=1, groups=groups, scale=50.0,
                  zero_point=128, requant=mode)
    acc = accumulate_forward(xq, 0, wq, zws, padding=1, groups=groups)
    assert abs(acc).max() > 2**18  # far beyond int16 on every case
    np.testing.assert_array_equal(
        y.int_repr(), requantize(acc, mode, 0.01, np.full(cout, 0.01), None, 50.0, 128))


# ----------------------------------------------------------------------------- fuzz findings
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("api", ["layer", "functional"])
def test_out_overlapping_the_input_is_refused_with_a_padding_mode(api, mode):
    """The overlap check looks at the caller's input, not the padded copy (found by fuzzing:
    the input was overwritten)."""
    xi = np.full((1, 2, 7), 7, np.uint8)
    x = convt.QTensor(xi, 0.1, 0)
    w = convt.QTensor(np.ones((2, 2, 3), np.int8), 0.01, 0)
    with pytest.raises(ValueError, match="out"):
        if api == "layer":
            m = convt.quantized.Conv1d(2, 2, 3, padding=1, padding_mode=mode, rng=0)
            m.set_weight_bias(w, None)
            m(x, out=xi)
        else:
            convt.quantized.functional.conv1d(x, w, padding=1, padding_mode=mode, scale=0.1,
                                              zero_point=0, out=xi)
    assert np.all(xi == 7)
