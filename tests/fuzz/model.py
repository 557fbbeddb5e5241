"""The validity model of each API: valid, invalid or unsure, and what a result must match.

``MODELS[api](nd, args)`` applies the rules (``rules``, ``quant_rules``) to the objects a case
passes (``args``: argument name -> object) and returns ``(Issues, check)``; ``check`` describes
the expected result (kind, shape, hyper-parameters) for the worker's comparison with the
reference, or is None when no result is expected or it cannot be predicted.
"""

import numpy as np

from .quant_rules import q_bias, q_conv, requant_mode, scale_ok, zero_point_ok
from .rules import (
    Issues,
    bias_shape,
    check_out,
    check_threads,
    float_arr,
    hyper,
    input_shape,
    layer_ctor,
    output_shape,
    output_size_padding,
)
from .values import QMark


def model_f(nd, a):
    iss = Issues()
    s, p, op, d, g = hyper(nd, a, iss)
    xshape = float_arr(a["input"], "input", iss)
    wshape = float_arr(a["weight"], "weight", iss)
    xb, batched = input_shape(xshape, nd, iss)
    wn = None
    if wshape is not None:
        if len(wshape) == nd + 3:
            if g is None:
                iss.allow("weight", "groups")
            elif wshape[0] != g:
                iss.invalid("weight: grouped layout, first dim != groups", "weight", "groups")
            else:
                wn = (wshape[0] * wshape[1],) + tuple(wshape[2:])
        elif len(wshape) == nd + 2:
            wn = tuple(wshape)
        else:
            iss.invalid(f"weight: rank {len(wshape)}", "weight")
        if wn is not None and any(v == 0 for v in wn[1:]):
            iss.invalid("weight: empty dimension", "weight")
            wn = None
    else:
        iss.allow("weight")
    cin = xb[1] if xb else None
    if wn is not None and cin is not None:
        if wn[0] != cin:
            iss.invalid("input/weight channel mismatch", "input", "weight", "channels")
            wn = None
        elif cin == 0:
            iss.maybe_("zero input channels", "input", "weight", "channels", "empty")
    if g is not None and cin is not None and cin % g:
        iss.invalid("groups do not divide input channels", "groups", "channels", "input")
        wn = None
    cout = wn[1] * g if (wn is not None and g is not None) else None
    if a["bias"] is not None:
        bias_shape(float_arr(a["bias"], "bias", iss), cout, nd, iss)
    final = output_shape(xb[0] if xb else None, cout, xb[2:] if xb else None,
                         wn[2:] if wn else None, s, p, d, op, batched, iss)
    out_given = check_out(a["out"], final, np.float32, iss,
                          [a["input"], a["weight"], a["bias"]])
    check_threads(a["num_threads"], iss)
    check = None
    if not iss.bad and final is not None:
        check = {"kind": "float", "api": "f", "nd": nd, "batched": batched, "shape": final,
                 "stride": s, "padding": p, "output_padding": op, "dilation": d, "groups": g,
                 "out": out_given}
    return iss, check


