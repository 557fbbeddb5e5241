"""The forward convolution's own argument rules (README "Forward convolution", the docstrings
of ``convt.conv{1,2,3}d``, ``convt.Conv{1,2,3}d`` and ``convt.quantized.functional.conv{1,2,3}d``),
next to the rules it shares with the transposed API (``rules``, ``quant_rules``):

* ``padding`` is an int / tuple of ints >= 0, ``'valid'`` (none) or ``'same'`` (stride 1 only;
  total ``dilation*(kernel - 1)``, the odd element after), as in PyTorch; no output_padding;
* the weight is ``(C_out, C_in/groups, *kernel)`` (no grouped layout), ``C_out % groups == 0``,
  a per-channel quantized weight is quantized along axis 0;
* ``O = (I + pad_lo + pad_hi - dilation*(kernel - 1) - 1) // stride + 1`` must be >= 1;
* ``padding_mode`` (layers, quantized functional) is one of zeros/reflect/replicate/circular;
  'reflect' needs each pad < I, 'circular' each pad <= I (the input is padded first, as
  PyTorch's ``F.pad`` does).

Never imports convt.
"""

import math

import numpy as np

from .rules import HUGE_BYTES, _channels, _int1, _ntuple, layer_flags

PADDING_STRINGS = ("valid", "same")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def conv_hyper(nd, a, iss):
    """(stride, padding, dilation, groups) of a forward call; padding a tuple or 'valid' /
    'same'.  None for a bad one."""
    s = _ntuple(a["stride"], nd, "stride", iss)
    d = _ntuple(a["dilation"], nd, "dilation", iss)
    g = _int1(a["groups"], "groups", iss)
    pv = a["padding"]
    if isinstance(pv, str):
        if pv in PADDING_STRINGS:
            p = str(pv)
        else:
            iss.invalid(f"padding: string {pv!r}", "padding")
            p = None
    else:
        p = _ntuple(pv, nd, "padding", iss)
        if p is not None and min(p) < 0:
            iss.invalid("padding negative", "padding")
            p = None
    if s is not None and min(s) <= 0:
        iss.invalid("stride not positive", "stride")
        s = None
    if d is not None and min(d) <= 0:
        iss.invalid("dilation not positive", "dilation")
        d = None
    if g is not None and g <= 0:
        iss.invalid("groups not positive", "groups")
        g = None
    if p == "same":
        if s is None:
            iss.allow("padding")
        elif any(v != 1 for v in s):
            iss.invalid("padding='same' with stride > 1", "padding", "stride")
            p = None
    return s, p, d, g


def pad_pairs(p, k, d):
    """((lo, hi), ...) per dimension of a padding tuple or 'valid' / 'same' (PyTorch's split),
    or None when something is unknown."""
    if p is None or k is None:
        return None
    if p == "valid":
        return tuple((0, 0) for _ in k)
    if p == "same":
        if d is None:
            return None
        tot = [dd * (kk - 1) for dd, kk in zip(d, k)]
        return tuple((t // 2, t - t // 2) for t in tot)
    return tuple((v, v) for v in p)


def conv_out_spatial(isp, k, s, pairs, d):
    return tuple((i + lo + hi - dd * (kk - 1) - 1) // ss + 1
                 for i, kk, ss, (lo, hi), dd in zip(isp, k, s, pairs, d))


def padding_mode_of(v, iss):
    """The layers' / quantized functional's padding_mode: one of the four strings."""
    if isinstance(v, str) and v in PADDING_MODES:
        return str(v)
    iss.invalid(f"padding_mode: {v!r}" if not isinstance(v, np.ndarray) else
                "padding_mode: array", "padding_mode")
    return None


def conv_output_shape(n, cin, cout, isp, k, s, pairs, d, mode, batched, iss):
    """Final forward output shape or None: padding_mode limits, non-positive sizes and huge
    outputs (or huge padded inputs, for the modes that pad a copy of the input)."""
    if None in (n, cin, cout, isp, k, s, pairs, d, mode):
        iss.allow("output", "padding")
        return None
    if mode == "reflect" and any(max(lo, hi) >= i for i, (lo, hi) in zip(isp, pairs)):
        iss.invalid("reflect padding >= input size", "padding_mode", "padding", "input")
        return None
    if mode == "circular" and any(max(lo, hi) > i for i, (lo, hi) in zip(isp, pairs)):
        iss.invalid("circular padding > input size", "padding_mode", "padding", "input")
        return None
    if mode != "zeros" and \
            n * cin * math.prod(i + lo + hi for i, (lo, hi) in zip(isp, pairs)) * 4 > HUGE_BYTES:
        iss.huge = True
    osp = conv_out_spatial(isp, k, s, pairs, d)
    if any(o <= 0 for o in osp):
        iss.invalid("output size not positive", "input", "padding", "kernel_size", "dilation",
                    "output")
        return None
    if n * cout * math.prod(osp) * 4 > HUGE_BYTES:
        iss.huge = True
    return ((n,) if batched else ()) + (cout,) + osp


def forward_weight(wshape, nd, g, cin, iss):
    """The shape of a forward weight (C_out, C_in/groups, *k) given the input's channels, or
    None (and the issues) when it does not fit."""
    if cin == 0:
        iss.maybe_("zero input channels", "input", "weight", "channels", "empty")
    if wshape is None:
        iss.allow("weight")
        return None
    if len(wshape) != nd + 2:
        iss.invalid(f"weight: rank {len(wshape)}", "weight")
        return None
    wn = tuple(int(v) for v in wshape)
    if g is not None and cin is not None and cin % g:
        iss.invalid("groups do not divide input channels", "groups", "channels", "input")
        return None
    if g is not None and cin is not None and wn[1] * g != cin:
        iss.invalid("weight: C_in/groups differs from the input's", "weight", "input",
                    "channels", "groups")
        return None
    if any(v == 0 for v in wn):
        iss.invalid("weight: empty dimension", "weight")
        return None
    if g is None or cin is None:
        iss.allow("weight", "groups", "input", "channels")
        return None
    if wn[0] % g:
        iss.invalid("weight: C_out not divisible by groups", "weight", "groups", "channels")
        return None
    return wn


def conv_layer_ctor(nd, a, iss):
    """The forward layers' constructor rules -> geometry dict."""
    cin = _int1(a["in_channels"], "in_channels", iss)
    cout = _int1(a["out_channels"], "out_channels", iss)
    k = _ntuple(a["kernel_size"], nd, "kernel_size", iss)
    if k is not None and min(k) <= 0:
        iss.invalid("kernel_size not positive", "kernel_size")
        k = None
    s, p, d, g = conv_hyper(nd, a, iss)
    cin, cout = _channels(cin, cout, g, iss)
    mode = padding_mode_of(a["padding_mode"], iss)
    layer_flags(a, iss)
    if None not in (cin, cout, k, g) and cout * (cin // g) * math.prod(k) * 8 > HUGE_BYTES:
        iss.huge = True
    return {"cin": cin, "cout": cout, "k": k, "s": s, "p": p, "d": d, "g": g, "mode": mode,
            "pairs": pad_pairs(p, k, d)}
