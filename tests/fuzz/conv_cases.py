"""Case builders of the forward API: ``convt.conv{1,2,3}d`` (``gen_cf``), the layers
``convt.Conv{1,2,3}d`` with their padding_mode (``gen_cm``) and
``convt.quantized.functional.conv{1,2,3}d`` (``gen_cqf``) and the quantized layers
``convt.quantized.Conv{1,2,3}d`` (``gen_cqm``); same contract as ``float_cases``.

``conv_base`` draws the valid forward problem: weight (C_out, C_in/groups, *k), padding as
ints or 'valid' / 'same' (stride 1), a padding_mode whose limits hold (reflect: pad < I,
circular: pad <= I), every output size >= 1; sometimes huge strides / dilations / paddings
whose terms cancel into a small output.
"""

import numpy as np

from .calls import again_stmt, kw, spec_of
from .conv_rules import conv_out_spatial, pad_pairs
from .edges import BIASFLAG_EDGES, INT_EDGES, RNG_EDGES, THREADS_EDGES
from .quant_cases import (
    _mutate_q,
    _q_bias_value,
    _q_extra_mutation,
    _q_obj,
    _q_slot,
    _q_src,
)
from .rules import MAXP, is_int
from .values import A_, LayerMark, V

PADMODE_EDGES = ["zeros", "reflect", "replicate", "circular", "ZEROS", "Reflect", "",
                 "symmetric", "constant", None, 0, np.str_("reflect"), np.array(["zeros"]),
                 np.array(["zeros", "zeros"]), ["zeros"], b"zeros"]
PADDING_STR_EDGES = ["same", "valid", "SAME", "Valid", "full", "", " same", "same ",
                     np.str_("same"), np.str_("valid"), b"same", ["same"], np.array(["same"]),
                     ("same", "same")]


def _mode_ok(mode, isp, pairs):
    if mode == "reflect":
        return all(max(lo, hi) < i for i, (lo, hi) in zip(isp, pairs))
    if mode == "circular":
        return all(max(lo, hi) <= i for i, (lo, hi) in zip(isp, pairs))
    return True


def conv_base(G, modes=False):
    """A valid forward problem (dict); ``modes``: draw a padding_mode besides 'zeros'."""
    nd, rng = G.nd, G.rng
    g = G.pick([1, 1, 1, 2, 3])
    cig, cog = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    kmax, imax = (4, 8) if nd < 3 else (3, 5)
    k = [int(rng.integers(1, kmax)) for _ in range(nd)]
    s = [int(rng.integers(1, 4)) for _ in range(nd)]
    d = [int(rng.integers(1, 3)) for _ in range(nd)]
    isp = [int(rng.integers(1, imax)) for _ in range(nd)]
    p = [int(rng.integers(0, 3)) for _ in range(nd)]
    n = G.pick([None, 1, 1, 2])
    if G.coin(0.15):    # big enough for the GEMM kernels and several threads
        g = G.pick([1, 1, 2, 4])
        cig, cog = int(rng.integers(4, 49)), int(rng.integers(3, 49))
        lo, hi = {1: (8, 65), 2: (4, 13), 3: (3, 7)}[nd]
        isp = [int(rng.integers(lo, hi)) for _ in range(nd)]
        n = G.pick([None, 1, 2, 3])
        G.tags.append("larger problem")
    mode = "zeros"
    if modes and G.coin(0.5):
        mode = G.pick(["reflect", "replicate", "circular"])
    r = rng.random()
    pstr = None
    if r < 0.15:
        s = [1] * nd
        pstr = "same"
    elif r < 0.22:
        pstr = "valid"
    c = {"g": g, "cig": cig, "cog": cog, "k": k, "s": s, "d": d, "isp": isp, "p": p,
         "n": n, "bias": G.coin(0.7), "mode": mode, "pstr": pstr}
    r = rng.random()
    if r < 0.03:
        c["n"] = 0
        G.tags.append("batch=0")
    elif r < 0.06 and G.api in ("cf", "cqf"):
        c["g"], c["cig"] = 1, 0
        G.tags.append("channels=0")
    elif r < 0.12:
        _big_cancel(G, c)
    elif r < 0.15 and c["cig"]:
        c.update(k=[1] * nd, s=[1] * nd, d=[1] * nd, p=[0] * nd, cog=c["cig"],
                 out_is_input=True, pstr=None)
        G.tags.append("out=input")
    for a in range(nd):  # every output size positive, the padding_mode's limits held
        while True:
            pairs = pad_pairs(c["pstr"] or c["p"], c["k"], c["d"])
            osz = conv_out_spatial(c["isp"], c["k"], c["s"], pairs, c["d"])
            if osz[a] > 0 and _mode_ok(c["mode"], [c["isp"][a]], [pairs[a]]):
                break
            c["isp"][a] += 1
    a = int(rng.integers(nd))
    if G.coin(0.05) and not c.get("out_is_input") and c["d"][a] < 100:
        # invalid from the start: the input shorter than the kernel's extent, no padding
        c["k"][a], c["p"][a], c["pstr"] = max(c["k"][a], 2), 0, None
        c["isp"][a] = max(1, c["d"][a] * (c["k"][a] - 1) - int(rng.integers(0, 2)))
        G.tags.append("input smaller than the kernel extent")
    c["cin"], c["cout"] = c["g"] * c["cig"], c["g"] * c["cog"]
    c["pairs"] = pad_pairs(c["pstr"] or c["p"], c["k"], c["d"])
    return c


