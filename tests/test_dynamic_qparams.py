"""torch 2.13's dynamic quantization arithmetic, step by step: convt.quantized._dynamic_qparams
(the input's scale and zero point), convt.quantize_per_tensor (the input quantized),
QTensor.dequantize (the output dequantized) and convt.quantized.modules._quantize_weight (the
weight of from_float with torch's default dynamic qconfig).

The hand-computed cases run without torch; the comparisons skip cleanly when torch is missing.
_dynamic_qparams itself (NumPy only) is loaded by file path, independently of the installed
package; the other steps are the installed convt's.
"""

from __future__ import annotations

import importlib.util
import pathlib
import warnings

import numpy as np
import pytest
from reference_q import fma_f32

import convt
from convt.quantized.modules import _quantize_weight

_PATH = (pathlib.Path(__file__).resolve().parents[1] / "src" / "convt" / "quantized"
         / "_dynamic_qparams.py")
_spec = importlib.util.spec_from_file_location("_convt_dynamic_qparams", _PATH)
assert _spec is not None and _spec.loader is not None
dq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dq)

f32 = np.float32


# ----------------------------------------------------------------------------- without torch

@pytest.mark.parametrize("reduce_range, n", [(False, 255), (True, 127)])
def test_symmetric_unit_range(reduce_range: bool, n: int) -> None:
    # [-1, 1]: scale = 2 / n; zp_from_min = 0 + n/2, error n/2 vs from_max error n/2 -> tie,
    # so zp_from_max = n - n/2 = n/2 = 127.5 / 63.5 -> rint (half even) -> 128 / 64
    s, z = dq.choose_qparams(np.array([-1.0, 0.25, 1.0], f32), reduce_range)
    assert s == 2.0 / n
    assert z == (128 if n == 255 else 64)


@pytest.mark.parametrize("reduce_range", [False, True])
def test_all_zeros_and_empty(reduce_range: bool) -> None:
    # scale 0 -> replaced by 0.1; min = max = 0 -> zp_from_min (error 0 < qmax) = 0
    assert dq.choose_qparams(np.zeros((2, 3), f32), reduce_range) == (0.1, 0)
    assert dq.choose_qparams(np.zeros((0, 3), f32), reduce_range) == (0.1, 0)
    assert dq.choose_qparams(np.array([-0.0], f32), reduce_range) == (0.1, 0)


@pytest.mark.parametrize("reduce_range, qmax", [(False, 255), (True, 127)])
def test_positive_and_negative_constants(reduce_range: bool, qmax: int) -> None:
    # a positive constant c: range [0, c], zp 0; a negative one: range [c, 0], zp qmax
    s, z = dq.choose_qparams(np.full(7, 3.0, f32), reduce_range)
    assert (s, z) == (3.0 / qmax, 0)
    s, z = dq.choose_qparams(np.full(7, -3.0, f32), reduce_range)
    assert (s, z) == (3.0 / qmax, qmax)


def test_tiny_ranges_use_the_threshold() -> None:
    thr = float(f32(6.1e-5))
    assert dq.SMALL_SCALE_THRESHOLD == thr
    # one-sided tiny range: scale = threshold, zp stays at the zero end
    assert dq.choose_qparams(np.array([1e-6, 2e-6], f32), False) == (thr, 0)
    assert dq.choose_qparams(np.array([-1e-6, -2e-6], f32), True) == (thr, 127)
    # two-sided: both ends stretched by f32(thr / f32(scale)), zp from the stretched range
    x = np.array([-1e-4, 3e-4], f32)
    lo, hi = f32(-1e-4), f32(3e-4)
    scale = (float(hi) - float(lo)) / 255
    amp = f32(f32(thr) / f32(scale))
    lo2, hi2 = float(f32(lo * amp)), float(f32(hi * amp))
    e_min, e_max = 0 - abs(lo2 / thr), 255 - abs(hi2 / thr)
    zp = (0 - lo2 / thr) if e_min < e_max else (255 - hi2 / thr)
    assert dq.choose_qparams(x, False) == (thr, int(np.rint(zp)))


def test_denormal_ranges_fall_back_to_point_one() -> None:
    # 1 / f32(scale) overflows to inf -> scale 0.1
    for v in (1e-45, 1e-40, 1e-37):
        assert dq.choose_qparams(np.array([v], f32), False) == (0.1, 0)
        assert dq.choose_qparams(np.array([-v], f32), False) == (0.1, 0)


