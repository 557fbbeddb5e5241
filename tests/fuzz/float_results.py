"""A float result against reference.py: float64, within 1e-5 * the same convolution of |x|,
|w|, |b| (+ 1e-6), NaN/inf where the definition puts them."""

import math

import numpy as np

from .rules import F32_MAX, out_spatial
from .verdict import failure, same_array


def _float_reference(x, w, b, prm):
    """(ref, bound) in float64 or None when too costly; x batched float32, w (Cin, Cog, *k)."""
    from reference import conv_transpose_naive, conv_transpose_ref, error_bound
    nd = x.ndim - 2
    s, p, op, d, g = (prm[k] for k in ("stride", "padding", "output_padding", "dilation",
                                       "groups"))
    full = [(x.shape[2 + a] - 1) * s[a] + d[a] * (w.shape[2 + a] - 1) + 1 + op[a]
            for a in range(nd)]
    osp = out_spatial(x.shape[2:], w.shape[2:], s, p, d, op)
    buf = x.shape[0] * w.shape[1] * g * math.prod(max(f, p[a] + osp[a])
                                                  for a, f in enumerate(full))
    params = {"stride": s, "padding": p, "output_padding": op, "groups": g, "dilation": d}
    with np.errstate(all="ignore"):
        if buf <= 4_000_000:
            return (conv_transpose_ref(x, w, b, **params),
                    error_bound(x, w, b, **params))
        loops = x.shape[0] * x.shape[1] * w.shape[1] * math.prod(x.shape[2:]) \
            * math.prod(w.shape[2:])
        if loops <= 20_000 and math.prod(osp) * x.shape[0] * w.shape[1] * g <= 4_000_000:
            ref = conv_transpose_naive(x, w, b, **params)
            mag = conv_transpose_naive(np.abs(x), np.abs(w), None if b is None else np.abs(b),
                                       **params)
            return ref, 1e-5 * mag + 1e-6
    return None


def _compare_float(y, ref, bound):
    """None or a description of the first wrong element (NaN/inf aware)."""
    y64 = y.astype(np.float64)
    mag = (bound - 1e-6) / 1e-5
    with np.errstate(all="ignore"):
        finite_ok = np.isfinite(mag) & (mag < F32_MAX / 2) & np.isfinite(ref)
        err = np.abs(y64 - ref)
        bad = finite_ok & ~(err <= bound)
        bad |= np.isnan(ref) & ~np.isnan(y64)
        bad |= np.isinf(ref) & ~((y64 == ref) | np.isnan(y64))
    if not bad.any():
        return None
    i = np.unravel_index(int(np.argmax(bad)), ref.shape)
    return (f"{int(bad.sum())} of {bad.size} elements wrong; first at {tuple(map(int, i))}: "
            f"got {y64[i]!r}, expected {ref[i]!r} (bound {bound[i]:.3g})")


def check_float(chk, ns):
    """The verdict on the result ``y`` of a valid float call (``chk``: from the model)."""
    y = ns.get("y")
    nd = chk["nd"]
    if not isinstance(y, np.ndarray):
        return failure("wrong result type", f"got {type(y).__name__}")
    if y.dtype != np.float32 or y.shape != tuple(chk["shape"]):
        return failure("wrong result shape/dtype", f"got {y.dtype} {y.shape}, expected "
                       f"float32 {tuple(chk['shape'])}", ("shape",))
    if chk["out"] and y is not ns["out"]:
        return failure("result is not out", "out= given but another array returned")
    if chk["api"] == "f":
        x, w, b = ns["x"], np.asarray(ns["w"]).astype(np.float32), ns["b"]
        if w.ndim == nd + 3:
            w = w.reshape((-1,) + w.shape[2:])
    else:
        m = ns["m"]
        x, w, b = ns["x"], np.asarray(m.weight), m.bias
        for name, have in (("wa", w), ("ba", b)):
            if name in ns:
                want = None if ns[name] is None else np.asarray(ns[name]).astype(np.float32)
                if (want is None) != (have is None) or want is not None and not (
                        want.size == have.size and same_array(want.reshape(have.shape), have)):
                    return failure("layer parameter not as assigned",
                                   f"m.{'weight' if name == 'wa' else 'bias'} differs from the "
                                   f"array assigned to it")
    x = np.asarray(x).astype(np.float32)
    if not chk["batched"]:
        x = x[None]
        y = y[None]
    if b is not None:
        b = np.asarray(b).astype(np.float32).reshape(-1)
    if y.size == 0:
        return None
    rb = _float_reference(x.astype(np.float64), w.astype(np.float64),
                          None if b is None else b.astype(np.float64), chk)
    if rb is None:
        return None
    ns["__stats__"]["checked"] = True
    err = _compare_float(y, *rb)
    return None if err is None else failure("wrong result", err, ("float",))
