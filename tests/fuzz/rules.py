"""The documented argument rules (README "Use" and "Quantized", docstrings), one check each.

Together with ``quant_rules`` and ``model`` this is an independent statement of the rules,
evaluated on the objects a case passes: each check records on an ``Issues`` what makes the call
invalid or an undocumented corner (unsure), and which argument names an error message may
mention.  It never imports convt.
"""

import math
import warnings

import numpy as np

from .values import LayerMark, QMark

MAXP = 2**31 - 1                # README: integer hyper-parameters are at most 2**31 - 1
F32_TINY = float(np.finfo(np.float32).tiny)
F32_MAX = float(np.finfo(np.float32).max)
HUGE_BYTES = 1 << 28            # outputs/weights above this may fail with MemoryError


def is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


# The words an error message may use for an argument.
ALIASES = {
    "output_size": ["output_size", "output size"],
    "scale": ["scale", "scales"],
    "zero_point": ["zero_point", "zero_points", "zero point"],
    "in_channels": ["in_channels", "channels"],
    "out_channels": ["out_channels", "channels"],
    "kernel_size": ["kernel_size", "kernel"],
    "int_repr": ["int_repr", "dtype"],
}


class Issues:
    """What the rules found in one case: the invalid and unsure findings (tags), the argument
    names an error message may mention, and whether the output or weights are huge."""

    def __init__(self):
        self.bad, self.unsure, self.names, self.huge = [], [], set(), False

    def invalid(self, tag, *names):
        self.bad.append(tag)
        self.names.update(names)

    def maybe_(self, tag, *names):
        self.unsure.append(tag)
        self.names.update(names)

    def allow(self, *names):
        self.names.update(names)

    def status(self):
        return "invalid" if self.bad else ("unsure" if self.unsure else "valid")


def _ntuple(v, nd, name, iss):
    """int, or a length-nd (or length-1, expanded as torch does) tuple/list of ints (numpy
    integers allowed) -> tuple or None."""
    if is_int(v):
        items = [int(v)] * nd
    elif isinstance(v, (tuple, list)):
        if len(v) not in (1, nd) or not all(is_int(e) for e in v):
            iss.invalid(f"{name}: not an int or {nd} ints", name)
            return None
        items = [int(e) for e in v] * (nd if len(v) == 1 else 1)  # (k,) expands, as in torch
    elif isinstance(v, np.ndarray) and v.dtype.kind in "iu" and v.ndim == 1 and len(v) in (1, nd):
        iss.maybe_(f"{name}: 1-d integer array", name)
        items = [int(e) for e in v] * (nd if len(v) == 1 else 1)
    elif isinstance(v, np.ndarray) and v.dtype.kind in "iu" and v.ndim == 0:
        iss.maybe_(f"{name}: 0-d integer array", name)
        items = [int(v)] * nd
    else:
        iss.invalid(f"{name}: bad type {type(v).__name__}", name)
        return None
    if any(abs(e) > MAXP for e in items):
        iss.invalid(f"{name}: beyond 2**31-1", name)
        return None
    return tuple(items)


def _int1(v, name, iss):
    if is_int(v):
        n = int(v)
    elif isinstance(v, np.ndarray) and v.dtype.kind in "iu" and v.ndim == 0:
        iss.maybe_(f"{name}: 0-d integer array", name)
        n = int(v)
    else:
        iss.invalid(f"{name}: bad type {type(v).__name__}", name)
        return None
    if abs(n) > MAXP:
        iss.invalid(f"{name}: beyond 2**31-1", name)
        return None
    return n


def hyper(nd, a, iss):
    s = _ntuple(a["stride"], nd, "stride", iss)
    p = _ntuple(a["padding"], nd, "padding", iss)
    op = _ntuple(a["output_padding"], nd, "output_padding", iss)
    d = _ntuple(a["dilation"], nd, "dilation", iss)
    g = _int1(a["groups"], "groups", iss)
    if s is not None and min(s) <= 0:
        iss.invalid("stride not positive", "stride")
        s = None
    if d is not None and min(d) <= 0:
        iss.invalid("dilation not positive", "dilation")
        d = None
    if p is not None and min(p) < 0:
        iss.invalid("padding negative", "padding")
        p = None
    if g is not None and g <= 0:
        iss.invalid("groups not positive", "groups")
        g = None
    if op is not None:
        if min(op) < 0:
            iss.invalid("output_padding negative", "output_padding")
            op = None
        elif s is not None and d is not None:
            if any(o >= max(a_, b_) for o, a_, b_ in zip(op, s, d)):
                iss.invalid("output_padding >= max(stride, dilation)", "output_padding")
                op = None
        else:
            iss.allow("output_padding")
    return s, p, op, d, g


