"""Per-output-channel requantization constants, bit-compatible with PyTorch's engines.

The formulas and their float32 rounding steps are those of shared/QUANT_SPEC.md (measured
against torch 2.13); include/convt/requant.h applies them per output element.
"""

from __future__ import annotations

import numpy as np

MODES = ("fbgemm", "qnnpack")
_f32 = np.float32


def constants(mode: str, sx: float, sw: np.ndarray, sy: float, bias: np.ndarray | None):
    """(mode id, mult, fbias, ibias) for per-output-channel weight scales ``sw`` (C_out,)."""
    sw = np.asarray(sw, dtype=np.float64)
    n = sw.shape[0]
    if mode == "fbgemm":
        # a = f32(sx * sw); M = f32(a / sy); rcp = f32(1 / (double) a); fbias = f32(bias * rcp)
        a = (_f32(sx) * sw.astype(_f32)).astype(_f32)
        mult = (a / _f32(sy)).astype(_f32)
        rcp = (1.0 / a.astype(np.float64)).astype(_f32)
        fbias = (np.zeros(n, _f32) if bias is None
                 else (np.asarray(bias, _f32) * rcp).astype(_f32))
        return 0, np.ascontiguousarray(mult), np.ascontiguousarray(fbias), np.zeros(n, np.int32)
    if mode == "qnnpack":
        # qbias = rint(f32(bias * f32(1 / f32((double) sw * (double) sx))))
        # R = f32(f32(f32(sw) * f32(sx)) * f32(1 / f32(sy)))
        if bias is None:
            ibias = np.zeros(n, np.int32)
        else:
            inv = (_f32(1.0) / (sw * float(sx)).astype(_f32)).astype(_f32)
            q = np.rint((np.asarray(bias, _f32) * inv).astype(_f32)).astype(np.float64)
            ibias = np.clip(q, -2**31, 2**31 - 1).astype(np.int32)
        mult = ((sw.astype(_f32) * _f32(sx)).astype(_f32) * (_f32(1.0) / _f32(sy))).astype(_f32)
        return 1, np.ascontiguousarray(mult), np.zeros(n, _f32), ibias
    raise ValueError(f"requant must be one of {MODES}, got {mode!r}")
