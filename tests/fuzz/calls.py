"""Statement pieces shared by the case builders: keyword arguments, the repeated call, the
layers' constructor, its mutations and the warm-up call."""

import re

import numpy as np

from .edges import BIASFLAG_EDGES, INT_EDGES, PADMODE_EDGES, REQUANT_EDGES, RNG_EDGES
from .values import LayerMark, V


def kw(name, pair):
    """``name=<source>`` of a (source, object) pair."""
    return f"{name}={pair[0]}"


def again_stmt(G, head, kws):
    """The same call again without ``out=`` and on another number of threads."""
    kws = [k for k in kws if not k.startswith(("out=", "num_threads="))]
    kws += ["out=guarded_out", f"num_threads={G.pick([1, 2, 3, 7])}"]
    return f"y_again = {head}{', '.join(kws)})"


def warmup_stmts(G, c, A, quant):
    """A first call on the layer with another batch size (plan and weight caches, and for
    the quantized layer: scale/zero_point/weights changed after a call)."""
    osz = A["output_size"][1]
    if not G.coin(0.25) or (osz is not None and not (
            isinstance(osz, (tuple, list)) and len(osz) == G.nd)):
        return []
    n = c["n"]
    n0 = 2 if n is None else (None if n == 1 and G.coin(0.5) else n + 1)
    shape = ((n0,) if n0 is not None else ()) + (c["cin"],) + tuple(c["isp"])
    G.tags.append("warm-up call")
    if quant:
        x0 = f"convt.QTensor(_arr({('u8', shape, 'uint8', G.seed(), 'c', None)!r}), 0.05, 3)"
    else:
        x0 = f"_arr({G.float_spec(shape)!r})"
    tail = "" if osz is None else f", output_size={A['output_size'][0]}"
    return [f"y0 = m({x0}{tail})"]


def spec_of(pair):
    """The recipe of an array argument built by ``_arr(recipe)``, else None."""
    m = re.fullmatch(r"_arr\((\(.*\))\)", pair[0])
    if not m:
        return None
    return eval(m.group(1), {"float": float})  # our own repr of a tuple


def layer_args(G, c, quant):
    """The layer constructor's arguments for the base problem ``c``: name -> (source, object)."""
    A = {"in_channels": V(c["cin"]), "out_channels": V(c["cout"]),
         "kernel_size": V(G.form(c["k"])), "stride": V(G.form(c["s"])),
         "padding": V(G.form(c["p"])), "output_padding": V(G.form(c["op"])),
         "groups": V(c["g"]), "bias": V(c["bias"]), "dilation": V(G.form(c["d"])),
         "padding_mode": V("zeros"), "rng": V(G.pick([None, 0, int(G.rng.integers(100))]))}
    if quant:
        A["requant"] = V(G.pick(["fbgemm", "qnnpack"]))
    return A


CTOR_ORDER = ["in_channels", "out_channels", "kernel_size", "stride", "padding",
              "output_padding", "groups", "bias", "dilation", "padding_mode"]


def ctor_stmt(A, cls):
    parts = [A["in_channels"][0], A["out_channels"][0], A["kernel_size"][0]]
    for name in CTOR_ORDER[3:]:
        parts.append(kw(name, A[name]))
    for name in ("requant", "rng"):
        if name in A:
            parts.append(kw(name, A[name]))
    return f"m = {cls}({', '.join(parts)})"


def mutate_ctor(G, A, c, slot):
    """Mutate constructor argument ``slot``; False when ``slot`` is not one."""
    if slot in ("stride", "padding", "output_padding", "dilation", "groups", "kernel_size"):
        valid = {"stride": c["s"], "padding": c["p"], "output_padding": c["op"],
                 "dilation": c["d"], "groups": c["g"], "kernel_size": c["k"]}[slot]
        A[slot] = V(G.mutate_hyper(slot, valid))
    elif slot in ("in_channels", "out_channels"):
        G.tags.append(f"{slot}=edge")
        A[slot] = V(G.pick(INT_EDGES + [1.0, True, "4", None, np.int64(c["cin"]), (4,),
                                        10**5, 2**20]))
    elif slot == "bias":
        G.tags.append("bias flag")
        A["bias"] = V(G.pick(BIASFLAG_EDGES))
    elif slot == "padding_mode":
        G.tags.append("padding_mode")
        A["padding_mode"] = V(G.pick(PADMODE_EDGES))
    elif slot == "rng":
        G.tags.append("rng")
        v = G.pick(RNG_EDGES + ["gen"])
        A["rng"] = ("np.random.default_rng(1)", LayerMark()) if v == "gen" else V(v)
    elif slot == "requant":
        G.tags.append("requant")
        A["requant"] = V(G.pick(REQUANT_EDGES))
    else:
        return False
    return True


CTOR_SLOTS = ["in_channels", "out_channels", "kernel_size", "stride", "padding",
              "output_padding", "groups", "bias", "dilation", "padding_mode", "rng"]