def as_array(obj):
    """np.asarray(obj) or None when NumPy cannot make an array of it."""
    if isinstance(obj, (QMark, LayerMark)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(obj)
    except Exception:  # noqa: BLE001 - whatever NumPy raises, it is no array
        return None


def float_arr(obj, name, iss):
    """The shape of a float array-like (float16/32/64 are valid), or None."""
    a = as_array(obj)
    if a is None:
        iss.invalid(f"{name}: not an array", name)
        return None
    if a.dtype.kind != "f":
        iss.invalid(f"{name}: dtype {a.dtype}", name)
        return a.shape
    if a.dtype.itemsize > 8:
        iss.maybe_(f"{name}: {a.dtype}", name)
    return a.shape


def out_spatial(isp, k, s, p, d, op):
    return tuple((i - 1) * s_ - 2 * p_ + d_ * (k_ - 1) + o_ + 1
                 for i, k_, s_, p_, d_, o_ in zip(isp, k, s, p, d, op))


def output_shape(n, cout, isp, k, s, p, d, op, batched, iss):
    """Final output shape or None; flags non-positive and huge outputs."""
    if None in (n, cout, isp, k, s, p, d, op):
        iss.allow("output", "padding")
        return None
    osp = out_spatial(isp, k, s, p, d, op)
    if any(o <= 0 for o in osp):
        iss.invalid("output size not positive", "output", "padding", "input", "kernel_size")
        return None
    if n * cout * math.prod(osp) * 4 > HUGE_BYTES:
        iss.huge = True
    return ((n,) if batched else ()) + (cout,) + osp


def check_out(obj, final, dtype, iss, others):
    if obj is None:
        return False
    if not isinstance(obj, np.ndarray):
        iss.invalid("out: not an ndarray", "out")
        return True
    if final is None:
        iss.allow("out")
        return True
    if obj.shape != final:
        iss.invalid("out: wrong shape", "out")
    elif obj.dtype != dtype:
        iss.invalid("out: wrong dtype", "out")
    elif not obj.flags.c_contiguous:
        iss.invalid("out: not C-contiguous", "out")
    elif not obj.flags.writeable:
        iss.invalid("out: read-only", "out")
    elif not obj.flags.aligned:
        iss.invalid("out: unaligned", "out")
    elif any(isinstance(o, np.ndarray) and np.may_share_memory(obj, o) for o in others):
        iss.invalid("out: overlaps an argument", "out")
    return True


def check_threads(v, iss):
    if v is None:
        return
    n = _int1(v, "num_threads", iss)
    if n is not None and n <= 0:
        iss.invalid("num_threads not positive", "num_threads")


def input_shape(shape, nd, iss):
    """(batched shape, batched) of an input array shape, or (None, None)."""
    if shape is None:
        iss.allow("input", "channels")
        return None, None
    if len(shape) == nd + 2:
        xb, batched = tuple(shape), True
    elif len(shape) == nd + 1:
        xb, batched = (1,) + tuple(shape), False
    else:
        iss.invalid(f"input: rank {len(shape)}", "input")
        return None, None
    if any(v == 0 for v in xb[2:]):
        iss.invalid("input: empty spatial dimension", "input")
        return None, None
    if xb[0] == 0:
        iss.maybe_("input: empty batch", "input", "batch", "empty")
    return xb, batched


def bias_shape(shape, cout, nd, iss, exact_only=False):
    """A bias is (C_out,), or (1, C_out, 1...) where ``exact_only`` is False (unsure else)."""
    if shape is None or cout is None:
        iss.allow("bias")
        return
    if tuple(shape) == (cout,):
        return
    if tuple(shape) == (1, cout) + (1,) * nd:
        if exact_only:
            iss.maybe_("bias: shape (1, C, 1...)", "bias")
        return
    iss.invalid(f"bias: shape {tuple(shape)}", "bias")


def _channels(cin, cout, g, iss):
    """Layer constructor channel rules."""
    if cin is not None and cin <= 0:
        iss.invalid("in_channels not positive", "in_channels")
        cin = None
    if cout is not None and cout <= 0:
        iss.invalid("out_channels not positive", "out_channels")
        cout = None
    if g is not None:
        if cin is not None and cin % g:
            iss.invalid("groups do not divide in_channels", "in_channels", "groups")
            cin = None
        if cout is not None and cout % g:
            iss.invalid("groups do not divide out_channels", "out_channels", "groups")
            cout = None
    return cin, cout


def output_size_padding(obj, nd, batched, n, cout, isp, k, geom, iss):
    """The output_padding an ``output_size`` asks for (PyTorch's rule); None without one,
    False when it is invalid or cannot be judged."""
    s, p, d = geom
    if obj is None:
        return None
    if is_int(obj):
        if nd == 1:
            iss.maybe_("output_size: a bare int", "output_size")
        sizes = [obj]
    elif isinstance(obj, (tuple, list)):
        sizes = list(obj)
    elif isinstance(obj, np.ndarray) and obj.ndim == 1 and obj.dtype.kind in "iu":
        iss.maybe_("output_size: 1-d array", "output_size")
        sizes = list(obj)
    else:
        iss.invalid("output_size: bad type", "output_size")
        return False
    if not all(is_int(v) for v in sizes):
        iss.invalid("output_size: non-int entries", "output_size")
        return False
    sizes = [int(v) for v in sizes]
    lead = 2 if batched is not False else 1
    if batched is None:
        iss.allow("output_size")
        return False
    if len(sizes) == nd + lead:
        head, sizes = sizes[:lead], sizes[lead:]
        want = ([n] if batched else []) + [cout]
        if None not in want and head != want:
            iss.invalid("output_size: batch/channels differ", "output_size", "channels",
                        "batch")
            return False
    if len(sizes) != nd:
        iss.invalid("output_size: wrong length", "output_size")
        return False
    if any(v <= 0 for v in sizes):
        iss.invalid("output_size: not positive", "output_size")
        return False
    if None in (isp, k, s, p, d):
        iss.allow("output_size")
        return False
    lo = out_spatial(isp, k, s, p, d, (0,) * nd)
    if not all(a <= v <= a + st - 1 for v, a, st in zip(sizes, lo, s)):
        iss.invalid("output_size: out of the reachable range", "output_size")
        return False
    return tuple(v - a for v, a in zip(sizes, lo))


def layer_ctor(nd, a, iss):
    """Constructor rules shared by the float and quantized layers -> geometry dict."""
    cin = _int1(a["in_channels"], "in_channels", iss)
    cout = _int1(a["out_channels"], "out_channels", iss)
    k = _ntuple(a["kernel_size"], nd, "kernel_size", iss)
    if k is not None and min(k) <= 0:
        iss.invalid("kernel_size not positive", "kernel_size")
        k = None
    s, p, op, d, g = hyper(nd, a, iss)
    cin, cout = _channels(cin, cout, g, iss)
    pm = a["padding_mode"]
    if isinstance(pm, np.ndarray):
        if pm.shape == (1,) and pm.dtype.kind == "U" and pm[0] == "zeros":
            iss.maybe_("padding_mode: 1-element array", "padding_mode")
        else:
            iss.invalid("padding_mode: array", "padding_mode")
    elif not (isinstance(pm, str) and pm == "zeros"):
        iss.invalid(f"padding_mode: {pm!r}", "padding_mode")
    layer_flags(a, iss)
    if None not in (cin, cout, k, g) and cin * (cout // g) * math.prod(k) * 8 > HUGE_BYTES:
        iss.huge = True
    return {"cin": cin, "cout": cout, "k": k, "s": s, "p": p, "op": op, "d": d, "g": g}


def layer_flags(a, iss):
    """The constructor's ``bias`` flag and ``rng`` (every layer, both directions)."""
    b = a["bias"]
    if not isinstance(b, (bool, np.bool_)):
        iss.invalid("bias flag not a bool", "bias")
    r = a["rng"]
    if r is None or isinstance(r, LayerMark):
        pass
    elif isinstance(r, (bool, np.bool_)):
        iss.maybe_("rng: bool seed", "rng")
    elif is_int(r):
        if r < 0:
            iss.invalid("rng: negative seed", "rng")
    elif isinstance(r, (list, tuple)) and r and all(is_int(e) and e >= 0 for e in r):
        iss.maybe_("rng: list of seeds", "rng")
    else:
        iss.invalid(f"rng: {type(r).__name__}", "rng")
