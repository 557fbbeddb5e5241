"""Case builders of the quantized API, ``convt.quantized.functional.conv_transpose{1,2,3}d``
(``gen_qf``) and ``convt.quantized.ConvTranspose{1,2,3}d`` (``gen_qm``); same contract as
``float_cases``.  QTensor arguments are descriptions (via, arr, scale, zp, axis) of
(source, object) pairs, rendered by ``_q_src`` and shown to the model by ``_q_obj``.
"""

import numpy as np

from .calls import (
    CTOR_SLOTS,
    again_stmt,
    ctor_stmt,
    kw,
    layer_args,
    mutate_ctor,
    spec_of,
    warmup_stmts,
)
from .edges import REQUANT_EDGES, SCALE_EDGES, THREADS_EDGES, ZP_EDGES
from .rules import is_int, out_spatial
from .values import A_, QMark, V


# -- QTensor slots -------------------------------------------------------------------------
def _q_slot(G, shape, role, per_channel_len=None, axis=1):
    """A valid QTensor description: dict(via, arr, scale, zp, axis) of (source, object); a
    per-channel weight is quantized along ``axis`` (1 transposed, 0 forward)."""
    if role == "input":
        if G.coin(0.2) and "out=input" not in G.tags:
            return {"via": "quantize",
                    "arr": A_(("normal", shape, "float32", G.seed(), "c", None)),
                    "scale": V(float(G.pick([0.01, 0.02, 0.05]))),
                    "zp": V(int(G.rng.integers(0, 256))), "axis": None}
        return {"via": "qtensor", "arr": A_(("u8", shape, "uint8", G.seed(), "c", None)),
                "scale": V(float(np.round(G.rng.uniform(0.001, 0.1), 5))),
                "zp": V(int(G.pick([0, 0, 128, int(G.rng.integers(0, 256))]))), "axis": None}
    arr = A_(("i8", shape, "int8", G.seed(), "c", None))
    if per_channel_len and G.coin(0.3):
        n = per_channel_len
        sc = [float(np.round(v, 6)) for v in G.rng.uniform(0.0005, 0.02, n)]
        zp = [int(v) for v in G.rng.integers(-3, 4, n)] if G.coin(0.5) else [0] * n
        return {"via": "qtensor", "arr": arr, "scale": V(sc), "zp": V(zp), "axis": V(axis)}
    return {"via": "qtensor", "arr": arr,
            "scale": V(float(np.round(G.rng.uniform(0.0005, 0.02), 6))),
            "zp": V(int(G.pick([0, 0, 0, int(G.rng.integers(-5, 6))]))), "axis": None}


def _q_src(Q):
    if Q["via"] == "raw":
        return Q["raw"][0]
    if Q["via"] == "quantize":
        return (f"convt.quantize_per_tensor({Q['arr'][0]}, {Q['scale'][0]}, {Q['zp'][0]}, "
                f"np.uint8)")
    ax = "" if Q["axis"] is None else f", axis={Q['axis'][0]}"
    return f"convt.QTensor({Q['arr'][0]}, {Q['scale'][0]}, {Q['zp'][0]}{ax})"


def _q_obj(Q):
    if Q["via"] == "raw":
        return Q["raw"][1]
    return QMark(Q["via"], Q["arr"][1], Q["scale"][1], Q["zp"][1],
                 None if Q["axis"] is None else Q["axis"][1])


def _mutate_q(G, Q, role, nd):
    r = G.rng.random()
    spec = spec_of(Q["arr"]) if "arr" in Q else None
    if Q["via"] == "raw" or spec is None:
        return Q
    if r < 0.3:
        G.tags.append(f"{role}.scale")
        if Q["axis"] is not None and isinstance(Q["scale"][1], list) and Q["scale"][1]:
            sc = list(Q["scale"][1])
            sc[int(G.rng.integers(len(sc)))] = G.pick(SCALE_EDGES[:24])
            Q["scale"] = V(sc if G.coin(0.8) else sc[:-1])
        else:
            Q["scale"] = V(G.pick(SCALE_EDGES))
    elif r < 0.5:
        G.tags.append(f"{role}.zero_point")
        v = G.pick(ZP_EDGES)
        if Q["axis"] is not None and np.size(Q["zp"][1]) > 0:
            zp = list(Q["zp"][1])
            zp[int(G.rng.integers(len(zp)))] = v if is_int(v) else 200
            v = zp if G.coin(0.8) else np.array(zp, dtype=np.float64)
        Q["zp"] = V(v)
    elif r < 0.6 and role == "weight":
        G.tags.append("weight.axis")
        n = spec[1][1] if len(spec[1]) > 1 else 1
        ax = G.pick([0, 2, -1, -(nd + 1), nd + 2, True, 1.0, 1])
        ln = spec[1][ax] if is_int(ax) and -len(spec[1]) <= ax < len(spec[1]) else n
        Q["axis"] = V(ax)
        Q["scale"] = V([0.01] * ln)
        Q["zp"] = V([0] * ln)
    elif r < 0.65 and role == "input":
        G.tags.append("input per-channel")
        n = spec[1][1] if len(spec[1]) > 1 else 1
        Q.update(axis=V(1), scale=V([0.01] * n), zp=V([0] * n), via="qtensor")
    elif r < 0.72:
        G.tags.append(f"{role} not a QTensor")
        raw = G.pick([A_(("normal", spec[1], "float32", 1, "c", None)), A_(spec), V(None),
                      A_(spec, tolist=True), V("qtensor")])
        return {"via": "raw", "raw": raw}
    else:
        kind = "u8" if role == "input" else "i8"
        if Q["via"] == "quantize":
            Q["arr"] = G.mutate_array(spec, role, "float")
        else:
            Q["arr"] = G.mutate_array(spec, role, kind)
            if Q["axis"] is not None and isinstance(Q["arr"][1], np.ndarray) \
                    and Q["arr"][1].ndim < 2:
                Q["axis"] = None
                Q["scale"], Q["zp"] = V(0.01), V(0)
    return Q


