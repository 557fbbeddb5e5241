"""Chunked quantized convolution of uint8 dask arrays: ``conv_transpose1d/2d/3d`` and
``conv1d/2d/3d``, each block computed by :mod:`convt.quantized.functional` (uint8 x int8 ->
exact int32 -> requantized uint8) and bitwise equal to one in-memory call.

Chunking, checks and threads as :mod:`convt.dask`.  The input is the uint8 integers of the
activations (what ``QTensor.int_repr()`` holds) with their ``input_scale`` and
``input_zero_point``; the result is the uint8 integers of the output, quantized with
``scale`` and ``zero_point``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import dask.array as da
import numpy as np
import numpy.typing as npt

from .. import _args
from .._typing import Scale, Size, ZeroPoint
from ..qtensor import QTensor, _check_scale, _check_zero_point
from ..quantized import functional as qfunctional
from . import PackCache, frozen, padded_for_layer
from ._graph import check_input, convolve, pad_by_mode

if TYPE_CHECKING:  # convt.quantized.modules imports convt.dask in its methods
    from ..quantized.modules import _QuantizedLayer

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv1d", "conv2d",
           "conv3d"]

_U8 = np.dtype(np.uint8)


@dataclass(frozen=True)
class Quantization:
    """The checked quantization of a call: input and output scale and zero point, and which
    PyTorch engine's requantization to reproduce."""

    input_scale: float
    input_zero_point: int
    scale: float
    zero_point: int
    requant: str


def check_quantization(input_scale: Scale, input_zero_point: ZeroPoint, scale: Scale,
                       zero_point: ZeroPoint, requant: str) -> Quantization:
    return Quantization(_check_scale(input_scale, "input_scale"),
                        _check_zero_point(input_zero_point, _U8, "input_zero_point"),
                        _check_scale(scale, "scale"), _check_zero_point(zero_point, _U8),
                        qfunctional.check_requant(requant))


@dataclass(frozen=True, eq=False)
class QuantizedBlock:
    """One block's in-memory quantized call (:mod:`convt.quantized.functional`), returning
    the output's uint8 integers."""

    nd: int
    weight: QTensor
    bias: npt.NDArray[np.float32] | None
    q: Quantization
    packs: PackCache = field(default_factory=PackCache)
    consts: dict[Any, Any] = field(default_factory=dict)  # requantization constants

    def __call__(self, region: npt.NDArray[Any], geom: _args.Geometry,
                 num_threads: int | None,
                 out_spatial: tuple[int, ...] | None = None) -> npt.NDArray[np.uint8]:
        q = self.q
        if out_spatial is not None:  # the engine, on exactly the block
            w, sw, zw = qfunctional.check_qweight(self.weight, self.nd, geom.groups,
                                                  region.shape[1], geom.transposed)
            packed = self.packs.get(geom, lambda: qfunctional.pack_weight(w, zw, geom))
            cout = w.shape[1] * geom.groups if geom.transposed else w.shape[0]
            y = qfunctional.run(packed, region, True, q.input_scale, q.input_zero_point, sw,
                                self.bias, q.scale, q.zero_point, q.requant, cout,
                                out_spatial, None, num_threads, cache=self.consts)
            return cast("npt.NDArray[np.uint8]", y.int_repr())
        x = QTensor(region, q.input_scale, q.input_zero_point)
        out = dict(scale=q.scale, zero_point=q.zero_point, requant=q.requant,
                   num_threads=num_threads)
        if geom.transposed:
            fn = getattr(qfunctional, f"conv_transpose{self.nd}d")
            y = fn(x, self.weight, self.bias, geom.stride, geom.padding, geom.output_padding,
                   geom.groups, geom.dilation, **out)
        else:
            fn = getattr(qfunctional, f"conv{self.nd}d")
            y = fn(x, self.weight, self.bias, geom.stride, geom.padding, geom.dilation,
                   geom.groups, **out)
        result: npt.NDArray[np.uint8] = y.int_repr()
        return result


def _block_op(nd: int, weight: QTensor, bias: npt.NDArray[np.float32] | None,
              q: Quantization) -> QuantizedBlock:
    """The block op holding copies of the weight and bias as they are now."""
    w = weight
    if weight.qscheme() == "per_tensor_affine":
        copy = QTensor(frozen(w.int_repr()), w.q_scale(), w.q_zero_point())
    else:
        copy = QTensor(frozen(w.int_repr()), w.q_per_channel_scales(),
                       w.q_per_channel_zero_points(), axis=w.q_per_channel_axis())
    return QuantizedBlock(nd, copy, None if bias is None else frozen(bias), q)


