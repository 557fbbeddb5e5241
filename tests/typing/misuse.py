"""Mistakes mypy must catch with convt's annotations (type-checked, never run).

Each line ending in ``# E: <error codes>`` must get exactly those mypy errors
(tests/test_typing.py); no other line may get one.
"""

from __future__ import annotations

import numpy as np

import convt
from convt.quantized import functional as qF

x = np.ones((1, 4, 5, 5), np.float32)
w = np.ones((4, 2, 3, 3), np.float32)
q = convt.quantize_per_tensor(x, 0.1, 0)
qw = convt.quantize_per_tensor(w, 0.1, 0, np.int8)

convt.conv_transpose2d(q, w)  # E: arg-type
convt.conv_transpose2d(x, w, stride="2")  # E: arg-type
convt.conv_transpose2d(x, w, outt=None)  # E: call-arg
qF.conv_transpose2d(x, qw, scale=0.1, zero_point=0)  # E: arg-type
qF.conv_transpose2d(q, qw)  # E: call-arg
convt.ConvTranspose2d(4, 2, 3)(q)  # E: arg-type
convt.ConvTranspose2d(4, 2, 3, bias=None)  # E: arg-type
convt.quantized.ConvTranspose2d(4, 2, 3).weight = qw  # E: method-assign assignment
name: str = q.q_scale()  # E: assignment