def model_m(nd, a):
    iss = Issues()
    L = layer_ctor(nd, a, iss)
    cin, cout, k, g = L["cin"], L["cout"], L["k"], L["g"]
    wshape = None if None in (cin, cout, k, g) else (cin, cout // g) + k
    if "set_weight" in a:
        ws = float_arr(a["set_weight"], "weight", iss)
        if ws is not None and wshape is not None and tuple(ws) != wshape:
            if len(ws) == nd + 3 and ws[0] == g and (ws[0] * ws[1],) + tuple(ws[2:]) == wshape:
                iss.maybe_("weight: grouped layout assigned", "weight")
            else:
                iss.invalid("weight: assigned shape", "weight")
        elif wshape is None:
            iss.allow("weight")
    if "set_bias" in a and a["set_bias"] is not None:
        bias_shape(float_arr(a["set_bias"], "bias", iss), cout, nd, iss, exact_only=True)
    xshape = float_arr(a["input"], "input", iss)
    xb, batched = input_shape(xshape, nd, iss)
    if xb is not None and cin is not None and xb[1] != cin:
        iss.invalid("input channels != in_channels", "input", "in_channels", "channels")
        xb = None
    op = L["op"]
    if a["output_size"] is not None:
        op = output_size_padding(a["output_size"], nd, batched, xb[0] if xb else None,
                                 cout, xb[2:] if xb else None, k, (L["s"], L["p"], L["d"]),
                                 iss)
        op = op or None
    final = output_shape(xb[0] if xb else None, cout, xb[2:] if xb else None, k, L["s"],
                         L["p"], L["d"], op, batched, iss)
    out_given = check_out(a["out"], final, np.float32, iss, [a["input"]])
    check_threads(a["num_threads"], iss)
    check = None
    if not iss.bad and final is not None:
        check = {"kind": "float", "api": "m", "nd": nd, "batched": batched, "shape": final,
                 "stride": L["s"], "padding": L["p"], "output_padding": op, "dilation": L["d"],
                 "groups": g, "out": out_given, "set_weight": "set_weight" in a}
    return iss, check


def model_qf(nd, a):
    iss = Issues()
    s, p, op, d, g = hyper(nd, a, iss)
    xb, batched, wn = q_conv(nd, a, iss)
    cin = xb[1] if xb else None
    if wn is not None and cin is not None:
        if wn[0] != cin:
            iss.invalid("input/weight channel mismatch", "input", "weight", "channels")
            wn = None
        elif cin == 0:
            iss.maybe_("zero input channels", "input", "weight", "channels", "empty")
    if g is not None and cin is not None and cin % g:
        iss.invalid("groups do not divide input channels", "groups", "channels", "input")
        wn = None
    cout = wn[1] * g if (wn is not None and g is not None) else None
    q_bias(a["bias"], cout, nd, iss)
    sy = scale_ok(a["scale"], "scale", iss)
    zy = zero_point_ok(a["zero_point"], 0, 255, "zero_point", iss)
    mode = requant_mode(a["requant"], iss)
    final = output_shape(xb[0] if xb else None, cout, xb[2:] if xb else None,
                         wn[2:] if wn else None, s, p, d, op, batched, iss)
    others = [a["bias"]] + [q.arr for q in (a["input"], a["weight"]) if isinstance(q, QMark)]
    out_given = check_out(a["out"], final, np.uint8, iss, others)
    check_threads(a["num_threads"], iss)
    check = None
    if not iss.bad and final is not None:
        check = {"kind": "quant", "api": "qf", "nd": nd, "batched": batched, "shape": final,
                 "stride": s, "padding": p, "output_padding": op, "dilation": d, "groups": g,
                 "out": out_given, "requant": mode, "scale": sy, "zero_point": zy}
    return iss, check


def model_qm(nd, a):
    iss = Issues()
    L = layer_ctor(nd, a, iss)
    mode = requant_mode(a["requant"], iss)
    cin, cout, k, g = L["cin"], L["cout"], L["k"], L["g"]
    sy = scale_ok(a["scale"], "scale", iss)
    zy = zero_point_ok(a["zero_point"], 0, 255, "zero_point", iss)
    wshape = None if None in (cin, cout, k, g) else (cin, cout // g) + k
    if "weight" in a:
        if wshape is None:
            iss.allow("weight", "bias")
        q_bias(a["set_bias"], cout, nd, iss)
    xb, batched, _ = q_conv(nd, a, iss, wshape_expect=wshape)
    if xb is not None and cin is not None and xb[1] != cin:
        iss.invalid("input channels != in_channels", "input", "in_channels", "channels")
        xb = None
    op = L["op"]
    if a["output_size"] is not None:
        op = output_size_padding(a["output_size"], nd, batched, xb[0] if xb else None,
                                 cout, xb[2:] if xb else None, k, (L["s"], L["p"], L["d"]),
                                 iss)
        op = op or None
    final = output_shape(xb[0] if xb else None, cout, xb[2:] if xb else None, k, L["s"],
                         L["p"], L["d"], op, batched, iss)
    others = [q.arr for q in (a["input"],) if isinstance(q, QMark)]
    out_given = check_out(a["out"], final, np.uint8, iss, others)
    check_threads(a["num_threads"], iss)
    check = None
    if not iss.bad and final is not None:
        check = {"kind": "quant", "api": "qm", "nd": nd, "batched": batched, "shape": final,
                 "stride": L["s"], "padding": L["p"], "output_padding": op, "dilation": L["d"],
                 "groups": g, "out": out_given, "requant": mode, "scale": sy, "zero_point": zy}
    return iss, check


MODELS = {"f": model_f, "m": model_m, "qf": model_qf, "qm": model_qm}