def _q_extra_mutation(G, A, slot):
    """Mutate an argument of the quantized call itself; False when ``slot`` is not one."""
    if slot == "scale":
        G.tags.append("output scale")
        A["scale"] = V(G.pick(SCALE_EDGES))
    elif slot == "zero_point":
        G.tags.append("output zero_point")
        A["zero_point"] = V(G.pick(ZP_EDGES))
    elif slot == "requant":
        G.tags.append("requant")
        A["requant"] = V(G.pick(REQUANT_EDGES))
    elif slot == "num_threads":
        G.tags.append("num_threads")
        A["num_threads"] = V(G.pick(THREADS_EDGES))
    else:
        return False
    return True


def _q_bias_value(G, c, mutate):
    """The float bias of the base problem, or with ``mutate`` an edge-valued / wrong one."""
    if not mutate:
        return A_(G.float_spec((c["cout"],))) if c["bias"] else V(None)
    r = G.rng.random()
    if r < 0.3:
        sp = G.pick(["nan", "inf", "-inf", "bigbias", "big"])
        G.tags.append(f"bias:values={sp}")
        return A_(("normal", (c["cout"],), "float32", G.seed(), "c", sp))
    return G.mutate_array(G.float_spec((c["cout"],)), "bias")


def gen_qf(G):
    nd, c = G.nd, G.base()
    xs = ((c["n"],) if c["n"] is not None else ()) + (c["cin"],) + tuple(c["isp"])
    ws = (c["cin"], c["cog"]) + tuple(c["k"])
    X = _q_slot(G, xs, "input")
    W = _q_slot(G, ws, "weight", per_channel_len=c["cog"])
    A = {"bias": _q_bias_value(G, c, False), "stride": V(G.form(c["s"])),
         "padding": V(G.form(c["p"])), "output_padding": V(G.form(c["op"])),
         "groups": V(c["g"]), "dilation": V(G.form(c["d"])), "out": V(None),
         "num_threads": V(G.pick([None, 1, 2])),
         "scale": V(float(np.round(G.rng.uniform(0.01, 1.0), 4))),
         "zero_point": V(int(G.rng.integers(0, 256))),
         "requant": V(G.pick(["fbgemm", "qnnpack"]))}
    final = ((c["n"],) if c["n"] is not None else ()) + (c["cout"],) + out_spatial(
        c["isp"], c["k"], c["s"], c["p"], c["d"], c["op"])
    if G.coin(0.15):
        A["out"] = G.out(final, "uint8")
    for _ in range(G.n_mutations()):
        slot = G.pick(["input", "input", "weight", "weight", "bias", "stride", "padding",
                       "output_padding", "dilation", "groups", "out", "num_threads", "scale",
                       "zero_point", "requant", "scale"])
        if slot == "input":
            X = _mutate_q(G, X, "input", nd)
        elif slot == "weight":
            W = _mutate_q(G, W, "weight", nd)
        elif slot == "bias":
            A["bias"] = _q_bias_value(G, c, True)
        elif slot in ("stride", "padding", "output_padding", "dilation", "groups"):
            valid = {"stride": c["s"], "padding": c["p"], "output_padding": c["op"],
                     "dilation": c["d"], "groups": c["g"]}[slot]
            A[slot] = V(G.mutate_hyper(slot, valid))
        elif slot == "out":
            A["out"] = G.mutate_out(final, "uint8")
        else:
            _q_extra_mutation(G, A, slot)
    if c.get("out_is_input") and X["via"] == "qtensor":
        A["out"] = ("x.int_repr()", X["arr"][1])
    stmts = [f"x = {_q_src(X)}", f"w = {_q_src(W)}", f"b = {A['bias'][0]}",
             f"sy = {A['scale'][0]}", f"zy = {A['zero_point'][0]}", f"out = {A['out'][0]}"]
    kws = [kw(n, A[n]) for n in ("stride", "padding", "output_padding", "groups", "dilation")]
    kws += ["scale=sy", "zero_point=zy", kw("requant", A["requant"])]
    if A["out"][1] is not None:
        kws.append("out=out")
    if A["num_threads"][1] is not None:
        kws.append(kw("num_threads", A["num_threads"]))
    head = f"convt.quantized.functional.conv_transpose{nd}d(x, w, b, "
    stmts.append(f"y = {head}{', '.join(kws)})")
    objs = {k: v[1] for k, v in A.items()}
    objs.update(input=_q_obj(X), weight=_q_obj(W))
    return stmts, objs, again_stmt(G, head, kws)