def _conv_transpose(nd: int, x: da.Array, weight: QTensor, bias: npt.ArrayLike | None,
                    stride: Size, padding: Size, output_padding: Size, groups: int,
                    dilation: Size, q: Quantization, num_threads: int | None) -> da.Array:
    geom = _args.make_geometry(nd, stride, padding, output_padding, dilation, groups)
    xb, batched = check_input(x, nd, np.uint8, transposed=True)
    w, _, _ = qfunctional.check_qweight(weight, nd, geom.groups, xb.shape[1])
    out_channels = w.shape[1] * geom.groups
    b = _args.normalise_bias(bias, out_channels, nd)
    _args.check_num_threads(num_threads)
    y = convolve(xb, geom, w.shape[2:], out_channels, _block_op(nd, weight, b, q), num_threads,
                 np.uint8, f"quantized-conv_transpose{nd}d")
    return y if batched else y[0]


def _conv(nd: int, x: da.Array, weight: QTensor, bias: npt.ArrayLike | None, stride: Size,
          padding: Size | str, dilation: Size, groups: int, padding_mode: str, q: Quantization,
          num_threads: int | None) -> da.Array:
    geom = _args.make_conv_geometry(nd, stride, padding, dilation, groups)
    mode = _args.check_padding_mode(padding_mode, transposed=False)
    xb, batched = check_input(x, nd, np.uint8, transposed=False)
    w, _, _ = qfunctional.check_qweight(weight, nd, geom.groups, xb.shape[1], transposed=False)
    b = _args.normalise_bias(bias, w.shape[0], nd)
    _args.check_num_threads(num_threads)
    if mode != "zeros":  # padded with copies of the input's integers, then no padding
        xb = pad_by_mode(xb, *geom.pads(w.shape[2:]), mode)
        geom = geom.unpadded()
    y = convolve(xb, geom, w.shape[2:], w.shape[0], _block_op(nd, weight, b, q), num_threads,
                 np.uint8, f"quantized-conv{nd}d")
    return y if batched else y[0]


def conv_transpose1d(x: da.Array, weight: QTensor, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *, input_scale: Scale,
                     input_zero_point: ZeroPoint, scale: Scale, zero_point: ZeroPoint,
                     requant: str = "fbgemm", num_threads: int | None = None) -> da.Array:
    q = check_quantization(input_scale, input_zero_point, scale, zero_point, requant)
    return _conv_transpose(1, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, q, num_threads)


def conv_transpose2d(x: da.Array, weight: QTensor, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *, input_scale: Scale,
                     input_zero_point: ZeroPoint, scale: Scale, zero_point: ZeroPoint,
                     requant: str = "fbgemm", num_threads: int | None = None) -> da.Array:
    q = check_quantization(input_scale, input_zero_point, scale, zero_point, requant)
    return _conv_transpose(2, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, q, num_threads)


def conv_transpose3d(x: da.Array, weight: QTensor, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *, input_scale: Scale,
                     input_zero_point: ZeroPoint, scale: Scale, zero_point: ZeroPoint,
                     requant: str = "fbgemm", num_threads: int | None = None) -> da.Array:
    q = check_quantization(input_scale, input_zero_point, scale, zero_point, requant)
    return _conv_transpose(3, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, q, num_threads)


def conv1d(x: da.Array, weight: QTensor, bias: npt.ArrayLike | None = None, stride: Size = 1,
           padding: Size | str = 0, dilation: Size = 1, groups: int = 1,
           padding_mode: str = "zeros", *, input_scale: Scale, input_zero_point: ZeroPoint,
           scale: Scale, zero_point: ZeroPoint, requant: str = "fbgemm",
           num_threads: int | None = None) -> da.Array:
    q = check_quantization(input_scale, input_zero_point, scale, zero_point, requant)
    return _conv(1, x, weight, bias, stride, padding, dilation, groups, padding_mode, q,
                 num_threads)


def conv2d(x: da.Array, weight: QTensor, bias: npt.ArrayLike | None = None, stride: Size = 1,
           padding: Size | str = 0, dilation: Size = 1, groups: int = 1,
           padding_mode: str = "zeros", *, input_scale: Scale, input_zero_point: ZeroPoint,
           scale: Scale, zero_point: ZeroPoint, requant: str = "fbgemm",
           num_threads: int | None = None) -> da.Array:
    q = check_quantization(input_scale, input_zero_point, scale, zero_point, requant)
    return _conv(2, x, weight, bias, stride, padding, dilation, groups, padding_mode, q,
                 num_threads)


