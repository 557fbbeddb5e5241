"""A forward result against reference_conv.py: float64 within 1e-5 * the same convolution of
|x|, |w|, |b| (+ 1e-6), NaN/inf where the definition puts them; quantized: the exact int64
accumulator requantized by reference_q.py, bit for bit, both requant modes.

``conv_forward_ref`` / ``accumulate_forward`` materialise the padded input; when that is too
big (huge paddings or dilations that cancel into a small output) and the padding is zeros,
``conv_forward_naive`` (index arithmetic only) computes the few outputs instead.
"""

import math

import numpy as np

from .float_results import _compare_float
from .quant_results import _q_params, _scales_of, check_quant
from .verdict import failure, same_array

MAX_PADDED = 4_000_000      # elements of the padded input the references may materialise
MAX_NAIVE = 20_000          # scalar multiply-adds of the naive reference


def _cost(x_shape, w_shape, chk):
    """(elements of the padded input or the output the references materialise, whichever
    is more; naive multiply-adds) of the reference for ``chk``."""
    pairs = chk["pairs"]
    padded = x_shape[0] * x_shape[1] * math.prod(i + lo + hi for i, (lo, hi)
                                                  in zip(x_shape[2:], pairs))
    out = x_shape[0] * w_shape[0] * math.prod(chk["shape"][-len(pairs):])
    return max(padded, out), out * w_shape[1] * math.prod(w_shape[2:])


def _params(chk):
    return {"stride": chk["stride"], "padding": chk["pairs"], "dilation": chk["dilation"],
            "groups": chk["groups"]}


def _float_reference(x, w, b, chk):
    """(ref, bound) in float64 or None when too costly; x batched, w (C_out, C_in/g, *k)."""
    from reference_conv import conv_forward_naive, conv_forward_ref, error_bound_forward
    padded, naive = _cost(x.shape, w.shape, chk)
    prm = _params(chk)
    absb = None if b is None else np.abs(b)
    with np.errstate(all="ignore"):
        if padded <= MAX_PADDED and math.prod(w.shape[2:]) * chk["groups"] <= 5000:
            mode = chk["padding_mode"]
            return (conv_forward_ref(x, w, b, padding_mode=mode, **prm),
                    error_bound_forward(x, w, b, padding_mode=mode, **prm))
        if naive <= MAX_NAIVE and chk["padding_mode"] == "zeros":
            ref = conv_forward_naive(x, w, b, **prm)
            return ref, 1e-5 * conv_forward_naive(np.abs(x), np.abs(w), absb, **prm) + 1e-6
    return None


def _weight_over_zero_padding(x, w, chk):
    """Outputs where a non-finite weight meets a zero-padding position (boolean, batched), or
    None when there is none.  Every tap of every output lands in the padded input, so an
    output has one exactly when fewer non-finite taps meet real input than the channel has."""
    from reference_conv import conv_forward_ref
    if chk["padding_mode"] != "zeros" or np.all(np.isfinite(w)) or \
            not any(lo or hi for lo, hi in chk["pairs"]) or \
            _cost(x.shape, w.shape, chk)[0] > MAX_PADDED:
        return None
    nf = (~np.isfinite(w)).astype(np.float64)
    real = conv_forward_ref(np.ones(x.shape), nf, None, **_params(chk))
    per_channel = nf.reshape(len(nf), -1).sum(axis=1).reshape((1, -1) + (1,) * (x.ndim - 2))
    return real < per_channel - 0.5


