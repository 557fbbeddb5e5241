"""Fixed cases for the failure classes long fuzz runs found; they run in every CI run next to
the random ones."""


def _example(name, api, nd, stmts, status, names, shape=None, again=None):
    """A fixed case; ``shape``: the result shape a valid call must give (stride 1, no padding,
    dilation 1, groups 1; quantized: output scale 0.1, zero point 5, requant 'fbgemm')."""
    chk = None
    if shape is not None:
        chk = {"kind": "quant" if api.startswith("q") else "float", "api": api, "nd": nd,
               "batched": True, "shape": shape, "stride": (1,) * nd, "padding": (0,) * nd,
               "output_padding": (0,) * nd, "dilation": (1,) * nd, "groups": 1, "out": False,
               "requant": "fbgemm", "scale": 0.1, "zero_point": 5}
    expect = {"status": status, "bad": [name] if status == "invalid" else [],
              "unsure": [name] if status == "unsure" else [], "names": names, "huge": False}
    return {"id": f"example:{name}", "api": api, "nd": nd, "stmts": stmts, "check": chk,
            "tags": [name], "again": again, "expect": expect}


_QX0 = "x = convt.QTensor(np.zeros((1, 0, 1, 1, 1), np.uint8), 0.1, 0)"
_QW0 = "w = convt.QTensor(np.zeros((0, 3, 3, 3, 3), np.int8), 0.01, 0)"
_QCALL = "convt.quantized.functional.conv_transpose3d(x, w, scale=0.1, zero_point=5"
EXAMPLES = [
    # zero input channels: accepted, but the engine writes past the output (heap corruption)
    _example("zero input channels (float)", "f", 2,
             ["x = np.zeros((1, 0, 1, 1), np.float32)", "w = np.zeros((0, 3, 2, 2), np.float32)",
              "b = None", "out = None", "y = convt.conv_transpose2d(x, w, b)"], "unsure",
             ["input", "weight", "channels", "empty"], shape=(1, 3, 2, 2),
             again="y_again = convt.conv_transpose2d(x, w, b, out=guarded_out, num_threads=2)"),
    _example("zero input channels (quantized)", "qf", 3,
             [_QX0, _QW0, "b, sy, zy, out = None, 0.1, 5, None", f"y = {_QCALL})"], "unsure",
             ["input", "weight", "channels", "empty"],
             shape=(1, 3, 3, 3, 3),
             again=f"y_again = {_QCALL}, out=guarded_out, num_threads=2)"),
    # errors raised by NumPy that do not name the argument, or of another type
    _example("negative rng seed", "m", 1, ["m = convt.ConvTranspose1d(2, 2, 3, rng=-1)"],
             "invalid", ["rng"]),
    _example("rng of the wrong type", "m", 1, ["m = convt.ConvTranspose1d(2, 2, 3, rng='x')"],
             "invalid", ["rng"]),
    _example("padding_mode array", "m", 1,
             ["m = convt.ConvTranspose1d(2, 2, 3, padding_mode=np.array(['zeros', 'zeros']))"],
             "invalid", ["padding_mode"]),
    _example("requant array", "qf", 1,
             ["x = convt.QTensor(np.zeros((1, 2, 3), np.uint8), 0.1, 0)",
              "w = convt.QTensor(np.zeros((2, 3, 2), np.int8), 0.01, 0)",
              ("y = convt.quantized.functional.conv_transpose1d(x, w, scale=0.1, zero_point=0, "
               "requant=np.array(['fbgemm', 'qnnpack']))")], "invalid", ["requant"]),
    _example("scale: int beyond float", "qf", 1,
             ["x = convt.QTensor(np.zeros((1, 2, 3), np.uint8), 0.1, 0)",
              "w = convt.QTensor(np.zeros((2, 3, 2), np.int8), 0.01, 0)",
              ("y = convt.quantized.functional.conv_transpose1d(x, w, scale=2**1024, "
               "zero_point=0)")], "invalid", ["scale"]),
]
