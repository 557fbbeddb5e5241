"""Dynamically quantized layers (convt.quantized.dynamic.ConvTranspose{1,2,3}d / Conv{1,2,3}d):
bit for bit against torch.ao.nn.quantized.dynamic on the fbgemm engine (not torch's default
'x86' engine, which is wrong for transposed convolutions with C_in/groups != C_out/groups on
AVX512-VNNI machines) and on qnnpack, and against an independent reference that needs no torch:

    scale, zp = choose_qparams(x, reduce_range)           (ChooseQuantizationParams)
    qx = clamp(rint(fmaf(x, f32(1 / f32(scale)), zp)), 0, 255)
    qy = requantize(exact int64 accumulator, scale, zp)  (reference_q / reference_conv)
    y  = f32(f32(scale) * (qy - zp))

Only the tests that use torch skip when it is missing.
"""

from __future__ import annotations

import copy
import doctest
import importlib.util
import pickle
import warnings

import numpy as np
import pytest
from reference_conv import accumulate_forward
from reference_q import accumulate, fma_f32, requantize

import convt
import convt.quantized.dynamic as D
from convt.quantized._dynamic_qparams import choose_qparams

f32 = np.float32

TRANSPOSED = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
FORWARD = ["Conv1d", "Conv2d", "Conv3d"]
NAMES = TRANSPOSED + FORWARD
SPATIAL = {1: (7,), 2: (5, 6), 3: (5, 5, 6)}
CIN, COUT = 4, 6  # C_in != C_out, also per group (2 vs 3 with groups=2)

# hyper-parameters: groups, stride, padding, dilation, bias, output_padding / padding_mode
T_CASES = [
    {},
    {"stride": 2, "padding": 1, "output_padding": 1},
    {"groups": 2, "dilation": 2, "bias": False},
    {"stride": 3, "padding": 2, "output_padding": 2, "dilation": 2, "groups": 2},
]
F_CASES = [
    {},
    {"stride": 2, "padding": 1},
    {"groups": 2, "dilation": 2, "bias": False},
    {"padding": 1, "padding_mode": "reflect", "stride": 2},
    {"padding": 2, "padding_mode": "replicate", "groups": 2},
    {"padding": 1, "padding_mode": "circular", "dilation": 2},
]


def _cases(names=NAMES):
    return [pytest.param(n, kw, id=f"{n}-{i}") for n in names
            for i, kw in enumerate(T_CASES if "Transpose" in n else F_CASES)]


def torch_ok(name, kw):
    """Whether torch's quantized layers take this padding_mode (zeros, and reflect but not in
    3-D; convt takes every one)."""
    mode = kw.get("padding_mode", "zeros")
    return mode == "zeros" or (mode == "reflect" and name != "Conv3d")


def _torch_cases(names=NAMES):
    return [p for p in _cases(names) if torch_ok(*p.values)]


def _torch_refused(names=FORWARD):
    return [p for p in _cases(names) if not torch_ok(*p.values)]


def nd_of(name):
    return int(name[-2])


def DCLS(name):
    return getattr(D, name)


def bits(a):
    a = np.asarray(a)
    assert a.dtype == np.float32, a.dtype
    return a.view(np.int32)


def assert_bits(a, b):
    np.testing.assert_array_equal(bits(a), bits(b))


def make_x(rng, name, batch=2, spatial=None):
    return (rng.standard_normal((batch, CIN) + (spatial or SPATIAL[nd_of(name)])) * 3
            + 0.5).astype(f32)


def float_layer(name, kw, seed=0):
    """A convt float layer with a non-zero bias (the layers start with random weights)."""
    f = getattr(convt, name)(CIN, COUT, 3, rng=seed, **kw)
    if f.bias is not None:
        f.bias = np.random.default_rng(seed + 1).uniform(-1, 1, COUT).astype(f32)
    return f


# --------------------------------------------------------------------- the independent reference

