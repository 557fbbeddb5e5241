"""Case builders of the float API, ``convt.conv_transpose{1,2,3}d`` (``gen_f``) and
``convt.ConvTranspose{1,2,3}d`` (``gen_m``).

A builder takes a ``CaseGenerator`` and returns (statements, argument name -> object for the
model, the statement that repeats the call).
"""

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
from .edges import THREADS_EDGES
from .rules import is_int, out_spatial
from .values import A_, V


def gen_f(G):
    nd, c = G.nd, G.base()
    xs = ((c["n"],) if c["n"] is not None else ()) + (c["cin"],) + tuple(c["isp"])
    ws = (c["cin"], c["cog"]) + tuple(c["k"])
    A = {"input": A_(G.float_spec(xs)), "weight": A_(G.float_spec(ws)),
         "bias": A_(G.float_spec((c["cout"],))) if c["bias"] else V(None),
         "stride": V(G.form(c["s"])), "padding": V(G.form(c["p"])),
         "output_padding": V(G.form(c["op"])), "groups": V(c["g"]),
         "dilation": V(G.form(c["d"])), "out": V(None),
         "num_threads": V(G.pick([None, 1, 2]))}
    if G.coin(0.1):
        A["weight"] = A_(G.float_spec((c["g"], c["cig"], c["cog"]) + tuple(c["k"])))
        G.tags.append("grouped weight layout")
    if c["bias"] and G.coin(0.1):
        A["bias"] = A_(G.float_spec((1, c["cout"]) + (1,) * nd))
    final = ((c["n"],) if c["n"] is not None else ()) + (c["cout"],) + out_spatial(
        c["isp"], c["k"], c["s"], c["p"], c["d"], c["op"])
    if c.get("out_is_input"):
        A["out"] = ("x", A["input"][1])
    elif G.coin(0.15):
        A["out"] = G.out(final, "float32")
    for _ in range(G.n_mutations()):
        slot = G.pick(["input", "input", "weight", "weight", "bias", "stride", "padding",
                       "output_padding", "dilation", "groups", "out", "num_threads",
                       "padding_big"])
        if slot in ("input", "weight", "bias"):
            spec = spec_of(A[slot]) or G.float_spec((c["cout"],))
            A[slot] = G.mutate_array(spec, slot)
        elif slot in ("stride", "padding", "output_padding", "dilation", "groups"):
            valid = {"stride": c["s"], "padding": c["p"], "output_padding": c["op"],
                     "dilation": c["d"], "groups": c["g"]}[slot]
            A[slot] = V(G.mutate_hyper(slot, valid))
        elif slot == "padding_big":
            G.tags.append("padding too large")
            A["padding"] = V(max(c["k"]) * max(c["d"]) + max(c["isp"]) * max(c["s"]))
        elif slot == "out":
            A["out"] = G.mutate_out(final, "float32")
        else:
            G.tags.append("num_threads")
            A["num_threads"] = V(G.pick(THREADS_EDGES))
    if c.get("out_is_input"):
        A["out"] = ("x", A["input"][1])
    stmts = [f"x = {A['input'][0]}", f"w = {A['weight'][0]}", f"b = {A['bias'][0]}",
             f"out = {A['out'][0]}"]
    kws = []
    for name in ("stride", "padding", "output_padding", "groups", "dilation"):
        default = 1 if name in ("stride", "groups", "dilation") else 0
        if not (A[name][1] is not None and is_int(A[name][1]) and A[name][1] == default
                and G.coin(0.5)):
            kws.append(kw(name, A[name]))
    if A["out"][1] is not None:
        kws.append("out=out")
    if A["num_threads"][1] is not None or G.coin(0.3):
        kws.append(kw("num_threads", A["num_threads"]))
    head = f"convt.conv_transpose{nd}d(x, w, b, "
    stmts.append(f"y = {head}{', '.join(kws)})")
    objs = {k: v[1] for k, v in A.items()}
    return stmts, objs, again_stmt(G, head, kws)


def gen_m(G):
    nd = G.nd
    c = G.base()
    A = layer_args(G, c, quant=False)
    xs = ((c["n"],) if c["n"] is not None else ()) + (c["cin"],) + tuple(c["isp"])
    A.update(input=A_(G.float_spec(xs)), out=V(None), num_threads=V(G.pick([None, 1, 2])),
             output_size=V(G.output_size(c, c["n"], False)))
    if G.coin(0.25):
        A["set_weight"] = A_(G.float_spec((c["cin"], c["cog"]) + tuple(c["k"])))
    if G.coin(0.2):
        A["set_bias"] = A_(G.float_spec((c["cout"],))) if G.coin(0.8) else V(None)
    op = c["op"]
    if A["output_size"][1] is not None:
        lo = out_spatial(c["isp"], c["k"], c["s"], c["p"], c["d"], [0] * nd)
        sz = list(A["output_size"][1])[-nd:]
        op = [v - a for v, a in zip(sz, lo)]
    final = ((c["n"],) if c["n"] is not None else ()) + (c["cout"],) + out_spatial(
        c["isp"], c["k"], c["s"], c["p"], c["d"], op)
    if G.coin(0.15):
        A["out"] = G.out(final, "float32")
    for _ in range(G.n_mutations()):
        slot = G.pick(CTOR_SLOTS + ["input", "input", "output_size", "output_size", "out",
                                    "num_threads", "set_weight", "set_bias"])
        if mutate_ctor(G, A, c, slot):
            continue
        if slot == "input":
            A["input"] = G.mutate_array(spec_of(A["input"]) or G.float_spec(xs), "input")
        elif slot == "output_size":
            A["output_size"] = V(G.output_size(c, c["n"], True))
        elif slot == "out":
            A["out"] = G.mutate_out(final, "float32")
        elif slot == "num_threads":
            G.tags.append("num_threads")
            A["num_threads"] = V(G.pick(THREADS_EDGES))
        elif slot == "set_weight":
            spec = G.float_spec((c["cin"], c["cog"]) + tuple(c["k"]))
            if G.coin(0.2):
                spec = G.float_spec((c["g"], c["cig"], c["cog"]) + tuple(c["k"]))
                G.tags.append("weight:grouped layout")
            A["set_weight"] = G.mutate_array(spec, "weight")
        else:
            A["set_bias"] = G.mutate_array(G.float_spec((c["cout"],)), "bias")
    if c.get("out_is_input"):
        A["out"] = ("x", A["input"][1])
    stmts = [ctor_stmt(A, f"convt.ConvTranspose{nd}d")] + warmup_stmts(G, c, A, False)
    if "set_weight" in A:
        stmts += [f"wa = {A['set_weight'][0]}", "m.weight = wa"]
    if "set_bias" in A:
        stmts += [f"ba = {A['set_bias'][0]}", "m.bias = ba"]
    stmts += [f"x = {A['input'][0]}", f"out = {A['out'][0]}"]
    kws = []
    if A["output_size"][1] is not None or G.coin(0.2):
        kws.append(kw("output_size", A["output_size"]))
    if A["out"][1] is not None:
        kws.append("out=out")
    if A["num_threads"][1] is not None:
        kws.append(kw("num_threads", A["num_threads"]))
    stmts.append(f"y = m(x{''.join(', ' + k for k in kws)})")
    objs = {k: v[1] for k, v in A.items()}
    return stmts, objs, again_stmt(G, "m(x, ", kws)