def check_conv_float(chk, ns):
    """The verdict on the result ``y`` of a valid forward float call."""
    y = ns.get("y")
    if not isinstance(y, np.ndarray):
        return failure("wrong result type", f"got {type(y).__name__}")
    if y.dtype != np.float32 or y.shape != tuple(chk["shape"]):
        return failure("wrong result shape/dtype", f"got {y.dtype} {y.shape}, expected "
                       f"float32 {tuple(chk['shape'])}", ("shape",))
    if chk["out"] and y is not ns["out"]:
        return failure("result is not out", "out= given but another array returned")
    if chk["api"] == "cf":
        x, w, b = ns["x"], np.asarray(ns["w"]).astype(np.float32), ns["b"]
    else:
        m = ns["m"]
        x, w, b = ns["x"], np.asarray(m.weight), m.bias
        for name, have in (("wa", w), ("ba", b)):
            if name in ns:
                want = None if ns[name] is None else np.asarray(ns[name]).astype(np.float32)
                if (want is None) != (have is None) or want is not None and not (
                        want.shape == have.shape and same_array(want, have)):
                    return failure("layer parameter not as assigned",
                                   f"m.{'weight' if name == 'wa' else 'bias'} differs from the "
                                   f"array assigned to it")
    x = np.asarray(x).astype(np.float32)
    if not chk["batched"]:
        x, y = x[None], y[None]
    if b is not None:
        b = np.asarray(b).astype(np.float32).reshape(-1)
    if y.size == 0 or w.size > MAX_PADDED:     # (a huge layer's weights: not compared)
        return None
    rb = _float_reference(x.astype(np.float64), w.astype(np.float64),
                          None if b is None else b.astype(np.float64), chk)
    if rb is None:
        return None
    ns["__stats__"]["checked"] = True
    ref, bound = rb
    open_ = _weight_over_zero_padding(x, w, chk)
    sig = ("conv float", chk["padding_mode"])
    if open_ is not None and open_.any():
        # a non-finite weight tap over zero padding: NaN by the definition (0 * inf), as in
        # PyTorch (convt pads such inputs explicitly)
        sig = ("conv float", "non-finite weight over zero padding")
    err = _compare_float(y, ref, bound)
    return None if err is None else failure("wrong result", err, sig)


def check_conv_quant(chk, ns, values):
    """The verdict on the result ``y`` of a valid forward quantized call; ``values`` False:
    type, shape and quantization only (``quant_results.check_quant`` checks those)."""
    from reference_conv import accumulate_forward, conv_forward_naive
    from reference_q import requantize
    v = check_quant(chk, ns, values=False)
    if v is not None or not values:
        return v
    x, w, b, sy, zy = _q_params(ns, chk["api"])
    mode = ns["m"].requant if chk["api"] == "cqm" else chk["requant"]
    q = ns["y"].int_repr()
    xq = np.asarray(x.int_repr())
    if not chk["batched"]:
        xq, q = xq[None], q[None]
    if q.size == 0:
        return None
    wq = np.asarray(w.int_repr())
    if wq.size > MAX_PADDED:
        return None
    sw, zw = _scales_of(w, wq.shape[0])
    padded, naive = _cost(xq.shape, wq.shape, chk)
    prm = _params(chk)
    zx = int(x.q_zero_point())
    with np.errstate(all="ignore"):
        if padded <= MAX_PADDED and math.prod(wq.shape[2:]) * chk["groups"] <= 5000:
            acc = accumulate_forward(xq, zx, wq, zw, padding_mode=chk["padding_mode"], **prm)
        elif naive <= MAX_NAIVE and chk["padding_mode"] == "zeros":
            # exact in float64: every product and sum is an integer far below 2**53
            wz = wq.astype(np.float64) - zw.reshape((-1,) + (1,) * (wq.ndim - 1))
            acc = np.rint(conv_forward_naive(xq.astype(np.float64) - zx, wz, None, **prm))
            acc = acc.astype(np.int64)
        else:
            return None
        ref = requantize(acc, mode, float(x.q_scale()), sw, b, float(sy), int(zy))
    ns["__stats__"]["checked"] = True
    if not np.array_equal(q, ref):
        bad = q != ref
        i = np.unravel_index(int(np.argmax(bad)), ref.shape)
        return failure("wrong result", f"{int(bad.sum())} of {bad.size} bytes differ; first "
                       f"at {tuple(map(int, i))}: got {int(q[i])}, expected {int(ref[i])} "
                       f"(acc {int(acc[i])})", ("conv quant", mode,
                                                 chk["padding_mode"]))
    return None