def reference(m, x, reduce_range, output_size_padding=None):
    """The dynamic forward of layer m on float input x (batched), from the references."""
    qnn = m.requant == "qnnpack"
    s, zp = choose_qparams(x, False if qnn else reduce_range)
    inv = f32(1) / f32(s)
    qx = np.clip(np.rint(fma_f32(x, inv, f32(zp))), 0, 255).astype(np.int64)
    w = m.weight()
    wq = w.int_repr()
    if w.qscheme() == "per_tensor_affine":
        cout = m.out_channels
        sw, zw = np.full(cout, w.q_scale()), np.full(cout, w.q_zero_point())
    else:  # a transposed weight's axis 1 holds C_out/groups channels, repeated per group
        reps = m.groups if m._transposed else 1
        sw = np.tile(w.q_per_channel_scales(), reps)
        zw = np.tile(w.q_per_channel_zero_points(), reps)
    if m._transposed:
        op = m.output_padding if output_size_padding is None else output_size_padding
        cog = m.out_channels // m.groups
        assert not zw.any()  # symmetric weights: one zero point serves every group
        acc = accumulate(qx, zp, wq, zw[:cog], stride=m.stride, padding=m.padding,
                         output_padding=op, groups=m.groups, dilation=m.dilation)
    else:
        acc = accumulate_forward(qx, zp, wq, zw, stride=m.stride, padding=m.padding,
                                 dilation=m.dilation, groups=m.groups,
                                 padding_mode=m.padding_mode)
    b = m.bias()
    qy = requantize(acc, m.requant, s, sw, b, s, zp)  # output qparams = the input's
    return (f32(s) * (qy.astype(np.int32) - zp).astype(f32)).astype(f32)


@pytest.mark.parametrize("reduce_range", [True, False])
@pytest.mark.parametrize("name, kw", _cases())
def test_matches_reference(name, kw, reduce_range):
    rng = np.random.default_rng(nd_of(name) + 7 * reduce_range)
    m = DCLS(name).from_float(float_layer(name, kw))
    x = make_x(rng, name)
    y = m(x, reduce_range)
    assert y.dtype == np.float32 and isinstance(y, np.ndarray)
    assert_bits(y, reference(m, x, reduce_range))
    assert np.abs(y).max() > 0
    assert_bits(m(x), y if reduce_range else m(x, True))  # the default is reduce_range=True
    assert_bits(m.forward(x, reduce_range=reduce_range), y)


@pytest.mark.parametrize("name, kw", _cases())
def test_qnnpack_mode_matches_reference_and_ignores_reduce_range(name, kw):
    rng = np.random.default_rng(3)
    m = DCLS(name).from_float(float_layer(name, kw), requant="qnnpack")
    x = make_x(rng, name)
    y = m(x, False)
    assert_bits(y, reference(m, x, False))
    assert_bits(m(x, True), y)
    assert_bits(m(x), y)


@pytest.mark.parametrize("name", NAMES)
def test_special_inputs_match_reference(name):
    """All zeros (scale 0.1), positive / negative constants, a tiny range (the 6.1e-5
    threshold), one-signed inputs, outputs far beyond the input's range (saturation)."""
    rng = np.random.default_rng(11)
    m = DCLS(name).from_float(float_layer(name, {"padding": 1}))
    shape = (1, CIN) + SPATIAL[nd_of(name)]
    xs = [np.zeros(shape, f32), np.full(shape, 2.5, f32), np.full(shape, -0.75, f32),
          (rng.standard_normal(shape) * 1e-4).astype(f32),
          np.abs(make_x(rng, name, 1)), -np.abs(make_x(rng, name, 1)),
          (make_x(rng, name, 1) * 1e3).astype(f32)]
    for x in xs:
        for rr in (True, False):
            assert_bits(m(x, rr), reference(m, x, rr))
    big = DCLS(name).from_float(float_layer(name, {}))
    w = big.weight()
    big.set_weight_bias(convt.QTensor(np.full(w.shape, 127, np.int8), 0.5, 0), None)
    y = big(np.ones(shape, f32), False)  # the float result is far above max(x) = 1
    assert_bits(y, reference(big, np.ones(shape, f32), False))
    assert y.max() == f32(f32(1 / 255) * 255)  # saturated at (255 - zp) * scale