def test_huge_range_is_finite() -> None:
    big = float(np.finfo(np.float32).max)
    s, z = dq.choose_qparams(np.array([-big, big], f32), False)
    assert s == 2 * big / 255 and z == 128
    s, z = dq.choose_qparams(np.array([big], f32), True)
    assert s == big / 127 and z == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_raises(bad: float) -> None:
    x = np.array([0.5, bad, -1.0], f32)
    with pytest.raises(ValueError, match="input"):
        dq.choose_qparams(x, True)
    with pytest.raises(ValueError):
        dq.choose_qparams_from_min_max(-1.0, bad, False)
    with pytest.raises(ValueError):
        dq.choose_qparams_from_min_max(2.0, 1.0, False)


def test_float64_input_is_rounded_to_float32_first() -> None:
    x64 = np.array([-0.1, 0.7], np.float64)
    assert dq.choose_qparams(x64, True) == dq.choose_qparams(x64.astype(f32), True)


def test_reduce_range_by_engine() -> None:
    assert dq.effective_reduce_range("fbgemm", True) is True
    assert dq.effective_reduce_range("x86", True) is True
    assert dq.effective_reduce_range("onednn", True) is True
    assert dq.effective_reduce_range("qnnpack", True) is False
    assert dq.effective_reduce_range("fbgemm", False) is False
    with pytest.raises(ValueError):
        dq.effective_reduce_range("mkldnn", True)


