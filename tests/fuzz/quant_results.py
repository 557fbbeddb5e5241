"""A quantized result against reference_q.py (exact int64 sum + requantization, bit for bit,
both requant modes), and the scale/bias corners the README leaves open (``q_refine``)."""

import math

import numpy as np

from .rules import F32_TINY
from .verdict import failure


def _q_params(ns, api):
    """(x QTensor, weight QTensor, bias float32 (C_out,) or None, sy, zy) from a case."""
    x = ns.get("x")
    if api in ("qf", "cqf"):
        w, b, sy, zy = ns.get("w"), ns.get("b"), ns.get("sy"), ns.get("zy")
        if b is not None:
            b = np.asarray(b).astype(np.float32).reshape(-1)
    else:
        m = ns.get("m")
        if m is None:
            return None
        w, b, sy, zy = m.weight(), m.bias(), m.scale, m.zero_point
    return x, w, b, sy, zy


def _scales_of(q, n):
    """(scales float64, zero points int64) of a QTensor, per channel of ``n``."""
    if q.qscheme() == "per_tensor_affine":
        return np.full(n, float(q.q_scale())), np.full(n, int(q.q_zero_point()), np.int64)
    return (np.asarray(q.q_per_channel_scales(), np.float64),
            np.asarray(q.q_per_channel_zero_points(), np.int64))


def q_refine(case, ns):
    """Scale products and bias terms that the README leaves open: (issues, skip values)."""
    import convt
    try:
        got = _q_params(ns, case["api"])
        if got is None:
            return [], True
        x, w, b, sy, _ = got
        if not (isinstance(x, convt.QTensor) and isinstance(w, convt.QTensor)) \
                or x.qscheme() != "per_tensor_affine" or w.ndim < 2:
            return [], True
        sx = float(x.q_scale())
        forward = case["api"] in ("cqf", "cqm")  # weight (C_out, C_in/groups, *k), axis 0
        sw, _ = _scales_of(w, w.shape[0] if forward else w.shape[1])
        if case["api"] in ("qf", "cqf"):
            sy = float(sy)
        # the requant mode of a valid call; of an invalid one, the layer's, or either mode
        modes = [(case["check"] or {}).get("requant") or getattr(ns.get("m"), "requant", None)]
        if modes[0] not in ("fbgemm", "qnnpack"):
            modes = ["fbgemm", "qnnpack"]
    except Exception:  # noqa: BLE001 - arguments it cannot read: nothing to refine or check
        return [], True
    f32 = np.float32

    def normal(v):
        return bool(np.all(np.isfinite(v) & (np.abs(v) >= F32_TINY)))

    issues, skip = [], False
    with np.errstate(all="ignore"):
        a = (f32(sx) * sw.astype(f32)).astype(f32)
        M = (a / f32(sy)).astype(f32)
        R = ((sw.astype(f32) * f32(sx)).astype(f32) * (f32(1.0) / f32(sy))).astype(f32)
        if not (normal(a) and normal(M) and normal(R)):
            issues.append(("scale products outside the normal float32 range", ["scale"]))
            skip = True
        if b is not None:
            bb = np.asarray(b, np.float32)
            if bb.ndim == 1 and len(bb) and len(sw) and len(bb) % len(sw) == 0:
                if not np.all(np.isfinite(bb)):
                    issues.append(("non-finite quantized bias", ["bias"]))
                    skip = True
                else:
                    swt = np.tile(sw, len(bb) // len(sw))
                    ok = True
                    for mode in modes:
                        if mode == "fbgemm":
                            at = (f32(sx) * swt.astype(f32)).astype(f32)
                            rcp = (1.0 / at.astype(np.float64)).astype(f32)
                            term = (bb * rcp).astype(f32)
                            ok &= bool(np.all(np.isfinite(term)))
                        else:
                            inv = (f32(1.0) / (swt * sx).astype(f32)).astype(f32)
                            term = np.rint((bb * inv).astype(f32)).astype(np.float64)
                            ok &= bool(np.all(np.isfinite(term))
                                       and np.all(np.abs(term) <= 2**31 - 1))
                    if not ok:
                        issues.append(("bias term overflows", ["bias", "scale"]))
                        skip = True
    return issues, skip


def check_quant(chk, ns, values):
    """The verdict on the result ``y`` of a valid quantized call; ``values`` False: check its
    type, shape and quantization only."""
    from reference_q import accumulate, requantize

    import convt
    y = ns.get("y")
    if not isinstance(y, convt.QTensor):
        return failure("wrong result type", f"got {type(y).__name__}")
    q = y.int_repr()
    if q.dtype != np.uint8 or q.shape != tuple(chk["shape"]):
        return failure("wrong result shape/dtype", f"got {q.dtype} {q.shape}, expected "
                       f"uint8 {tuple(chk['shape'])}", ("shape",))
    x, w, b, sy, zy = _q_params(ns, chk["api"])
    if chk["api"] in ("qm", "cqm"):
        mode = ns["m"].requant
    else:
        mode = chk["requant"]
    if y.q_scale() != float(sy) or y.q_zero_point() != int(zy):
        return failure("wrong output quantization", f"got scale {y.q_scale()}, zero point "
                       f"{y.q_zero_point()}; expected {float(sy)}, {int(zy)}")
    if chk["out"] and q is not ns["out"]:
        return failure("result is not out", "out= given but another array returned")
    if not values:
        return None
    xq = np.asarray(x.int_repr())
    if not chk["batched"]:
        xq, q = xq[None], q[None]
    if q.size == 0:
        return None
    g = chk["groups"]
    wq = np.asarray(w.int_repr())
    sw, zw = _scales_of(w, wq.shape[1])
    taps = math.prod(wq.shape[2:]) * math.prod(xq.shape[2:]) * g
    if taps > 20_000 or q.size > 4_000_000:
        return None
    with np.errstate(all="ignore"):
        acc = accumulate(xq, x.q_zero_point(), wq, zw, stride=chk["stride"],
                         padding=chk["padding"], output_padding=chk["output_padding"],
                         groups=g, dilation=chk["dilation"])
        ref = requantize(acc, mode, float(x.q_scale()), np.tile(sw, g), b, float(sy), int(zy))
    ns["__stats__"]["checked"] = True
    if not np.array_equal(q, ref):
        bad = q != ref
        i = np.unravel_index(int(np.argmax(bad)), ref.shape)
        return failure("wrong result", f"{int(bad.sum())} of {bad.size} bytes differ; first "
                       f"at {tuple(map(int, i))}: got {int(q[i])}, expected {int(ref[i])} "
                       f"(acc {int(acc[i])})", ("quant", mode))
    return None