@pytest.mark.parametrize("name", TRANSPOSED)
def test_per_channel_transposed_matches_reference(name):
    """Per-channel weights of transposed layers (axis 1, the output channels): torch has none."""
    rng = np.random.default_rng(5)
    f = float_layer(name, {"stride": 2, "groups": 2})
    w = f.weight.copy()
    w[:, 1] *= 20  # very different channel ranges
    f.weight = w
    m = DCLS(name).from_float(f, weight_qscheme="per_channel")
    w = m.weight()
    assert w.qscheme() == "per_channel_affine" and w.q_per_channel_axis() == 1
    assert len(set(w.q_per_channel_scales().tolist())) > 1
    x = make_x(rng, name)
    for rr in (True, False):
        assert_bits(m(x, rr), reference(m, x, rr))
    q = DCLS(name).from_float(f, weight_qscheme="per_channel", requant="qnnpack")
    assert_bits(q(x), reference(q, x, False))


@pytest.mark.parametrize("name", FORWARD)
def test_per_channel_forward_matches_reference(name):
    rng = np.random.default_rng(6)
    m = DCLS(name).from_float(float_layer(name, {"groups": 2}), weight_qscheme="per_channel")
    assert m.weight().q_per_channel_axis() == 0
    x = make_x(rng, name)
    assert_bits(m(x, True), reference(m, x, True))


# --------------------------------------------------------------------------- convt-only features

@pytest.mark.parametrize("name, kw", _cases())
def test_unbatched_input(name, kw):
    rng = np.random.default_rng(8)
    m = DCLS(name).from_float(float_layer(name, kw))
    x = make_x(rng, name, batch=1)
    for rr in (True, False):
        y = m(x[0], rr)
        assert y.shape == m(x, rr).shape[1:]
        assert_bits(y, m(x, rr)[0])  # the same qparams: x[0] has x's range


@pytest.mark.parametrize("name", TRANSPOSED)
def test_output_size(name):
    nd = nd_of(name)
    rng = np.random.default_rng(9)
    m = DCLS(name).from_float(float_layer(name, {"stride": 3, "padding": 1}))
    x = make_x(rng, name)
    base = m(x).shape[2:]
    other = DCLS(name).from_float(float_layer(name, {"stride": 3, "padding": 1,
                                                     "output_padding": 2}))
    other.set_weight_bias(m.weight(), m.bias())
    for extra in (0, 1, 2):
        size = tuple(n + extra for n in base)
        y = m(x, output_size=size)
        assert y.shape == x.shape[:1] + (COUT,) + size
        assert_bits(y, reference(m, x, True, output_size_padding=(extra,) * nd))
        if extra == 2:
            assert_bits(y, other(x))
    y = m(x[0], False, output_size=tuple(n + 1 for n in base))  # unbatched, positional reduce_range
    assert_bits(y, reference(m, x[:1], False, output_size_padding=(1,) * nd)[0])
    with pytest.raises(ValueError):
        m(x, output_size=tuple(n + 3 for n in base))


@pytest.mark.parametrize("name", NAMES)
def test_out_and_threads(name):
    rng = np.random.default_rng(10)
    m = DCLS(name).from_float(float_layer(name, {"stride": 2}))
    x = make_x(rng, name)
    y = m(x)
    out = np.full(y.shape, np.nan, f32)
    r = m(x, out=out)
    assert r is out
    assert_bits(out, y)
    assert_bits(m(x, num_threads=1), y)
    assert_bits(m(x.astype(np.float64)), y)  # float64 input is rounded to float32 first
    with pytest.raises((ValueError, TypeError)):
        m(x, out=np.zeros(y.shape, np.float64))
    with pytest.raises((ValueError, TypeError)):
        m(x, out=np.zeros(y.shape[:-1] + (y.shape[-1] + 1,), f32))


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_input_uses_its_elements(name):
    rng = np.random.default_rng(12)
    m = DCLS(name).from_float(float_layer(name, {}))
    big = (rng.standard_normal((2, CIN) + tuple(2 * n for n in SPATIAL[nd_of(name)])) * 2
           ).astype(f32)
    view = big[(Ellipsis,) + (slice(None, None, 2),) * nd_of(name)]
    assert not view.flags.c_contiguous
    assert_bits(m(view), m(np.ascontiguousarray(view)))


