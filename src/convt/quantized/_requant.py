"""Per-output-channel requantization constants, bit-compatible with PyTorch's engines.

The formulas and their float32 rounding steps are those of shared/QUANT_SPEC.md (measured
against torch 2.13); include/convt/requant.h applies them per output element.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

MODES = ("fbgemm", "qnnpack")
_f32 = np.float32


_F32_TINY = np.finfo(np.float32).tiny


def _check_normal(v: npt.NDArray[Any], what: str, sx: float, sw: npt.NDArray[Any],
                  sy: float) -> None:
    """The products and quotients of scales must stay normal float32 numbers: a denormal,
    zero or infinite multiplier makes the requantization meaningless."""
    ok = np.isfinite(v) & (v >= _F32_TINY)
    if not np.all(ok):
        i = int(np.argmin(ok))
        raise ValueError(
            f"{what} is {float(v[i]):.6g} in float32, outside the normal float32 range: "
            f"input scale {sx:.6g}, weight scale {float(sw[i]):.6g}, scale {sy:.6g}; choose "
            f"scales whose products and quotients lie in [{_F32_TINY:.6g}, 3.40282e+38]")


def _check_bias_term(bias: npt.ArrayLike, term: npt.NDArray[Any], what: str) -> None:
    """A finite bias must give a finite bias term (an infinite one saturates every output)."""
    bad = ~np.isfinite(term)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"bias[{i}] = {float(np.asarray(bias)[i]):.6g} overflows float32 as "
                         f"{what}: the bias is too large for the input and weight scales")


def constants(mode: str, sx: float, sw: npt.ArrayLike, sy: float,
              bias: npt.NDArray[np.float32] | None) -> tuple[int, npt.NDArray[np.float32],
                                                             npt.NDArray[np.float32],
                                                             npt.NDArray[np.float32],
                                                             npt.NDArray[np.int32]]:
    """(mode id, mult, bias, rcp, ibias) for per-output-channel weight scales ``sw``
    (C_out,): the arrays of include/convt/requant.h's ``convt_requant``."""
    sw = np.asarray(sw, dtype=np.float64)
    n = sw.shape[0]
    if bias is not None and not np.all(np.isfinite(bias)):
        # the engines' float-to-int conversions are undefined for them (torch's give 0 or
        # INT_MIN-derived bytes); no quantized layer has a meaningful non-finite bias
        i = int(np.argmin(np.isfinite(bias)))
        raise ValueError(f"bias must be finite for a quantized convolution, got bias[{i}] = "
                         f"{float(np.asarray(bias)[i])}")
    a = (_f32(sx) * sw.astype(_f32)).astype(_f32)
    _check_normal(a, "the input's scale times the weight's scale", sx, sw, sy)
    m = (a / _f32(sy)).astype(_f32)  # fbgemm's multiplier M
    _check_normal(m, "the input's scale times the weight's scale divided by scale", sx, sw, sy)
    if mode == "fbgemm":
        # a = f32(sx * sw); M = f32(a / sy); rcp = f32(1 / (double) a); the kernels compute
        # fma(bias, rcp, f32(acc)) rounded once (include/convt/requant.h)
        rcp = (1.0 / a.astype(np.float64)).astype(_f32)
        b = np.zeros(n, _f32) if bias is None else np.asarray(bias, _f32)
        with np.errstate(over="ignore", invalid="ignore"):
            _check_bias_term(b, (b.astype(np.float64) * rcp).astype(_f32),
                             "bias / (input scale * weight scale)")
        return (0, np.ascontiguousarray(m), np.ascontiguousarray(b),
                np.ascontiguousarray(rcp), np.zeros(n, np.int32))
    if mode == "qnnpack":
        # qbias = rint(f32(bias * f32(1 / f32((double) sw * (double) sx))))
        # R = f32(f32(f32(sw) * f32(sx)) * f32(1 / f32(sy)))
        if bias is None:
            ibias = np.zeros(n, np.int32)
        else:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                inv = (_f32(1.0) / (sw * float(sx)).astype(_f32)).astype(_f32)
                q = np.rint((np.asarray(bias, _f32) * inv).astype(_f32)).astype(np.float64)
            _check_bias_term(bias, q, "the quantized bias, bias / (input scale * weight scale),")
            if np.any(np.abs(q) > 2**31 - 1):
                raise ValueError(
                    "the quantized bias, bias / (input scale * weight scale), does not fit in "
                    "int32 with requant='qnnpack'; got a bias of up to "
                    f"{float(np.max(np.abs(bias))):.6g} with input scale {sx:.6g} and weight "
                    f"scale {float(np.min(sw)):.6g}")
            ibias = q.astype(np.int32)
        mult = ((sw.astype(_f32) * _f32(sx)).astype(_f32) * (_f32(1.0) / _f32(sy))).astype(_f32)
        return 1, np.ascontiguousarray(mult), np.zeros(n, _f32), np.zeros(n, _f32), ibias
    raise ValueError(f"requant must be one of {MODES}, got {mode!r}")
