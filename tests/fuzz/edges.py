"""Edge values the generator substitutes for valid arguments."""

import numpy as np

from .rules import F32_TINY, MAXP

INT_EDGES = [0, -1, 1, 2, 3, 5, MAXP, 2**31, -2**31, -MAXP, 2**32 + 1, 2**63 - 1, 2**63,
             -2**63, 2**64, 10**30]


def junk(nd):
    """Values of the wrong type (or a tuple with a wrong element) for int hyper-parameters."""
    one = [1] * nd
    return [True, False, np.True_, 1.0, 2.5, float("nan"), float("inf"), -0.0, "2", "", None,
            [], (), {}, b"1", 1j, np.float64(2.0), np.float32(1.0), np.array(2),
            np.array([2] * nd), np.array([2.0] * nd), np.array([one]), [one],
            tuple([1] * (nd + 1)), tuple([1] * (nd - 1)), tuple(one[:-1] + [True]),
            tuple(one[:-1] + [1.0]), tuple(one[:-1] + [None]), tuple(one[:-1] + ["1"]),
            tuple(one[:-1] + [2**63]), tuple(one[:-1] + [-2**31]), [np.int64(1)] * nd,
            np.int8(-1), np.uint64(2**63), np.uint64(3), np.int64(2), np.uint8(2),
            np.array([2] * (nd + 1))]


THREADS_EDGES = [0, -1, 1, 2, 3, 8, 64, 1024, MAXP, 2**31, 2**63, -2**63, True, False, 1.0,
                 2.5, "2", [2], (2,), np.int64(2), np.int8(-1), np.uint64(2**63),
                 np.float64(2), None, float("nan"), np.array(2), np.array([2])]
SCALE_EDGES = [0.0, -0.1, -0.0, float("nan"), float("inf"), -float("inf"), 1e-45, 1e-40, 1e-38,
               F32_TINY, 2e-38, 1e-30, 1e-20, 1e-10, 1e-5, 10.0, 1e10, 1e30, 1e38, 3.4e38,
               3.5e38, 1e300, 2**1024, 2**200, 1, 7, True, "0.1", None, [0.1], 1j,
               np.float32(0.05), np.float64(1e-45), np.float16(0.1), np.int64(1),
               np.array(0.1), np.float32(1e-40), np.longdouble(0.5)]
ZP_EDGES = [-1, 0, 1, 127, 128, 255, 256, -128, -129, 300, 2**31, 2**63, -2**63, 1.0, 0.0,
            True, None, "0", [3], np.uint8(255), np.int64(-1), np.int8(5), np.uint64(2**63),
            np.array(3), np.float64(3.0)]
REQUANT_EDGES = ["fbgemm", "qnnpack", "FBGEMM", "x", "", None, 1, np.str_("qnnpack"),
                 np.array(["fbgemm"]), np.array(["fbgemm", "qnnpack"]), ["fbgemm"],
                 b"fbgemm", ("fbgemm",)]
PADMODE_EDGES = ["zeros", "reflect", "circular", "replicate", "ZEROS", "", None, 0,
                 np.str_("zeros"), np.array(["zeros"]), np.array(["zeros", "zeros"]),
                 ["zeros"], b"zeros"]
RNG_EDGES = [None, 0, 7, 2**70, -1, 1.5, "x", [1, 2], [1, -1], np.int64(3), True, b"x"]
BIASFLAG_EDGES = [True, False, np.True_, np.False_, 0, 1, None, "True", [], np.array(True),
                  1.0]

FLOAT_DTYPES_OK = ["float64", "float16"]
FLOAT_DTYPES_BAD = ["int32", "int64", "uint8", "int8", "bool", "complex64", "object", "str"]
LAYOUTS = ["f", "strided", "reversed", "unaligned", "readonly", "unaligned_ro", "broadcast",
           "offset"]
SPECIALS = ["nan", "inf", "-inf", "big", "tiny"]