# ------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("name", NAMES)
def test_errors(name):
    m = DCLS(name).from_float(float_layer(name, {}))
    x = make_x(np.random.default_rng(0), name)
    for bad in (np.nan, np.inf, -np.inf):
        xb = x.copy()
        xb.flat[5] = bad
        with pytest.raises(ValueError, match="input"):
            m(xb)
        with pytest.raises(ValueError, match="input"):
            m(xb, False)
    for rr in (1, 0, None, "yes", 1.0):
        with pytest.raises(TypeError, match="reduce_range"):
            m(x, rr)
    for shape in (x.shape[2:], x.shape + (1,), (2,)):
        with pytest.raises(ValueError):
            m(np.ones(shape, f32))
    with pytest.raises(ValueError):
        m(np.ones((2, CIN + 1) + x.shape[2:], f32))  # channels
    with pytest.raises(TypeError):
        m(x.astype(np.int32))
    if "Transpose" not in name:
        with pytest.raises(TypeError):
            m(x, output_size=x.shape[2:])


# ---------------------------------------------------------------------- pickling, copies, docs

@pytest.mark.parametrize("requant", ["fbgemm", "qnnpack"])
@pytest.mark.parametrize("name, kw", _cases())
def test_pickle_and_deepcopy(name, kw, requant):
    rng = np.random.default_rng(13)
    m = DCLS(name).from_float(float_layer(name, kw), requant=requant)
    x = make_x(rng, name)
    y = m(x, False)
    for c in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert type(c) is type(m) and c is not m
        assert repr(c) == repr(m)
        assert c.requant == requant
        assert_bits(c(x, False), y)
        assert_bits(c(x), m(x))
        np.testing.assert_array_equal(c.weight().int_repr(), m.weight().int_repr())
    q = DCLS(name).from_float(float_layer(name, kw), weight_qscheme="per_channel")
    assert_bits(pickle.loads(pickle.dumps(q))(x), q(x))