def _quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The input step of a dynamic layer: convt.quantize_per_tensor to quint8, as integers."""
    q = convt.quantize_per_tensor(x, scale, zero_point, np.uint8)
    assert q.dtype == np.uint8 and q.shape == np.shape(x)
    assert (q.q_scale(), q.q_zero_point()) == (scale, zero_point)
    return q.int_repr()


def test_quantize_uses_one_rounding_of_x_times_inv_plus_zp() -> None:
    # x = -0.95f, scale 0.1: x * f32(1/f32(0.1)) = -9.49999988 exactly; rounded to float32
    # first it would be the tie -9.5 (-> -10 + 10 = 0); fused with + 10 it is 0.50000012 -> 1
    assert _quantize(np.array([-0.95, -0.85], f32), 0.1, 10).tolist() == [1, 1]
    # exact ties go to even; clamping at both ends
    inv = f32(1) / f32(0.5)
    x = (np.array([0.5, 1.5, 2.5, -0.5, 1000.0, -1000.0]) / inv).astype(f32)
    assert _quantize(x, 0.5, 0).tolist() == [0, 2, 2, 0, 255, 0]
    # the zero point is added *before* rounding, so ties resolve on x * inv + zp:
    # 3.5 -> 4, 4.5 -> 4, 5.5 -> 6, 2.5 -> 2 (torch 2.13 gives the same)
    assert _quantize(x, 0.5, 3).tolist() == [4, 4, 6, 2, 255, 0]


def test_fma_tie_correction() -> None:
    """The float-level property of the single rounding, on the tests' own fmaf
    (reference_q.fma_f32, the reference of the fbgemm requantization)."""
    # 641 * 6700417 = 2**32 + 1, so x * inv = 2**-21 + 2**-53 exactly. In double, 10 + x * inv
    # rounds to 10 + 2**-21, exactly halfway between the float32 numbers 10 and 10 + 2**-20;
    # the exact sum lies above the midpoint, so fmaf rounds up (ties-to-even would give 10).
    x = np.array([641 * 2.0 ** -30, -641 * 2.0 ** -30], f32)
    inv = f32(6700417 * 2.0 ** -23)
    assert float(x[0]) * float(inv) == 2.0 ** -21 + 2.0 ** -53
    r = fma_f32(x[:1], inv, f32(10))
    assert r[0] == np.nextafter(f32(10.0), f32(11.0))
    # mirrored: 11 - 2**-21 - 2**-53 lies below the midpoint of 11 - 2**-20 and 11
    r = fma_f32(x[1:], inv, f32(11))
    assert r[0] == np.nextafter(f32(11.0), f32(0.0))
    # no correction when the double sum is exact
    r = fma_f32(np.array([0.25, -3.0], f32), f32(2.0), f32(3))
    assert r.tolist() == [3.5, -3.0]


# The same double rounding at the integer level: x = A * 2**-24, inv = B * 2**-24 with
# A * B = 2**47 + 2**31 + 2, i.e. x * inv = 0.5 + 2**-17 + 2**-47 exactly.  130 + x * inv lies
# 2**-47 above 130.5 + 2**-17, the midpoint of the float32 neighbours 130.5 and 130.5 + 2**-16
# (float32 spacing 2**-16 in [128, 256)); fmaf rounds up to 130.5 + 2**-16 -> 131, while
# rounding to float64 first (spacing 2**-45) lands on the midpoint and then ties-to-even gives
# 130.5 -> 130.  Negated: 129.5 - 2**-17 - 2**-47 -> 129.5 - 2**-16 -> 129 (double-rounded:
# 129.5 -> 130).  torch 2.13 gives [131, 129]
# (test_torch_rounds_once_at_a_double_rounding_midpoint).
_DR_A, _DR_B = 11646897, 12083874
_DR_X = np.array([_DR_A * 2.0 ** -24, -_DR_A * 2.0 ** -24], f32)
_DR_INV = f32(_DR_B * 2.0 ** -24)
_DR_SCALE = float(f32(1.3883970975875854))  # f32(1 / f32(scale)) == _DR_INV


def test_double_rounding_case_is_constructed_right() -> None:
    assert _DR_A * _DR_B == 2 ** 47 + 2 ** 31 + 2
    assert f32(1) / f32(_DR_SCALE) == _DR_INV
    assert float(_DR_X[0]) * float(_DR_INV) == 0.5 + 2.0 ** -17 + 2.0 ** -47
    v = fma_f32(_DR_X, _DR_INV, f32(130))
    assert v.tolist() == [130.5 + 2.0 ** -16, 129.5 - 2.0 ** -16]
    assert np.rint(v).tolist() == [131, 129]


def test_quantize_rounds_once_at_a_double_rounding_midpoint() -> None:
    for zp in (130, 200, 250):  # any even zero point in [128, 256): the same float32 spacing
        assert _quantize(_DR_X, _DR_SCALE, zp).tolist() == [zp + 1, zp - 1]


def test_dequantize() -> None:
    q = np.array([0, 5, 255], np.uint8)
    out = convt.QTensor(q, 0.1, 5).dequantize()
    assert out.dtype == np.float32
    assert out.tolist() == [float(f32(0.1) * f32(-5)), 0.0, float(f32(0.1) * f32(250))]


@pytest.mark.parametrize("axis", [0, 1])
def test_weight_qparams(axis: int) -> None:
    w = np.array([[-0.5, 0.25], [0.1, 0.3]], f32)
    q = _quantize_weight(w, "per_tensor", axis)
    assert q.dtype == np.int8 and q.qscheme() == "per_tensor_affine"
    assert (q.q_scale(), q.q_zero_point()) == (float(f32(0.5) / f32(127.5)), 0)
    # inv = f32(1 / f32(0.5 / 127.5)) = 254.99998, a little below 255: -0.5 * inv =
    # -127.49999 -> -127, 0.3 * inv = 76.499998 -> 76 (torch gives the same)
    assert q.int_repr().tolist() == [[-127, 64], [25, 76]]
    z = _quantize_weight(np.zeros((4, 1), f32), "per_tensor", axis)
    assert (z.q_scale(), z.q_zero_point()) == (float(np.finfo(np.float32).eps), 0)
    assert not z.int_repr().any()


# ------------------------------------------------------------------------------- with torch

def _random_arrays(seed: int, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for t in range(count):
        n = int(rng.integers(1, 130))
        e = rng.uniform(-45, 38)
        x = rng.standard_normal(n) * 10.0 ** e
        kind = t % 6
        if kind == 1:
            x = np.abs(x)
        elif kind == 2:
            x = -np.abs(x)
        elif kind == 3:
            x = x + rng.uniform(-1, 1) * 10.0 ** rng.uniform(-3, 3)
        elif kind == 4:
            x = np.full(n, rng.standard_normal() * 10.0 ** e)
        with np.errstate(over="ignore"):
            x = x.astype(f32)
        x[~np.isfinite(x)] = 0
        out.append(x)
    big = float(np.finfo(np.float32).max)
    out += [np.array(v, f32) for v in (
        [0.0], [-0.0], [1e-45], [-1e-45], [1e-38, -1e-38], [1e-30], [-big, big], [big], [-big],
        [6.1e-5 * 255], [6.1e-5 * 127], [6.1e-5 * 254.9], [-6.1e-5 * 127.1, 1e-9],
        [1.0, -1.0], [2.0, -3.0], [0.1] * 9, [-7.0] * 3, [1.0, 2.0, 3.0])]
    return out


@pytest.fixture
def torch_x86():  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    engines = torch.backends.quantized.supported_engines
    old = torch.backends.quantized.engine
    # torch._choose_qparams_per_tensor ignores reduce_range under QNNPACK only
    engine = next((e for e in ("x86", "fbgemm", "onednn") if e in engines), None)
    if engine is None:
        pytest.skip("no x86 quantized engine")
    torch.backends.quantized.engine = engine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield torch
    torch.backends.quantized.engine = old


@pytest.mark.parametrize("reduce_range", [False, True])
def test_choose_qparams_matches_torch(torch_x86, reduce_range: bool) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    for x in _random_arrays(11 + reduce_range, 600):
        expected = torch._choose_qparams_per_tensor(torch.from_numpy(x), reduce_range)
        got = dq.choose_qparams(x, reduce_range)
        assert got == expected, (x.min(), x.max(), reduce_range)
        assert type(got[0]) is float and type(got[1]) is int


@pytest.mark.parametrize("reduce_range", [False, True])
def test_quantize_and_dequantize_match_torch(torch_x86, reduce_range: bool) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    for x in _random_arrays(21 + reduce_range, 150):
        s, z = dq.choose_qparams(x, reduce_range)
        qt = torch.quantize_per_tensor(torch.from_numpy(x), s, z, torch.quint8)
        q = convt.quantize_per_tensor(x, s, z, np.uint8)
        np.testing.assert_array_equal(q.int_repr(), qt.int_repr().numpy())
        d = q.dequantize()
        assert d.dtype == np.float32
        np.testing.assert_array_equal(d.view(np.int32), qt.dequantize().numpy().view(np.int32))
        # and every uint8 value, dequantized with these parameters
        every = np.arange(256, dtype=np.uint8)
        tq = torch._make_per_tensor_quantized_tensor(torch.from_numpy(every), s, z)
        np.testing.assert_array_equal(convt.QTensor(every, s, z).dequantize().view(np.int32),
                                      tq.dequantize().numpy().view(np.int32))


def test_quantize_matches_torch_near_ties(torch_x86) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    rng = np.random.default_rng(3)
    for _ in range(60):
        s = float(rng.uniform(1e-3, 1.0))
        z = int(rng.integers(0, 256))
        inv = f32(1) / f32(s)
        k = rng.integers(-300, 300, 257) + 0.5
        x = (k / inv).astype(f32)  # near-ties of x * inv
        x = np.concatenate([x, np.nextafter(x, f32(np.inf)), np.nextafter(x, f32(-np.inf))])
        for n in (1, 7, 15, 16, 17, 63, x.size):  # vector bodies and tails
            xs = np.ascontiguousarray(x[:n])
            expected = torch.quantize_per_tensor(torch.from_numpy(xs), s, z, torch.quint8)
            np.testing.assert_array_equal(_quantize(xs, s, z), expected.int_repr().numpy())


def test_quantize_matches_torch_at_the_hand_computed_cases(torch_x86) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    inv = f32(1) / f32(0.5)
    ties = (np.array([0.5, 1.5, 2.5, -0.5, 1000.0, -1000.0]) / inv).astype(f32)
    for x, s, z in ((np.array([-0.95, -0.85], f32), 0.1, 10), (ties, 0.5, 0), (ties, 0.5, 3)):
        expected = torch.quantize_per_tensor(torch.from_numpy(x), s, z, torch.quint8)
        np.testing.assert_array_equal(_quantize(x, s, z), expected.int_repr().numpy())


def test_torch_rounds_once_at_a_double_rounding_midpoint(torch_x86) -> None:  # type: ignore[no-untyped-def]
    """torch rounds x * inv + zp once (the construction above): [zp + 1, zp - 1]."""
    torch = torch_x86
    for zp in (130, 200, 250):
        t = torch.quantize_per_tensor(torch.from_numpy(_DR_X), _DR_SCALE, zp, torch.quint8)
        assert t.int_repr().tolist() == [zp + 1, zp - 1]


def test_quantize_matches_torch_double_rounding(torch_x86) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    for zp in (130, 200, 250):
        t = torch.quantize_per_tensor(torch.from_numpy(_DR_X), _DR_SCALE, zp, torch.quint8)
        np.testing.assert_array_equal(_quantize(_DR_X, _DR_SCALE, zp), t.int_repr().numpy())


def test_weight_qparams_match_from_float(torch_x86) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    from torch.ao.quantization import default_dynamic_qconfig

    rng = np.random.default_rng(4)
    for t in range(50):
        w = (rng.standard_normal((3, 4, 5)) * 10.0 ** rng.uniform(-4, 2)).astype(f32)
        if t % 5 == 1:
            w = np.abs(w)
        elif t % 5 == 2:
            w = -np.abs(w)
        elif t == 3:
            w[:] = 0
        obs = default_dynamic_qconfig.weight()
        obs(torch.from_numpy(w))
        scale, zp = obs.calculate_qparams()
        tq = torch.quantize_per_tensor(torch.from_numpy(w), float(scale), int(zp), torch.qint8)
        for axis in (0, 1):  # forward and transposed layers' output-channel axes
            q = _quantize_weight(w, "per_tensor", axis)
            assert (q.q_scale(), q.q_zero_point()) == (float(scale), int(zp))
            assert type(q.q_scale()) is float and type(q.q_zero_point()) is int
            np.testing.assert_array_equal(q.int_repr(), tq.int_repr().numpy())


@pytest.mark.parametrize("name", ["ConvTranspose2d", "Conv2d"])
def test_quantize_weight_is_the_weight_of_torch_from_float(torch_x86, name: str) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    import torch.ao.nn.quantized.dynamic as nnqd
    from torch.ao.quantization import default_dynamic_qconfig

    torch.manual_seed(5)
    f = getattr(torch.nn, name)(4, 6, 3, groups=2)
    f.qconfig = default_dynamic_qconfig
    tw = getattr(nnqd, name).from_float(f).weight()
    q = _quantize_weight(f.weight.detach().numpy(), "per_tensor", 1 if "Transpose" in name else 0)
    assert (q.q_scale(), q.q_zero_point()) == (tw.q_scale(), tw.q_zero_point())
    np.testing.assert_array_equal(q.int_repr(), tw.int_repr().numpy())


@pytest.mark.parametrize("reduce_range", [False, True])
@pytest.mark.parametrize("name", ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
                                  "Conv1d", "Conv2d", "Conv3d"])
def test_dynamic_forward_is_static_conv_with_input_qparams(torch_x86, name: str,
                                                           reduce_range: bool) -> None:  # type: ignore[no-untyped-def]
    """torch's dynamic layer == its static layer run with (scale, zp) = choose_qparams(x) for
    the input and the output, then dequantized (fbgemm engine: exact, documented)."""
    torch = torch_x86
    if "fbgemm" not in torch.backends.quantized.supported_engines:
        pytest.skip("fbgemm engine not available")
    import torch.ao.nn.quantized as nnq
    import torch.ao.nn.quantized.dynamic as nnqd
    from torch.ao.quantization import default_dynamic_qconfig

    torch.backends.quantized.engine = "fbgemm"
    d = int(name[-2])
    torch.manual_seed(d + 10 * reduce_range)
    kw = {"stride": 2, "padding": 1}
    f = getattr(torch.nn, name)(3, 5, 3, **kw)
    f.qconfig = default_dynamic_qconfig
    m = getattr(nnqd, name).from_float(f)
    x = torch.randn((2, 3) + (5,) * d) * 4 + 1
    y = m(x, reduce_range=reduce_range)
    s, z = dq.choose_qparams(x.numpy(), reduce_range)
    qx = convt.quantize_per_tensor(x.numpy(), s, z, np.uint8).to_torch()
    sm = getattr(nnq, name)(3, 5, 3, **kw)
    sm.set_weight_bias(m.weight(), m.bias())
    sm.scale, sm.zero_point = s, z  # the output requantized to the input's own parameters
    yq = sm(qx).int_repr().numpy()
    np.testing.assert_array_equal(convt.QTensor(yq, s, z).dequantize().view(np.int32),
                                  y.numpy().view(np.int32))
