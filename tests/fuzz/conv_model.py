"""The validity model of the forward APIs, as ``model`` is for the transposed ones.

``CONV_MODELS[api](nd, args)`` -> ``(Issues, check)`` for ``cf`` (``convt.conv{n}d``), ``cm``
(``convt.Conv{n}d``), ``cqf`` (``convt.quantized.functional.conv{n}d``) and ``cqm``
(``convt.quantized.Conv{n}d``); ``check`` has kind
``conv_float`` / ``conv_quant`` and the resolved (lo, hi) padding per dimension and the
padding_mode for ``conv_results``.
"""

import numpy as np

from .conv_rules import (
    conv_hyper,
    conv_layer_ctor,
    conv_output_shape,
    forward_weight,
    pad_pairs,
    padding_mode_of,
)
from .quant_rules import q_bias, qtensor_shape, requant_mode, scale_ok, zero_point_ok
from .rules import Issues, bias_shape, check_out, check_threads, float_arr, input_shape
from .values import QMark


def _check(kind, api, nd, batched, final, s, pairs, d, g, mode, out_given, **extra):
    return dict(kind=kind, api=api, nd=nd, batched=batched, shape=final, stride=s,
                pairs=pairs, dilation=d, groups=g, padding_mode=mode, out=out_given, **extra)


def model_cf(nd, a):
    iss = Issues()
    s, p, d, g = conv_hyper(nd, a, iss)
    xb, batched = input_shape(float_arr(a["input"], "input", iss), nd, iss)
    wshape = float_arr(a["weight"], "weight", iss)
    cin = xb[1] if xb else None
    wn = forward_weight(wshape, nd, g, cin, iss)
    cout = wn[0] if wn else None
    if a["bias"] is not None:
        bias_shape(float_arr(a["bias"], "bias", iss), cout, nd, iss)
    k = wn[2:] if wn else None
    pairs = pad_pairs(p, k, d)
    final = conv_output_shape(xb[0] if xb else None, cin, cout, xb[2:] if xb else None, k, s,
                              pairs, d, "zeros", batched, iss)
    out_given = check_out(a["out"], final, np.float32, iss,
                          [a["input"], a["weight"], a["bias"]])
    check_threads(a["num_threads"], iss)
    check = None
    if not iss.bad and final is not None:
        check = _check("conv_float", "cf", nd, batched, final, s, pairs, d, g, "zeros",
                       out_given)
    return iss, check


def model_cm(nd, a):
    iss = Issues()
    L = conv_layer_ctor(nd, a, iss)
    cin, cout, k, g = L["cin"], L["cout"], L["k"], L["g"]
    wshape = None if None in (cin, cout, k, g) else (cout, cin // g) + k
    if "set_weight" in a:
        ws = float_arr(a["set_weight"], "weight", iss)
        if ws is not None and wshape is not None and tuple(ws) != wshape:
            iss.invalid("weight: assigned shape", "weight")
        elif wshape is None:
            iss.allow("weight")
    if "set_bias" in a and a["set_bias"] is not None:
        bias_shape(float_arr(a["set_bias"], "bias", iss), cout, nd, iss, exact_only=True)
    xb, batched = input_shape(float_arr(a["input"], "input", iss), nd, iss)
    if xb is not None and cin is not None and xb[1] != cin:
        iss.invalid("input channels != in_channels", "input", "in_channels", "channels")
        xb = None
    final = conv_output_shape(xb[0] if xb else None, cin, cout, xb[2:] if xb else None, k,
                              L["s"], L["pairs"], L["d"], L["mode"], batched, iss)
    out_given = check_out(a["out"], final, np.float32, iss, [a["input"]])
    check_threads(a["num_threads"], iss)
    check = None
    if not iss.bad and final is not None:
        check = _check("conv_float", "cm", nd, batched, final, L["s"], L["pairs"], L["d"], g,
                       L["mode"], out_given, set_weight="set_weight" in a)
    return iss, check


def model_cqf(nd, a):
    iss = Issues()
    s, p, d, g = conv_hyper(nd, a, iss)
    mode = padding_mode_of(a["padding_mode"], iss)
    xb, batched = input_shape(qtensor_shape(a["input"], "input", "u8", iss), nd, iss)
    wshape = qtensor_shape(a["weight"], "weight", "i8", iss, w_axis=0)
    cin = xb[1] if xb else None
    wn = forward_weight(wshape, nd, g, cin, iss)
    cout = wn[0] if wn else None
    q_bias(a["bias"], cout, nd, iss)
    sy = scale_ok(a["scale"], "scale", iss)
    zy = zero_point_ok(a["zero_point"], 0, 255, "zero_point", iss)
    rq = requant_mode(a["requant"], iss)
    k = wn[2:] if wn else None
    pairs = pad_pairs(p, k, d)
    final = conv_output_shape(xb[0] if xb else None, cin, cout, xb[2:] if xb else None, k, s,
                              pairs, d, mode, batched, iss)
    others = [a["bias"]] + [q.arr for q in (a["input"], a["weight"]) if isinstance(q, QMark)]
    out_given = check_out(a["out"], final, np.uint8, iss, others)
    check_threads(a["num_threads"], iss)
    check = None
    if not iss.bad and final is not None:
        check = _check("conv_quant", "cqf", nd, batched, final, s, pairs, d, g, mode,
                       out_given, requant=rq, scale=sy, zero_point=zy)
    return iss, check


def model_cqm(nd, a):
    iss = Issues()
    L = conv_layer_ctor(nd, a, iss)
    rq = requant_mode(a["requant"], iss)
    cin, cout, k, g = L["cin"], L["cout"], L["k"], L["g"]
    sy = scale_ok(a["scale"], "scale", iss)
    zy = zero_point_ok(a["zero_point"], 0, 255, "zero_point", iss)
    wshape = None if None in (cin, cout, k, g) else (cout, cin // g) + k
    if "weight" in a:
        ws = qtensor_shape(a["weight"], "weight", "i8", iss, w_axis=0)
        if wshape is None:
            iss.allow("weight", "bias")
        elif ws is not None and tuple(ws) != wshape:
            iss.invalid("weight: shape differs from the layer's", "weight")
        q_bias(a["set_bias"], cout, nd, iss)
    xb, batched = input_shape(qtensor_shape(a["input"], "input", "u8", iss), nd, iss)
    if xb is not None and cin is not None and xb[1] != cin:
        iss.invalid("input channels != in_channels", "input", "in_channels", "channels")
        xb = None
    final = conv_output_shape(xb[0] if xb else None, cin, cout, xb[2:] if xb else None, k,
                              L["s"], L["pairs"], L["d"], L["mode"], batched, iss)
    others = [q.arr for q in (a["input"],) if isinstance(q, QMark)]
    out_given = check_out(a["out"], final, np.uint8, iss, others)
    check_threads(a["num_threads"], iss)
    check = None
    if not iss.bad and final is not None:
        check = _check("conv_quant", "cqm", nd, batched, final, L["s"], L["pairs"], L["d"], g,
                       L["mode"], out_given, requant=rq, scale=sy, zero_point=zy)
    return iss, check


CONV_MODELS = {"cf": model_cf, "cm": model_cm, "cqf": model_cqf, "cqm": model_cqm}