def _big_cancel(G, c):
    """Valid, small outputs from hyper-parameters near 2**31 (zero padding)."""
    a = int(G.rng.integers(G.nd))
    big = G.pick([MAXP, MAXP - 1, 2**30 + 7, 2**31 - 3])
    c["mode"], c["pstr"] = "zeros", None
    r = G.rng.random()
    i = c["isp"][a]
    if r < 0.4:          # huge dilation, padding making room for its two taps
        c["d"][a], c["k"][a], c["s"][a] = big, 2, G.pick([1, 1, 2, big])
        c["p"][a] = min(MAXP, (big + 1 - i + 1) // 2 + int(G.rng.integers(0, 3)))
        G.tags.append("huge dilation cancelled by padding")
    elif r < 0.7:        # huge stride: one or two outputs
        c["s"][a] = big
        c["p"][a] = G.pick([0, 1, c["p"][a], big // 2, MAXP])
        G.tags.append("huge stride")
    else:                # huge padding, huge stride: outputs of padding (bias) only
        c["s"][a] = G.pick([big, big // 2 + 1])
        c["p"][a] = G.pick([MAXP, big, big // 2])
        c["k"][a] = G.pick([1, c["k"][a]])
        G.tags.append("huge padding and stride")


def _padding_value(G, c):
    """The rendering of the base padding: a string or a valid int form."""
    if c["pstr"] is not None:
        return c["pstr"] if G.coin(0.9) else np.str_(c["pstr"])
    if all(v == 0 for v in c["p"]) and G.coin(0.15):
        return "valid"
    if all(v == 1 for v in c["s"]) and G.coin(0.05):
        pairs = pad_pairs("same", c["k"], c["d"])
        if all(lo == hi for lo, hi in pairs):
            return G.form([lo for lo, _ in pairs])
    return G.form(c["p"])


def _mutate_padding(G, c):
    """(a wrong or unusual padding, a stride to pass with it or None)."""
    r = G.rng.random()
    if r < 0.3:
        G.tags.append("padding=string")
        v = G.pick(PADDING_STR_EDGES)
        if isinstance(v, str) and v == "same" and G.coin(0.5):
            st = list(c["s"])
            st[int(G.rng.integers(G.nd))] = 2
            G.tags.append("same with stride")
            return v, G.form(st)
        return v, None
    if r < 0.45:
        G.tags.append("padding too large")
        return int(max(c["k"]) * max(c["d"]) + max(c["isp"]) * max(c["s"])), None
    return G.mutate_hyper("padding", tuple(c["p"])), None


def _set_padding(G, A, c):
    pad, stride = _mutate_padding(G, c)
    A["padding"] = V(pad)
    if stride is not None:
        A["stride"] = V(stride)


def _shape(c):
    return ((c["n"],) if c["n"] is not None else ()) + (c["cin"],) + tuple(c["isp"])


def _final(c):
    """The output shape of the base problem (sizes at least 1: an ``out=`` of that shape
    stays buildable when the base problem's output is empty)."""
    osp = conv_out_spatial(c["isp"], c["k"], c["s"], c["pairs"], c["d"])
    return ((c["n"],) if c["n"] is not None else ()) + (c["cout"],) + tuple(max(1, o)
                                                                          for o in osp)


def _weight_spec_mutation(G, c):
    """Forward-specific wrong weights: the transposed layout, C_out not divisible by groups,
    C_in/groups off by one."""
    what = G.pick(["transposed", "cout", "cig"])
    G.tags.append(f"weight:{what}")
    if what == "transposed":
        shape = (c["cin"], c["cog"]) + tuple(c["k"])
    elif what == "cout":
        shape = (c["cout"] + 1, c["cig"]) + tuple(c["k"])
    else:
        shape = (c["cout"], c["cig"] + 1) + tuple(c["k"])
    return shape


# -- convt.conv{n}d -------------------------------------------------------------------------
def gen_cf(G):
    nd, c = G.nd, conv_base(G)
    ws = (c["cout"], c["cig"]) + tuple(c["k"])
    A = {"input": A_(G.float_spec(_shape(c))), "weight": A_(G.float_spec(ws)),
         "bias": A_(G.float_spec((c["cout"],))) if c["bias"] else V(None),
         "stride": V(G.form(c["s"])), "padding": V(_padding_value(G, c)), "groups": V(c["g"]),
         "dilation": V(G.form(c["d"])), "out": V(None),
         "num_threads": V(G.pick([None, 1, 2]))}
    if c["bias"] and G.coin(0.1):
        A["bias"] = A_(G.float_spec((1, c["cout"]) + (1,) * nd))
    final = _final(c)
    if G.coin(0.15):
        A["out"] = G.out(final, "float32")
    for _ in range(G.n_mutations()):
        slot = G.pick(["input", "input", "weight", "weight", "bias", "stride", "padding",
                       "padding", "dilation", "groups", "out", "num_threads"])
        if slot in ("input", "bias"):
            spec = spec_of(A[slot]) or G.float_spec((c["cout"],))
            A[slot] = G.mutate_array(spec, slot)
        elif slot == "weight":
            if G.coin(0.3):
                A["weight"] = A_(G.float_spec(_weight_spec_mutation(G, c)))
            else:
                A["weight"] = G.mutate_array(spec_of(A["weight"]) or G.float_spec(ws), "weight")
        elif slot == "padding":
            _set_padding(G, A, c)
        elif slot in ("stride", "dilation", "groups"):
            valid = {"stride": c["s"], "dilation": c["d"], "groups": c["g"]}[slot]
            A[slot] = V(G.mutate_hyper(slot, valid))
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
    for name in ("stride", "padding", "dilation", "groups"):
        default = 0 if name == "padding" else 1
        if not (A[name][1] is not None and is_int(A[name][1]) and A[name][1] == default
                and G.coin(0.5)):
            kws.append(kw(name, A[name]))
    if A["out"][1] is not None:
        kws.append("out=out")
    if A["num_threads"][1] is not None or G.coin(0.3):
        kws.append(kw("num_threads", A["num_threads"]))
    head = f"convt.conv{nd}d(x, w, b, "
    stmts.append(f"y = {head}{', '.join(kws)})")
    objs = {k: v[1] for k, v in A.items()}
    return stmts, objs, again_stmt(G, head, kws)


# -- convt.Conv{n}d --------------------------------------------------------------------------
CONV_CTOR = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
             "groups", "bias", "padding_mode"]


def _conv_ctor_stmt(G, A, cls):
    parts = [A["in_channels"][0], A["out_channels"][0], A["kernel_size"][0]]
    positional = G.coin(0.3)
    for name in CONV_CTOR[3:]:
        parts.append(A[name][0] if positional else kw(name, A[name]))
    parts.append(kw("rng", A["rng"]))
    return f"m = {cls}({', '.join(parts)})"


def _mutate_conv_ctor(G, A, c, slot):
    """Mutate a forward layer's constructor argument; False when ``slot`` is not one."""
    if slot in ("stride", "dilation", "groups", "kernel_size"):
        valid = {"stride": c["s"], "dilation": c["d"], "groups": c["g"],
                 "kernel_size": c["k"]}[slot]
        A[slot] = V(G.mutate_hyper(slot, valid))
    elif slot == "padding":
        _set_padding(G, A, c)
    elif slot in ("in_channels", "out_channels"):
        G.tags.append(f"{slot}=edge")
        # (no sizes whose weights fit in memory but take seconds to initialise and quantize)
        A[slot] = V(G.pick(INT_EDGES + [1.0, True, "4", None, np.int64(c["cin"]), (4,),
                                        10**4, 2**27]))
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
    else:
        return False
    return True


def gen_cm(G):
    nd, c = G.nd, conv_base(G, modes=True)
    A = {"in_channels": V(c["cin"]), "out_channels": V(c["cout"]),
         "kernel_size": V(G.form(c["k"])), "stride": V(G.form(c["s"])),
         "padding": V(_padding_value(G, c)), "dilation": V(G.form(c["d"])),
         "groups": V(c["g"]), "bias": V(c["bias"]), "padding_mode": V(c["mode"]),
         "rng": V(G.pick([None, 0, int(G.rng.integers(100))])),
         "input": A_(G.float_spec(_shape(c))), "out": V(None),
         "num_threads": V(G.pick([None, 1, 2]))}
    wshape = (c["cout"], c["cig"]) + tuple(c["k"])
    if G.coin(0.25):
        A["set_weight"] = A_(G.float_spec(wshape))
    if G.coin(0.2):
        A["set_bias"] = A_(G.float_spec((c["cout"],))) if G.coin(0.8) else V(None)
    final = _final(c)
    if G.coin(0.15):
        A["out"] = G.out(final, "float32")
    ctor_mutated = False
    for _ in range(G.n_mutations()):
        slot = G.pick(CONV_CTOR + ["rng", "padding_mode", "padding", "input", "input", "out",
                                   "num_threads", "set_weight", "set_bias"])
        if _mutate_conv_ctor(G, A, c, slot):
            ctor_mutated = True
            continue
        if slot == "input":
            A["input"] = G.mutate_array(spec_of(A["input"]) or G.float_spec(_shape(c)),
                                        "input")
        elif slot == "out":
            A["out"] = G.mutate_out(final, "float32")
        elif slot == "num_threads":
            G.tags.append("num_threads")
            A["num_threads"] = V(G.pick(THREADS_EDGES))
        elif slot == "set_weight":
            spec = G.float_spec(_weight_spec_mutation(G, c) if G.coin(0.3) else wshape)
            A["set_weight"] = G.mutate_array(spec, "weight")
        else:
            A["set_bias"] = G.mutate_array(G.float_spec((c["cout"],)), "bias")
    if c.get("out_is_input"):
        A["out"] = ("x", A["input"][1])
    stmts = [_conv_ctor_stmt(G, A, f"convt.Conv{nd}d")]
    # a first call with another batch size (the packed weights' cache), on the base problem's
    # layer only: its outcome is not what the model judges
    if G.coin(0.25) and not ctor_mutated:
        n0 = 2 if c["n"] is None else (None if c["n"] == 1 and G.coin(0.5) else c["n"] + 1)
        shape0 = ((n0,) if n0 is not None else ()) + (c["cin"],) + tuple(c["isp"])
        G.tags.append("warm-up call")
        stmts.append(f"y0 = m(_arr({G.float_spec(shape0)!r}))")
    if "set_weight" in A:
        stmts += [f"wa = {A['set_weight'][0]}", "m.weight = wa"]
    if "set_bias" in A:
        stmts += [f"ba = {A['set_bias'][0]}", "m.bias = ba"]
    stmts += [f"x = {A['input'][0]}", f"out = {A['out'][0]}"]
    kws = []
    if A["out"][1] is not None:
        kws.append("out=out")
    if A["num_threads"][1] is not None:
        kws.append(kw("num_threads", A["num_threads"]))
    stmts.append(f"y = m(x{''.join(', ' + k for k in kws)})")
    objs = {k: v[1] for k, v in A.items()}
    return stmts, objs, again_stmt(G, "m(x, ", kws)


# -- convt.quantized.functional.conv{n}d ---------------------------------------------------
def gen_cqf(G):
    nd, c = G.nd, conv_base(G, modes=True)
    X = _q_slot(G, _shape(c), "input")
    ws = (c["cout"], c["cig"]) + tuple(c["k"])
    W = _q_slot(G, ws, "weight", per_channel_len=c["cout"], axis=0)
    A = {"bias": _q_bias_value(G, c, False), "stride": V(G.form(c["s"])),
         "padding": V(_padding_value(G, c)), "dilation": V(G.form(c["d"])),
         "groups": V(c["g"]), "padding_mode": V(c["mode"]), "out": V(None),
         "num_threads": V(G.pick([None, 1, 2])),
         "scale": V(float(np.round(G.rng.uniform(0.01, 1.0), 4))),
         "zero_point": V(int(G.rng.integers(0, 256))),
         "requant": V(G.pick(["fbgemm", "qnnpack"]))}
    final = _final(c)
    if G.coin(0.15):
        A["out"] = G.out(final, "uint8")
    for _ in range(G.n_mutations()):
        slot = G.pick(["input", "input", "weight", "weight", "bias", "stride", "padding",
                       "padding", "dilation", "groups", "padding_mode", "out", "num_threads",
                       "scale", "zero_point", "requant", "scale"])
        if slot == "input":
            X = _mutate_q(G, X, "input", nd)
        elif slot == "weight":
            if G.coin(0.25):
                W = _q_slot(G, _weight_spec_mutation(G, c), "weight")
            else:
                W = _mutate_q(G, W, "weight", nd)
        elif slot == "bias":
            A["bias"] = _q_bias_value(G, c, True)
        elif slot == "padding":
            _set_padding(G, A, c)
        elif slot in ("stride", "dilation", "groups"):
            valid = {"stride": c["s"], "dilation": c["d"], "groups": c["g"]}[slot]
            A[slot] = V(G.mutate_hyper(slot, valid))
        elif slot == "padding_mode":
            G.tags.append("padding_mode")
            A["padding_mode"] = V(G.pick(PADMODE_EDGES))
        elif slot == "out":
            A["out"] = G.mutate_out(final, "uint8")
        else:
            _q_extra_mutation(G, A, slot)
    if c.get("out_is_input") and X["via"] == "qtensor":
        A["out"] = ("x.int_repr()", X["arr"][1])
    stmts = [f"x = {_q_src(X)}", f"w = {_q_src(W)}", f"b = {A['bias'][0]}",
             f"sy = {A['scale'][0]}", f"zy = {A['zero_point'][0]}", f"out = {A['out'][0]}"]
    kws = [kw(n, A[n]) for n in ("stride", "padding", "dilation", "groups")]
    pm = A["padding_mode"][1]
    if not (isinstance(pm, str) and pm == "zeros") or G.coin(0.3):
        kws.append(kw("padding_mode", A["padding_mode"]))
    kws += ["scale=sy", "zero_point=zy", kw("requant", A["requant"])]
    if A["out"][1] is not None:
        kws.append("out=out")
    if A["num_threads"][1] is not None:
        kws.append(kw("num_threads", A["num_threads"]))
    head = f"convt.quantized.functional.conv{nd}d(x, w, b, "
    stmts.append(f"y = {head}{', '.join(kws)})")
    objs = {k: v[1] for k, v in A.items()}
    objs.update(input=_q_obj(X), weight=_q_obj(W))
    return stmts, objs, again_stmt(G, head, kws)


# -- convt.quantized.Conv{n}d ----------------------------------------------------------------
def gen_cqm(G):
    nd, c = G.nd, conv_base(G, modes=True)
    A = {"in_channels": V(c["cin"]), "out_channels": V(c["cout"]),
         "kernel_size": V(G.form(c["k"])), "stride": V(G.form(c["s"])),
         "padding": V(_padding_value(G, c)), "dilation": V(G.form(c["d"])),
         "groups": V(c["g"]), "bias": V(c["bias"]), "padding_mode": V(c["mode"]),
         "rng": V(G.pick([None, 0, int(G.rng.integers(100))])),
         "requant": V(G.pick(["fbgemm", "qnnpack"])), "out": V(None),
         "num_threads": V(G.pick([None, 1, 2])),
         "scale": V(float(np.round(G.rng.uniform(0.01, 1.0), 4))),
         "zero_point": V(int(G.rng.integers(0, 256)))}
    X = _q_slot(G, _shape(c), "input")
    ws = (c["cout"], c["cig"]) + tuple(c["k"])
    W = None
    if G.coin(0.6):
        W = _q_slot(G, ws, "weight", per_channel_len=c["cout"], axis=0)
        A["set_bias"] = _q_bias_value(G, c, False)
    final = _final(c)
    if G.coin(0.15):
        A["out"] = G.out(final, "uint8")
    ctor_mutated = False
    for _ in range(G.n_mutations()):
        slot = G.pick(CONV_CTOR + ["rng", "requant", "padding_mode", "padding", "input",
                                   "input", "weight", "weight", "bias", "out", "num_threads",
                                   "scale", "zero_point"])
        if slot != "bias" and _mutate_conv_ctor(G, A, c, slot):
            ctor_mutated = True
            continue
        if _q_extra_mutation(G, A, slot):
            ctor_mutated |= slot == "requant"
            continue
        if slot == "input":
            X = _mutate_q(G, X, "input", nd)
        elif slot in ("weight", "bias"):
            if W is None:
                W = _q_slot(G, ws, "weight", per_channel_len=c["cout"], axis=0)
                A["set_bias"] = _q_bias_value(G, c, False)
            if slot == "bias":
                if G.coin(0.3):
                    _mutate_conv_ctor(G, A, c, "bias")      # the constructor's flag
                    ctor_mutated = True
                else:
                    A["set_bias"] = _q_bias_value(G, c, True)
            elif G.coin(0.25):
                W = _q_slot(G, _weight_spec_mutation(G, c), "weight")
            else:
                W = _mutate_q(G, W, "weight", nd)
        elif slot == "out":
            A["out"] = G.mutate_out(final, "uint8")
    if c.get("out_is_input") and X["via"] == "qtensor":
        A["out"] = ("x.int_repr()", X["arr"][1])
    stmts = [_conv_ctor_stmt(G, A, f"convt.quantized.Conv{nd}d")[:-1]
             + f", requant={A['requant'][0]})"]
    # a first call with another batch size, then new scale / weights (base layer only)
    if G.coin(0.25) and not ctor_mutated:
        n0 = 2 if c["n"] is None else (None if c["n"] == 1 and G.coin(0.5) else c["n"] + 1)
        shape0 = ((n0,) if n0 is not None else ()) + (c["cin"],) + tuple(c["isp"])
        G.tags.append("warm-up call")
        stmts.append(f"y0 = m(convt.QTensor(_arr({('u8', shape0, 'uint8', G.seed(), 'c', None)!r}"
                     f"), 0.05, 3))")
    stmts += [f"m.scale = {A['scale'][0]}", f"m.zero_point = {A['zero_point'][0]}"]
    if W is not None:
        stmts.append(f"m.set_weight_bias({_q_src(W)}, {A['set_bias'][0]})")
    stmts += [f"x = {_q_src(X)}", f"out = {A['out'][0]}"]
    kws = []
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
