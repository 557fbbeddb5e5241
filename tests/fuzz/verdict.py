"""What a failing case reports, and the exact comparison the checks use for "unchanged".

A verdict is None (the case passed) or a dict: ``kind`` (the failure class), ``detail`` (one
case's specifics) and ``sig`` (a tuple refining the class: exception type, message with the
numbers stripped, ...); crashes also carry ``history``, the ids of the cases their worker ran.
"""

import numpy as np


def failure(kind, detail, sig=None):
    return {"kind": kind, "detail": detail, "sig": sig}


def same_array(a, b):
    """Equal contents (NaN equal to NaN; object arrays: the same or equal objects)."""
    if a.dtype == object and b.dtype == object:     # the copy holds the same objects
        return all(p is q or p == q for p, q in zip(a.ravel().tolist(), b.ravel().tolist()))
    if a.dtype.kind in "fc":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)
