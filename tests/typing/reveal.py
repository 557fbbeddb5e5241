"""What mypy infers for the results of convt's public API (type-checked, never run).

tests/test_typing.py runs ``mypy --strict`` on this file: every ``assert_type`` must hold
(an error otherwise) and the ``reveal_type`` notes are compared with the reference ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import convt
from convt import QTensor
from convt.quantized import functional as qF


def check(x: npt.NDArray[np.float32], w: npt.NDArray[np.float64], q: QTensor,
          ref_f32: npt.NDArray[np.float32], ref_u8: npt.NDArray[np.uint8]) -> None:
    reveal_type(ref_f32)  # REF float32
    reveal_type(ref_u8)  # REF uint8

    y = convt.conv_transpose2d(x, w)
    reveal_type(y)  # float32
    assert_type(y, npt.NDArray[np.float32])
    assert_type(convt.conv_transpose1d([[1.0]], [[[1.0]]]), npt.NDArray[np.float32])
    assert_type(convt.conv_transpose3d(x, w, out=ref_f32), npt.NDArray[np.float32])

    m = convt.ConvTranspose2d(4, 2, 3)
    reveal_type(m(x))  # float32
    assert_type(m(x), npt.NDArray[np.float32])
    assert_type(m.forward(x, output_size=(8, 8)), npt.NDArray[np.float32])
    assert_type(m.weight, npt.NDArray[np.float32])
    assert_type(m.bias, npt.NDArray[np.float32] | None)
    assert_type(m.stride, tuple[int, ...])
    assert_type(m.groups, int)
    assert_type(convt.ConvTranspose1d.from_torch(None), convt.ConvTranspose1d)
    assert_type(m.state_dict()["weight"], Any)

    qx = convt.quantize_per_tensor(x, 0.1, 0)
    reveal_type(qx)  # QTensor
    assert_type(qx, QTensor)
    assert_type(convt.quantize_per_channel(w, [0.1], [0], axis=1), QTensor)
    assert_type(qx.dequantize(), npt.NDArray[np.float32])
    assert_type(qx.int_repr(), npt.NDArray[np.uint8 | np.int8])
    assert_type(qx.q_scale(), float)
    assert_type(qx.q_zero_point(), int)
    assert_type(qx.q_per_channel_scales(), npt.NDArray[np.float64])
    assert_type(qx.shape, tuple[int, ...])

    qy = qF.conv_transpose2d(qx, q, scale=0.1, zero_point=0, out=ref_u8)
    reveal_type(qy)  # QTensor
    assert_type(qy, QTensor)

    qm = convt.quantized.ConvTranspose2d.from_float(
        m, input_scale=0.1, input_zero_point=0, output_scale=0.1, output_zero_point=0)
    assert_type(qm, convt.quantized.ConvTranspose2d)
    reveal_type(qm(qx))  # QTensor
    assert_type(qm(qx), QTensor)
    assert_type(qm.weight(), QTensor)
    assert_type(qm.bias(), npt.NDArray[np.float32] | None)
    assert_type(qm.scale, float)
    assert_type(qm.zero_point, int)
