"""A typed user script: convt's public API used the way a user would.

tests/test_typing.py checks it with ``mypy --strict`` (zero errors expected) and runs it, so
every call here is also a real one.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import numpy.typing as npt

import convt
from convt import QTensor
from convt.quantized import functional as qF

F32 = npt.NDArray[np.float32]


def float_functional() -> float:
    x = np.ones((2, 4, 6, 6), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    b = np.zeros(3, np.float32)
    y1: F32 = convt.conv_transpose1d(x[:, :, 0], w[:, :, 0], b, stride=2)
    y2: F32 = convt.conv_transpose2d(x, w, b, stride=(2, 2), padding=1, output_padding=1,
                                     groups=1, dilation=(1, 1), num_threads=2)
    out = np.empty(y2.shape, np.float32)
    y2b = convt.conv_transpose2d(x, w, stride=2, padding=[1, 1], output_padding=1, out=out)
    assert y2b is out
    # array-likes: nested lists and float64 are converted to float32
    y3: F32 = convt.conv_transpose3d([[[[[1.0]]]]], np.ones((1, 1, 2, 2, 2)))
    return float(y1.sum() + y2.sum() + y2b.sum() + y3.sum())


def float_layers() -> float:
    m1 = convt.ConvTranspose1d(4, 2, 3, stride=2, bias=False, rng=0)
    m2 = convt.ConvTranspose2d(4, 6, (3, 3), stride=(2, 2), padding=1, groups=2,
                               device="cpu", dtype=np.float32, rng=np.random.default_rng(1))
    m3 = convt.ConvTranspose3d(4, 2, 2, padding_mode="zeros")
    x2 = np.zeros((1, 4, 5, 5), np.float32)
    y: F32 = m2(x2, output_size=(10, 10))
    y_full = m2.forward(x2, [1, 6, 9, 9], num_threads=1)
    out = np.empty((1, 6, 9, 9), np.float32)
    assert m2(x2, out=out) is out
    m1(np.zeros((4, 7), np.float32))
    m3(np.zeros((1, 4, 2, 2, 2)))

    weight: F32 = m2.weight
    bias: F32 | None = m2.bias
    m2.weight = np.zeros_like(weight)
    m2.weight = weight.tolist()  # anything array-like
    m2.bias = None if bias is None else bias + 1
    kernel: tuple[int, ...] = m2.kernel_size
    stride: tuple[int, ...] = m2.stride
    groups: int = m2.groups
    channels: int = m2.in_channels + m2.out_channels

    # save without torch, restore from the .npz
    buf = io.BytesIO()
    np.savez(buf, **m2.state_dict())
    buf.seek(0)
    with np.load(buf) as npz:
        m2.load_state_dict(npz)
    sd = m2.state_dict()
    m2.load_state_dict({"weight": sd["weight"], "bias": sd["bias"]}, strict=True)
    m2 = pickle.loads(pickle.dumps(m2))
    text: str = m2.extra_repr() + repr(m2)
    return float(y.sum() + y_full.sum()) + len(kernel + stride) + groups + channels + len(text)


def quantized() -> float:
    x = np.random.default_rng(0).random((1, 4, 5, 5), np.float32)
    w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
    qx: QTensor = convt.quantize_per_tensor(x, 0.01, 3)
    qw = convt.quantize_per_tensor(w, np.float32(0.02), 0, np.int8)
    qwc = convt.quantize_per_channel(w, [0.02, 0.03, 0.04], [0, 0, 0], axis=1, dtype=np.int8)

    # QTensor
    ints: npt.NDArray[np.uint8 | np.int8] = qx.int_repr()
    real: F32 = qx.dequantize()
    s: float = qx.q_scale()
    z: int = qx.q_zero_point()
    scales: npt.NDArray[np.float64] = qwc.q_per_channel_scales()
    zps: npt.NDArray[np.int64] = qwc.q_per_channel_zero_points()
    axis: int = qwc.q_per_channel_axis()
    scheme: str = qwc.qscheme()
    shape: tuple[int, ...] = qx.shape
    ndim: int = qx.ndim
    is_u8: bool = qx.dtype == np.uint8
    own = QTensor(np.array([0, 1, 2], np.uint8), 0.5, 1)
    chan = QTensor(np.zeros((2, 3), np.int8), np.array([0.1, 0.2]), np.array([0, 0]), axis=0)

    # functional
    y: QTensor = qF.conv_transpose2d(qx, qw, np.zeros(3, np.float32), stride=2, padding=1,
                                     scale=0.05, zero_point=128)
    out = np.empty(y.shape, np.uint8)
    y2 = qF.conv_transpose2d(qx, qwc, stride=2, padding=1, scale=0.05, zero_point=128,
                             requant="qnnpack", out=out, num_threads=1)
    assert y2.int_repr() is out
    y1 = convt.quantized.functional.conv_transpose1d(
        convt.quantize_per_tensor(x[0, :, 0], 0.01, 0),
        convt.quantize_per_tensor(w[:, :, 0], 0.02, 0, np.int8), scale=0.1, zero_point=0)
    y3 = qF.conv_transpose3d(convt.quantize_per_tensor(x[..., None], 0.01, 0),
                             convt.quantize_per_tensor(w[..., None], 0.02, 0, np.int8),
                             scale=0.1, zero_point=0)

    # layers
    fm = convt.ConvTranspose2d(4, 3, 3, stride=2, padding=1, rng=0)
    qm = convt.quantized.ConvTranspose2d.from_float(
        fm, input_scale=0.01, input_zero_point=3, output_scale=0.05, output_zero_point=128,
        weight_qscheme="per_channel", requant="fbgemm")
    yq: QTensor = qm(qm.quantize_input(x), output_size=(10, 10))
    yq2 = qm.forward(qx, out=np.empty((1, 3, 9, 9), np.uint8), num_threads=1)
    qm.scale, qm.zero_point = 0.1, 100
    sc: float = qm.scale
    zp: int = qm.zero_point
    wq: QTensor = qm.weight()
    bq: F32 | None = qm.bias()
    qm.set_weight_bias(qwc, bq)
    params = convt.quantized.PackedConvTransposeParams(qw, None, 1, 0, 0, 1, 1)
    pw, pb = params.unpack()
    qm.load_state_dict(qm.state_dict())
    buf = io.BytesIO()
    np.savez(buf, **qm.state_dict(format="npz"))
    buf.seek(0)
    with np.load(buf) as npz:
        qm.load_state_dict(npz)
    q1 = convt.quantized.ConvTranspose1d(4, 2, 3, requant="qnnpack", rng=0)
    q3 = convt.quantized.ConvTranspose3d(4, 2, (1, 2, 3), bias=False)
    yq1 = q1(convt.quantize_per_tensor(x[0, :, 0], 0.01, 0))
    q3 = pickle.loads(pickle.dumps(q3))
    text: str = q3.extra_repr() + repr(q3) + repr(params) + repr(own)

    total = (y.dequantize().sum() + y1.dequantize().sum() + y3.dequantize().sum()
             + yq.dequantize().sum() + yq2.dequantize().sum() + yq1.dequantize().sum())
    return (float(total) + float(ints.sum()) + float(real.sum()) + s + z + float(scales.sum())
            + float(zps.sum()) + axis + len(scheme) + len(shape) + ndim + is_u8 + sc + zp
            + wq.ndim + pw.ndim + (0 if pb is None else float(pb.sum())) + chan.ndim + len(text))


def info() -> str:
    tier, reason = convt.isa()
    threads: int = convt.max_threads()
    omp: bool = convt.openmp_enabled()
    version: str = convt.__version__
    return f"{tier} ({reason}), {threads} threads, openmp {omp}, convt {version}"


def main() -> None:
    float_functional()
    float_layers()
    quantized()
    print(info())


if __name__ == "__main__":
    main()
