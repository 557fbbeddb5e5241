"""Values a case passes: arrays built from recipes, and the Python source of each value.

Arrays are built from recipes, so that the parent process (for the model) and the worker (for
the call) get equal objects: same values, dtype, shape, strides, alignment and flags.  A case's
statements call the recipe function as ``_arr(...)``; the worker puts it under that name.
"""

import math

import numpy as np


def array_from_recipe(spec):
    """(kind, shape, dtype, seed, layout, special) -> ndarray."""
    kind, shape, dtype, seed, layout, special = spec
    shape = tuple(shape)
    r = np.random.default_rng(seed)
    if kind == "normal":
        a = r.standard_normal(shape)
    elif kind == "u8":
        a = r.integers(0, 256, shape).astype(np.float64)
    elif kind == "i8":
        a = r.integers(-128, 128, shape).astype(np.float64)
    elif kind == "small":
        a = r.integers(-3, 4, shape).astype(np.float64)
    else:
        a = np.zeros(shape)
    if special and a.size:
        flat = a.reshape(-1)
        val = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "big": 3e38, "tiny": 1e-45,
               "huge": 1e300, "bigbias": 1e30}[special]
        for i in r.choice(a.size, size=min(a.size, 2), replace=False):
            flat[i] = val * (1 if r.random() < 0.5 or special in ("nan",) else -1)
    with np.errstate(all="ignore"):
        if dtype == "object":
            a = a.astype(object)
        elif dtype == "str":
            a = a.astype(str)
        else:
            a = a.astype(dtype)
    if layout == "f":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim:
        b = np.empty(shape[:-1] + (2 * shape[-1] + 1,), a.dtype)
        b[..., 1::2] = a
        a = b[..., 1::2]
    elif layout == "reversed" and a.ndim:
        a = a[..., ::-1]
    elif layout in ("unaligned", "unaligned_ro") and a.dtype.itemsize > 1 \
            and a.dtype != object:
        buf = np.empty(a.nbytes + 1, np.uint8)
        u = buf[1:].view(a.dtype).reshape(shape)
        u[...] = a
        a = u
    elif layout == "offset":   # C-contiguous view into a larger buffer, at one element
        buf = np.zeros(a.size + 3, a.dtype)
        u = buf[1:1 + a.size].reshape(shape)
        u[...] = a
        a = u
    elif layout == "broadcast" and a.ndim and shape[0] > 0:
        a = np.broadcast_to(a[:1], shape)
    if layout in ("readonly", "unaligned_ro"):
        a.flags.writeable = False
    return a


class QMark:
    """What the model knows about a QTensor built by a case (convt is not imported here)."""

    def __init__(self, via, arr, scale, zp, axis):
        self.via, self.arr, self.scale, self.zp, self.axis = via, arr, scale, zp, axis


class LayerMark:
    """Marker for an argument that is a whole layer/generator object (model: not an array)."""


def source_of(v) -> str:
    """Python source that evaluates to ``v`` (for the values the generator draws)."""
    if isinstance(v, (bool, np.bool_)):
        return ("np.True_" if v else "np.False_") if isinstance(v, np.bool_) else repr(v)
    if v is None or isinstance(v, (int, str, bytes, complex)) and not isinstance(v, np.generic):
        return repr(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "float('nan')"
        if math.isinf(v):
            return "float('inf')" if v > 0 else "-float('inf')"
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(source_of(e) for e in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(source_of(e) for e in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{source_of(k)}: {source_of(e)}" for k, e in v.items()) + "}"
    if isinstance(v, np.ndarray):
        return f"np.array({source_of(v.tolist())}, dtype={str(v.dtype)!r})"
    if isinstance(v, np.generic):
        item = v.item()
        if isinstance(item, np.generic):       # longdouble
            item = float(item)
        return f"np.{type(v).__name__}({source_of(item)})"
    raise TypeError(f"cannot render {v!r}")


def V(v):
    """A plain value: (source, object)."""
    return (source_of(v), v)


def A_(spec, tolist=False):
    """An array from a recipe: (source, object)."""
    a = array_from_recipe(spec)
    if tolist:
        return (f"_arr({spec!r}).tolist()", a.tolist())
    return (f"_arr({spec!r})", a)