def gen_qm(G):
    nd, c = G.nd, G.base()
    A = layer_args(G, c, quant=True)
    xs = ((c["n"],) if c["n"] is not None else ()) + (c["cin"],) + tuple(c["isp"])
    X = _q_slot(G, xs, "input")
    W = None
    A.update(out=V(None), num_threads=V(G.pick([None, 1, 2])),
             output_size=V(G.output_size(c, c["n"], False)),
             scale=V(float(np.round(G.rng.uniform(0.01, 1.0), 4))),
             zero_point=V(int(G.rng.integers(0, 256))))
    if G.coin(0.6):
        W = _q_slot(G, (c["cin"], c["cog"]) + tuple(c["k"]), "weight", per_channel_len=c["cog"])
        A["set_bias"] = _q_bias_value(G, c, False)
    op = c["op"]
    if A["output_size"][1] is not None:
        lo = out_spatial(c["isp"], c["k"], c["s"], c["p"], c["d"], [0] * nd)
        op = [v - a for v, a in zip(list(A["output_size"][1])[-nd:], lo)]
    final = ((c["n"],) if c["n"] is not None else ()) + (c["cout"],) + out_spatial(
        c["isp"], c["k"], c["s"], c["p"], c["d"], op)
    if G.coin(0.15):
        A["out"] = G.out(final, "uint8")
    for _ in range(G.n_mutations()):
        slot = G.pick(CTOR_SLOTS + ["requant", "input", "input", "weight", "weight", "bias",
                                    "output_size", "out", "num_threads", "scale",
                                    "zero_point"])
        if mutate_ctor(G, A, c, slot) or _q_extra_mutation(G, A, slot):
            continue
        if slot == "input":
            X = _mutate_q(G, X, "input", nd)
        elif slot == "weight":
            if W is None:
                W = _q_slot(G, (c["cin"], c["cog"]) + tuple(c["k"]), "weight",
                            per_channel_len=c["cog"])
                A["set_bias"] = _q_bias_value(G, c, False)
            W = _mutate_q(G, W, "weight", nd)
        elif slot == "bias":
            if W is None:
                W = _q_slot(G, (c["cin"], c["cog"]) + tuple(c["k"]), "weight",
                            per_channel_len=c["cog"])
            A["set_bias"] = _q_bias_value(G, c, True)
        elif slot == "output_size":
            A["output_size"] = V(G.output_size(c, c["n"], True))
        elif slot == "out":
            A["out"] = G.mutate_out(final, "uint8")
    if c.get("out_is_input") and X["via"] == "qtensor":
        A["out"] = ("x.int_repr()", X["arr"][1])
    stmts = ([ctor_stmt(A, f"convt.quantized.ConvTranspose{nd}d")]
             + warmup_stmts(G, c, A, True))
    stmts += [f"m.scale = {A['scale'][0]}", f"m.zero_point = {A['zero_point'][0]}"]
    if W is not None:
        stmts.append(f"m.set_weight_bias({_q_src(W)}, {A['set_bias'][0]})")
    stmts += [f"x = {_q_src(X)}", f"out = {A['out'][0]}"]
    kws = []
    if A["output_size"][1] is not None:
        kws.append(kw("output_size", A["output_size"]))
    if A["out"][1] is not None:
        kws.append("out=out")
    if A["num_threads"][1] is not None:
        kws.append(kw("num_threads", A["num_threads"]))
    stmts.append(f"y = m(x{''.join(', ' + k for k in kws)})")
    objs = {k: v[1] for k, v in A.items()}
    objs["input"] = _q_obj(X)
    if W is not None:
        objs["weight"] = _q_obj(W)
    else:
        objs.pop("set_bias", None)
    return stmts, objs, again_stmt(G, "m(x, ", kws)