def test_docstring_examples():
    result = doctest.testmod(D, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_layer_is_not_mutated_by_a_call():
    m = D.ConvTranspose2d.from_float(float_layer("ConvTranspose2d", {}))
    before = (repr(m), m.scale, m.zero_point)
    m(make_x(np.random.default_rng(1), "ConvTranspose2d") * 50)
    assert (repr(m), m.scale, m.zero_point) == before


# An input whose own qparams make x0 * inv + zp fall just beyond a float32 midpoint: rounding
# it to float64 first, then to float32, gives 130 instead of torch's 131 (a quantum off at the
# output; see test_dynamic_qparams.py).
_DR_X = np.array([-180.49162, 173.54964] + [11646897 * 2.0 ** -24] * 4, f32).reshape(1, 1, 6)


def test_double_rounding_input_is_constructed_right():
    s, zp = choose_qparams(_DR_X, False)
    assert (f32(s), zp) == (f32(1.3883970975875854), 130)
    inv = f32(1) / f32(s)
    assert inv == f32(12083874 * 2.0 ** -24)
    assert np.rint(fma_f32(_DR_X, inv, f32(zp))).ravel().tolist() == [0, 255] + [131] * 4


def test_double_rounding_input():
    m = D.Conv1d(1, 1, 1, bias=False)
    m.set_weight_bias(convt.QTensor(np.full((1, 1, 1), 127, np.int8), float(f32(1 / 127.5)), 0),
                      None)
    assert_bits(m(_DR_X, False), reference(m, _DR_X, False))


# ----------------------------------------------------------------------------------- vs torch

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch is not installed")


@pytest.fixture
def torch():
    t = pytest.importorskip("torch")
    if "fbgemm" not in t.backends.quantized.supported_engines:
        pytest.skip("the fbgemm quantized engine is not available")
    old = t.backends.quantized.engine
    t.backends.quantized.engine = "fbgemm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "poor numerical accuracy", deprecated quint8
        yield t
    t.backends.quantized.engine = old


def torch_float(torch, name, kw, seed=0):
    from torch.ao.quantization import default_dynamic_qconfig

    torch.manual_seed(seed)
    f = getattr(torch.nn, name)(CIN, COUT, 3, **kw)
    f.qconfig = default_dynamic_qconfig
    return f


def torch_dynamic(torch, name):
    return getattr(torch.ao.nn.quantized.dynamic, name)


@pytest.mark.parametrize("source", ["torch_float", "convt_float", "from_torch"])
@pytest.mark.parametrize("name, kw", _torch_cases())
def test_matches_torch_fbgemm(torch, name, kw, source):
    f = torch_float(torch, name, kw, seed=nd_of(name))
    tm = torch_dynamic(torch, name).from_float(f)
    if source == "torch_float":
        m = DCLS(name).from_float(f)
    elif source == "convt_float":
        m = DCLS(name).from_float(getattr(convt, name).from_torch(f))
    else:
        m = DCLS(name).from_torch(tm)
    assert type(m) is DCLS(name) and m.requant == "fbgemm"
    assert m.weight().q_scale() == tm.weight().q_scale()
    np.testing.assert_array_equal(m.weight().int_repr(), tm.weight().int_repr().numpy())
    assert repr(m) == repr(tm)
    torch.manual_seed(100)
    x = torch.randn((2, CIN) + SPATIAL[nd_of(name)]) * 3 + 0.5
    for rr in (True, False):
        y = tm(x, reduce_range=rr).numpy()
        assert_bits(m(x.numpy(), rr), y)
        assert_bits(m(x, rr), y)  # a torch tensor as input
    assert_bits(m(x.numpy()), tm(x).numpy())  # both default to reduce_range=True


@pytest.mark.parametrize("name", NAMES)
def test_special_inputs_match_torch(torch, name):
    tm = torch_dynamic(torch, name).from_float(torch_float(torch, name, {"padding": 1}))
    m = DCLS(name).from_torch(tm)
    shape = (1, CIN) + SPATIAL[nd_of(name)]
    g = torch.Generator().manual_seed(4)
    xs = [torch.zeros(shape), torch.full(shape, 2.5), torch.full(shape, -0.75),
          torch.randn(shape, generator=g) * 1e-4, torch.randn(shape, generator=g).abs(),
          -torch.randn(shape, generator=g).abs(), torch.randn(shape, generator=g) * 1e3]
    for x in xs:
        for rr in (True, False):
            assert_bits(m(x.numpy(), rr), tm(x, reduce_range=rr).numpy())


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_matches_torch_of_contiguous(torch, name):
    tm = torch_dynamic(torch, name).from_float(torch_float(torch, name, {}))
    m = DCLS(name).from_torch(tm)
    big = torch.randn((2, CIN) + tuple(2 * n for n in SPATIAL[nd_of(name)]))
    view = big[(Ellipsis,) + (slice(None, None, 2),) * nd_of(name)]
    assert_bits(m(view.numpy()), tm(view.contiguous()).numpy())


@pytest.mark.parametrize("name, kw", _torch_refused())
def test_torch_refuses_some_padding_modes(torch, name, kw):
    """convt's layers take every padding_mode (checked against the reference above); torch's
    quantized ones only 'zeros' and, in 1-D and 2-D, 'reflect'."""
    f = torch_float(torch, name, kw)
    with pytest.raises((ValueError, RuntimeError, AssertionError)):
        torch_dynamic(torch, name).from_float(f)
    with pytest.raises((ValueError, RuntimeError, AssertionError)):
        torch_dynamic(torch, name)(CIN, COUT, 3, **kw)
    m = DCLS(name).from_float(f)
    assert m.padding_mode == kw["padding_mode"]
    with pytest.raises((ValueError, RuntimeError, AssertionError)):
        m.to_torch()


@pytest.mark.parametrize("name, kw", _torch_cases())
def test_to_torch_round_trip(torch, name, kw):
    m = DCLS(name).from_float(float_layer(name, kw))
    tm = m.to_torch()
    assert type(tm) is torch_dynamic(torch, name)
    assert repr(tm) == repr(m)
    assert tm.padding_mode == m.padding_mode
    assert tm.weight().q_scale() == m.weight().q_scale()
    np.testing.assert_array_equal(tm.weight().int_repr().numpy(), m.weight().int_repr())
    x = make_x(np.random.default_rng(14), name)
    for rr in (True, False):
        assert_bits(m(x, rr), tm(torch.from_numpy(x), reduce_range=rr).numpy())
    back = DCLS(name).from_torch(tm)
    assert repr(back) == repr(m)
    assert_bits(back(x), m(x))


@pytest.mark.parametrize("name, kw", _torch_cases())
def test_repr_matches_torch_constructor(torch, name, kw):
    assert repr(DCLS(name)(CIN, COUT, 3, **kw)) == repr(torch_dynamic(torch, name)(CIN, COUT, 3,
                                                                                 **kw))


@pytest.mark.parametrize("name", TRANSPOSED)
def test_output_size_matches_torch_output_padding(torch, name):
    """torch's dynamic transposed layers have no output_size: compare with output_padding."""
    nd = nd_of(name)
    f = torch_float(torch, name, {"stride": 3, "padding": 1, "output_padding": 2})
    tm = torch_dynamic(torch, name).from_float(f)
    m = DCLS(name)(CIN, COUT, 3, stride=3, padding=1)  # output_padding 0
    m.set_weight_bias(tm.weight(), tm.bias())
    x = torch.randn((2, CIN) + SPATIAL[nd])
    y = tm(x).numpy()
    assert_bits(m(x.numpy(), output_size=y.shape[2:]), y)
    assert m(x.numpy()).shape[2:] == tuple(n - 2 for n in y.shape[2:])
    assert_bits(m(x.numpy()[1], output_size=y.shape[2:]), tm(x[1:]).numpy()[0])


@pytest.mark.parametrize("name", FORWARD)
def test_per_channel_forward_matches_torch(torch, name):
    from torch.ao.quantization import per_channel_dynamic_qconfig

    f = torch_float(torch, name, {"groups": 2, "padding": 1})
    f.qconfig = per_channel_dynamic_qconfig
    tm = torch_dynamic(torch, name).from_float(f)
    for m in (DCLS(name).from_torch(tm), DCLS(name).from_float(f, weight_qscheme="per_channel")):
        w, tw = m.weight(), tm.weight()
        np.testing.assert_array_equal(w.int_repr(), tw.int_repr().numpy())
        np.testing.assert_array_equal(w.q_per_channel_scales(),
                                      tw.q_per_channel_scales().numpy())
        x = torch.randn((2, CIN) + SPATIAL[nd_of(name)]) * 2
        for rr in (True, False):
            assert_bits(m(x.numpy(), rr), tm(x, reduce_range=rr).numpy())


@pytest.mark.parametrize("name, kw", _torch_cases(["ConvTranspose1d", "ConvTranspose2d",
                                                    "Conv1d", "Conv2d"]))
def test_qnnpack_matches_torch_qnnpack(torch, name, kw):
    if "qnnpack" not in torch.backends.quantized.supported_engines:
        pytest.skip("the qnnpack quantized engine is not available")
    torch.backends.quantized.engine = "qnnpack"  # the fixture restores the engine
    f = torch_float(torch, name, kw, seed=3)
    tm = torch_dynamic(torch, name).from_float(f)
    for m in (DCLS(name).from_float(f, requant="qnnpack"),
              DCLS(name).from_torch(tm, requant="qnnpack")):
        torch.manual_seed(15)
        x = torch.randn((2, CIN) + SPATIAL[nd_of(name)]) * 3 + 0.5
        for rr in (True, False):  # torch ignores reduce_range under QNNPACK (and warns)
            assert_bits(m(x.numpy(), rr), tm(x, reduce_range=rr).numpy())


def test_double_rounding_input_matches_torch(torch):
    f = torch.nn.Conv1d(1, 1, 1, bias=False)
    with torch.no_grad():
        f.weight.fill_(1.0)
    f.qconfig = torch.ao.quantization.default_dynamic_qconfig
    tm = torch_dynamic(torch, "Conv1d").from_float(f)
    y = tm(torch.from_numpy(_DR_X), reduce_range=False).numpy()
    assert y[0, 0, 2] > 0  # 131 - 130 quanta
    assert_bits(D.Conv1d.from_torch(tm)(_DR_X, False), y)
    assert_bits(D.Conv1d.from_float(f)(_DR_X, False), y)


@needs_torch
def test_torch_refuses_what_convt_accepts():
    """The convt-only features really are convt-only (so the torch-free tests are needed)."""
    import torch

    torch.backends.quantized.engine, old = "fbgemm", torch.backends.quantized.engine
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tm = torch.ao.nn.quantized.dynamic.ConvTranspose2d(CIN, COUT, 3, stride=2)
            x = torch.randn(1, CIN, 4, 4)
            with pytest.raises(TypeError):
                tm(x, output_size=[10, 10])
            with pytest.raises(ValueError):
                tm(x[0])
    finally:
        torch.backends.quantized.engine = old
