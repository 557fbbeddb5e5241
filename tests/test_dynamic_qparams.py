"""convt.quantized._dynamic_qparams against torch 2.13's dynamic quantization arithmetic.

The hand-computed cases run without torch; the comparisons skip cleanly when torch is missing.
The module is loaded by file path so that these tests need neither the compiled engine nor the
rest of the package.
"""

from __future__ import annotations

import importlib.util
import pathlib
import warnings

import numpy as np
import pytest

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


def test_output_qparams_and_reduce_range_by_engine() -> None:
    assert dq.output_qparams(0.25, 17) == (0.25, 17)
    assert dq.effective_reduce_range("fbgemm", True) is True
    assert dq.effective_reduce_range("x86", True) is True
    assert dq.effective_reduce_range("onednn", True) is True
    assert dq.effective_reduce_range("qnnpack", True) is False
    assert dq.effective_reduce_range("fbgemm", False) is False
    with pytest.raises(ValueError):
        dq.effective_reduce_range("mkldnn", True)


def test_quantize_uses_one_rounding_of_x_times_inv_plus_zp() -> None:
    # x = -0.95f, scale 0.1: x * f32(1/f32(0.1)) = -9.49999988 exactly; rounded to float32
    # first it would be the tie -9.5 (-> -10 + 10 = 0); fused with + 10 it is 0.50000012 -> 1
    assert dq.quantize_input(np.array([-0.95, -0.85], f32), 0.1, 10).tolist() == [1, 1]
    # exact ties go to even; clamping at both ends
    inv = f32(1) / f32(0.5)
    x = (np.array([0.5, 1.5, 2.5, -0.5, 1000.0, -1000.0]) / inv).astype(f32)
    assert dq.quantize_input(x, 0.5, 0).tolist() == [0, 2, 2, 0, 255, 0]
    # the zero point is added *before* rounding, so ties resolve on x * inv + zp:
    # 3.5 -> 4, 4.5 -> 4, 5.5 -> 6, 2.5 -> 2 (torch 2.13 gives the same)
    assert dq.quantize_input(x, 0.5, 3).tolist() == [4, 4, 6, 2, 255, 0]


def test_fma_tie_correction() -> None:
    # 641 * 6700417 = 2**32 + 1, so x * inv = 2**-21 + 2**-53 exactly. In double, 10 + x * inv
    # rounds to 10 + 2**-21, exactly halfway between the float32 numbers 10 and 10 + 2**-20;
    # the exact sum lies above the midpoint, so fmaf rounds up (ties-to-even would give 10).
    x = np.array([641 * 2.0 ** -30, -641 * 2.0 ** -30], f32)
    inv = f32(6700417 * 2.0 ** -23)
    assert float(x[0]) * float(inv) == 2.0 ** -21 + 2.0 ** -53
    r = dq._fma_f32(x[:1], inv, 10)
    assert r[0] == np.nextafter(f32(10.0), f32(11.0))
    # mirrored: 11 - 2**-21 - 2**-53 lies below the midpoint of 11 - 2**-20 and 11
    r = dq._fma_f32(x[1:], inv, 11)
    assert r[0] == np.nextafter(f32(11.0), f32(0.0))
    # no correction when the double sum is exact
    r = dq._fma_f32(np.array([0.25, -3.0], f32), f32(2.0), 3)
    assert r.tolist() == [3.5, -3.0]


def test_dequantize() -> None:
    q = np.array([0, 5, 255], np.uint8)
    out = dq.dequantize_output(q, 0.1, 5)
    assert out.dtype == np.float32
    assert out.tolist() == [float(f32(0.1) * f32(-5)), 0.0, float(f32(0.1) * f32(250))]


def test_weight_qparams() -> None:
    w = np.array([[-0.5, 0.25], [0.1, 0.3]], f32)
    assert dq.weight_qparams(w) == (float(f32(0.5) / f32(127.5)), 0)
    assert dq.weight_qparams(np.zeros(4, f32)) == (float(np.finfo(np.float32).eps), 0)


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
    for x in _random_arrays(11 + reduce_range, 1500):
        expected = torch._choose_qparams_per_tensor(torch.from_numpy(x), reduce_range)
        got = dq.choose_qparams(x, reduce_range)
        assert got == expected, (x.min(), x.max(), reduce_range)
        assert type(got[0]) is float and type(got[1]) is int


@pytest.mark.parametrize("reduce_range", [False, True])
def test_quantize_and_dequantize_match_torch(torch_x86, reduce_range: bool) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    for x in _random_arrays(21 + reduce_range, 800):
        s, z = dq.choose_qparams(x, reduce_range)
        qt = torch.quantize_per_tensor(torch.from_numpy(x), s, z, torch.quint8)
        q = dq.quantize_input(x, s, z)
        np.testing.assert_array_equal(q, qt.int_repr().numpy())
        d = dq.dequantize_output(q, s, z)
        np.testing.assert_array_equal(d.view(np.int32), qt.dequantize().numpy().view(np.int32))


def test_quantize_matches_torch_near_ties(torch_x86) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    rng = np.random.default_rng(3)
    for _ in range(200):
        s = float(rng.uniform(1e-3, 1.0))
        z = int(rng.integers(0, 256))
        inv = f32(1) / f32(s)
        k = rng.integers(-300, 300, 257) + 0.5
        x = (k / inv).astype(f32)  # near-ties of x * inv
        x = np.concatenate([x, np.nextafter(x, f32(np.inf)), np.nextafter(x, f32(-np.inf))])
        for n in (1, 7, 15, 16, 17, 63, x.size):  # vector bodies and tails
            xs = np.ascontiguousarray(x[:n])
            expected = torch.quantize_per_tensor(torch.from_numpy(xs), s, z, torch.quint8)
            np.testing.assert_array_equal(dq.quantize_input(xs, s, z),
                                          expected.int_repr().numpy())


def test_weight_qparams_match_from_float(torch_x86) -> None:  # type: ignore[no-untyped-def]
    torch = torch_x86
    from torch.ao.quantization import default_dynamic_qconfig

    rng = np.random.default_rng(4)
    for _ in range(50):
        w = (rng.standard_normal(60) * 10.0 ** rng.uniform(-4, 2)).astype(f32)
        obs = default_dynamic_qconfig.weight()
        obs(torch.from_numpy(w))
        scale, zp = obs.calculate_qparams()
        assert dq.weight_qparams(w) == (float(scale), int(zp))


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
    so, zo = dq.output_qparams(s, z)
    qx = torch._make_per_tensor_quantized_tensor(
        torch.from_numpy(dq.quantize_input(x.numpy(), s, z)), s, z)
    sm = getattr(nnq, name)(3, 5, 3, **kw)
    sm.set_weight_bias(m.weight(), m.bias())
    sm.scale, sm.zero_point = so, zo
    yq = sm(qx).int_repr().numpy()
    np.testing.assert_array_equal(dq.dequantize_output(yq, so, zo).view(np.int32),
                                  y.numpy().view(np.int32))
