"""The quantized API's own argument rules: scales, zero points, QTensors, ``requant``."""

import math
import numbers

import numpy as np

from .rules import (
    F32_MAX,
    F32_TINY,
    as_array,
    bias_shape,
    float_arr,
    input_shape,
    is_int,
)
from .values import QMark


def scale_ok(v, name, iss):
    """A real number (not bool) that is a normal positive float32 -> float, else None."""
    if isinstance(v, (bool, np.bool_)):
        iss.invalid(f"{name}: bool", name)
        return None
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "fiu":
        iss.maybe_(f"{name}: 0-d array", name)
        v = v.item()
    if not isinstance(v, (numbers.Real, np.floating, np.integer)):
        iss.invalid(f"{name}: type {type(v).__name__}", name)
        return None
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not F32_TINY <= f <= F32_MAX:
        iss.invalid(f"{name}: {f:.3g} not a normal float32 > 0", name)
        return None
    return f


def zero_point_ok(v, lo, hi, name, iss):
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iu":
        iss.maybe_(f"{name}: 0-d array", name)
        v = v.item()
    if not is_int(v):
        iss.invalid(f"{name}: type {type(v).__name__}", name)
        return None
    if not lo <= int(v) <= hi:
        iss.invalid(f"{name}: {int(v)} outside [{lo}, {hi}]", name)
        return None
    return int(v)


def qtensor_shape(q, role, want, iss, w_axis=1):
    """Model of building a QTensor and passing it as ``role`` (want: 'u8' or 'i8'; a
    per-channel weight must be quantized along ``w_axis``: 1 transposed, 0 forward).
    Returns the shape of its integer array, or None."""
    if not isinstance(q, QMark):
        a = as_array(q)
        iss.invalid(f"{role}: not a QTensor", role)
        return a.shape if a is not None else None
    a = as_array(q.arr)
    if q.via == "quantize":
        scale_ok(q.scale, "scale", iss)
        zero_point_ok(q.zp, 0, 255, "zero_point", iss)
        if a is None or a.dtype.kind != "f":
            iss.invalid("quantize_per_tensor: input not float", "input", "x")
            return a.shape if a is not None else None
        dt = np.dtype(np.uint8)
    else:
        if a is None:
            iss.invalid("int_repr: not an array", "int_repr", "dtype")
            return None
        dt = a.dtype
        if dt not in (np.dtype(np.uint8), np.dtype(np.int8)):
            iss.invalid(f"int_repr: dtype {dt}", "int_repr", "dtype")
            return a.shape
        lo, hi = (0, 255) if dt == np.uint8 else (-128, 127)
        if q.axis is None:
            scale_ok(q.scale, "scale", iss)
            zero_point_ok(q.zp, lo, hi, "zero_point", iss)
        else:
            ax = q.axis
            if not is_int(ax):
                iss.invalid("axis: not an int", "axis")
                return a.shape
            if not -a.ndim <= int(ax) < a.ndim:
                iss.invalid("axis: out of range", "axis")
                return a.shape
            ax = int(ax) % a.ndim
            sc, zps = as_array(q.scale), as_array(q.zp)
            n = a.shape[ax]
            if sc is None or sc.dtype.kind not in "fiu" or sc.shape != (n,):
                iss.invalid("per-channel scales: type/shape", "scale")
            elif not np.all((sc.astype(np.float64) >= F32_TINY)
                            & (sc.astype(np.float64) <= F32_MAX)):
                iss.invalid("per-channel scales: not normal float32", "scale")
            if zps is None or zps.dtype.kind not in "iu" or zps.shape != (n,):
                iss.invalid("per-channel zero_points: type/shape", "zero_point")
            elif zps.size and (zps.min() < lo or zps.max() > hi):
                iss.invalid("per-channel zero_points: out of range", "zero_point")
            if role == "input":
                iss.invalid("input: per-channel", "input")
                return a.shape
            if ax != w_axis:
                iss.invalid(f"weight: per-channel axis != {w_axis}", "weight", "axis")
                return a.shape
    if dt != np.dtype(np.uint8 if want == "u8" else np.int8):
        iss.invalid(f"{role}: dtype {dt}", role)
    return a.shape


def q_bias(obj, cout, nd, iss):
    if obj is None:
        return
    bias_shape(float_arr(obj, "bias", iss), cout, nd, iss, exact_only=True)


def requant_mode(v, iss):
    if isinstance(v, np.ndarray):
        if v.shape == (1,) and v.dtype.kind == "U" and v[0] in ("fbgemm", "qnnpack"):
            iss.maybe_("requant: 1-element array", "requant")
            return str(v[0])
        iss.invalid("requant: array", "requant")
        return None
    if isinstance(v, str) and v in ("fbgemm", "qnnpack"):
        return str(v)
    iss.invalid(f"requant: {v!r}", "requant")
    return None


def q_conv(nd, a, iss, wshape_expect=None):
    """Input/weight QTensor rules of the quantized operator -> (xb, batched, wn)."""
    xshape = qtensor_shape(a["input"], "input", "u8", iss)
    xb, batched = input_shape(xshape, nd, iss)
    wn = None
    if "weight" in a:
        wshape = qtensor_shape(a["weight"], "weight", "i8", iss)
        if wshape is not None:
            if len(wshape) != nd + 2:
                iss.invalid(f"weight: rank {len(wshape)}", "weight")
            elif any(v == 0 for v in wshape[1:]):
                iss.invalid("weight: empty dimension", "weight")
            elif wshape_expect is not None and tuple(wshape) != wshape_expect:
                iss.invalid("weight: shape differs from the layer's", "weight")
            else:
                wn = tuple(wshape)
        else:
            iss.allow("weight")
    return xb, batched, wn