def conv3d(x: da.Array, weight: QTensor, bias: npt.ArrayLike | None = None, stride: Size = 1,
           padding: Size | str = 0, dilation: Size = 1, groups: int = 1,
           padding_mode: str = "zeros", *, input_scale: Scale, input_zero_point: ZeroPoint,
           scale: Scale, zero_point: ZeroPoint, requant: str = "fbgemm",
           num_threads: int | None = None) -> da.Array:
    q = check_quantization(input_scale, input_zero_point, scale, zero_point, requant)
    return _conv(3, x, weight, bias, stride, padding, dilation, groups, padding_mode, q,
                 num_threads)


def apply_layer(layer: _QuantizedLayer, x: da.Array, input_scale: Scale,
                input_zero_point: ZeroPoint, num_threads: int | None) -> da.Array:
    """A quantized layer (``convt.quantized.ConvTranspose{n}d`` / ``Conv{n}d``) applied to the
    uint8 integers of a dask array quantized with ``input_scale``, ``input_zero_point``, by the
    functions above (:meth:`convt.quantized.ConvTranspose2d.apply_dask`)."""
    q = check_quantization(input_scale, input_zero_point, layer.scale, layer.zero_point,
                           layer.requant)
    weight, bias, nd = layer.weight(), layer.bias(), layer._nd
    if layer._transposed:
        assert not isinstance(layer.padding, str)  # no 'same' / 'valid' when transposed
        return _conv_transpose(nd, x, weight, bias, layer.stride, layer.padding,
                               layer.output_padding, layer.groups, layer.dilation, q,
                               num_threads)
    x, padding = padded_for_layer(layer, x, np.uint8)
    return _conv(nd, x, weight, bias, layer.stride, padding, layer.dilation, layer.groups,
                 "zeros", q, num_threads)


_DOC = """{nd}-D quantized {what} of a uint8 dask array, chunk by chunk: each block is
    ``convt.quantized.functional.{name}(QTensor(block, input_scale, input_zero_point), weight,
    bias, ..., scale=scale, zero_point=zero_point, requant=requant).int_repr()``.

    Parameters
    ----------
    x : dask.array.Array
        uint8 ``(N, C_in, {sp})`` or unbatched ``(C_in, {sp})``: the activations' integers,
        chunked along any dimensions (the channels are rechunked into one chunk).
    weight : QTensor
        int8, as :func:`convt.quantized.functional.{name}`.
    bias, stride, padding{op}, dilation, groups{pm}
        As :func:`convt.quantized.functional.{name}`; checked now, when the graph is built.
    input_scale, input_zero_point : float, int
        The input's quantization (zero point 0..255).
    scale, zero_point : float, int
        The output's quantization.
    requant : {{'fbgemm', 'qnnpack'}}
        Which PyTorch engine's requantization to reproduce bit for bit.
    num_threads : int, optional
        OpenMP threads of each block's call; ``None``: see :mod:`convt.dask`.

    Returns
    -------
    dask.array.Array
        uint8 integers of the output, quantized with ``scale`` and ``zero_point``; bitwise
        equal to the in-memory call on the whole input.

    Examples
    --------
    >>> import dask.array as da, numpy as np, convt, convt.dask.quantized
    >>> x = da.full((1, 2) + (8,) * {nd}, 10, dtype=np.uint8, chunks=(1, 2) + (3,) * {nd})
    >>> w = convt.quantize_per_tensor(np.full({wshape}, 0.5, np.float32), 0.01, 0, np.int8)
    >>> y = convt.dask.quantized.{name}(x, w, stride=2, input_scale=0.1, input_zero_point=0,
    ...                                 scale=0.2, zero_point=0)
    >>> y.shape, y.dtype
    ({eshape}, dtype('uint8'))
"""

for _nd in (1, 2, 3):
    _sp = _args.spatial_names(_nd)
    _tail = ", 3" * _nd
    globals()[f"conv_transpose{_nd}d"].__doc__ = _DOC.format(
        nd=_nd, what="transposed convolution", name=f"conv_transpose{_nd}d", sp=_sp,
        op=", output_padding", pm="", wshape=f"(2, 3{_tail})", eshape=f"(1, 3{', 17' * _nd})")
    globals()[f"conv{_nd}d"].__doc__ = _DOC.format(
        nd=_nd, what="convolution", name=f"conv{_nd}d", sp=_sp, op="",
        pm=", padding_mode", wshape=f"(3, 2{_tail})", eshape=f"(1, 3{', 3' * _nd})")
