"""Quantized convolution, transposed and forward: uint8 activations x int8 weights -> exact
int32 -> requantized uint8, as ``torch.ao.nn.quantized.ConvTranspose*d`` / ``Conv*d`` compute
it."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt

from .. import _args, _engine
from ..functional import engine_args
from .._typing import Scale, Size, ZeroPoint
from ..qtensor import QTensor, _check_scale, _check_zero_point
from . import _requant

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv1d", "conv2d",
           "conv3d"]

_U8 = np.dtype(np.uint8)
_I8 = np.dtype(np.int8)


def check_qinput(input: object, nd: int,
                 transposed: bool = True) -> tuple[npt.NDArray[np.uint8], bool]:
    """(QTensor, batched uint8 (N, C, *spatial) view, batched) for a quantized activation."""
    if not isinstance(input, QTensor):
        raise TypeError(
            f"input must be a convt.QTensor of uint8 activations (quantize float data with "
            f"convt.quantize_per_tensor), got {type(input).__name__}")
    if input.dtype != _U8:
        raise TypeError(f"input must hold uint8 activations, got {input.dtype}")
    if input.qscheme() != "per_tensor_affine":
        raise ValueError("input must be quantized per tensor, got a per-channel QTensor")
    xb, batched = _args.split_batch(cast("npt.NDArray[np.uint8]", input.int_repr()), nd,
                                    transposed=transposed)
    _args.check_input_spatial(xb)
    return xb, batched


def check_qweight(weight: object, nd: int, groups: int, in_channels: int,
                  transposed: bool = True
                  ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """int8 weight with a scale and zero point per output channel (C_out,): transposed,
    (C_in, C_out/groups, *k) per tensor or per channel along axis 1 (the output channels of a
    group, the same for every group); forward, (C_out, C_in/groups, *k) per tensor or per
    channel along axis 0."""
    if not isinstance(weight, QTensor):
        raise TypeError(f"weight must be a convt.QTensor of int8 values (see "
                        f"convt.quantize_per_tensor), got {type(weight).__name__}")
    if weight.dtype != _I8:
        raise TypeError(f"weight must hold int8 values, got {weight.dtype}")
    axis, layout = (1, "(C_in, C_out/groups, *kernel)") if transposed else \
        (0, "(C_out, C_in/groups, *kernel)")
    if weight.qscheme() == "per_channel_affine" and weight.q_per_channel_axis() != axis:
        raise ValueError(
            f"per-channel weights must be quantized along axis {axis} (output channels, "
            f"layout {layout}), got axis {weight.q_per_channel_axis()}")
    wi = cast("npt.NDArray[np.int8]", weight.int_repr())
    if transposed:
        w = _args.normalise_weight(wi, nd, groups, in_channels)
        if weight.ndim != w.ndim:
            raise ValueError(f"a quantized weight must use the {layout} layout")
        cog = w.shape[1]
        return (w, np.tile(weight.scales_along(cog), groups),
                np.tile(weight.zero_points_along(cog), groups))
    w = _args.normalise_forward_weight(wi, nd, groups, in_channels)
    return w, weight.scales_along(w.shape[0]), weight.zero_points_along(w.shape[0])


def check_requant(requant: object) -> str:
    return _args.check_choice(requant, _requant.MODES, "requant")


def pack_weight(w: npt.NDArray[np.int8], zw: npt.NDArray[np.int64],
                geom: _args.Geometry) -> _engine.PackedWeightQ8:
    """Pack a normalised int8 weight (layout by ``geom.transposed``, as check_qweight gives it)
    with its zero point per output channel."""
    w5, (stride, padding, dilation) = engine_args(w, geom)
    return _engine.PackedWeightQ8(w5, zw.astype(np.int32), stride, padding, dilation,
                                  geom.groups, forward=not geom.transposed)


def run(packed: _engine.PackedWeightQ8, xb: npt.NDArray[np.uint8], batched: bool, sx: float,
        zx: int, sw: npt.NDArray[np.float64], bias: npt.NDArray[np.float32] | None,
        scale: float, zero_point: int, requant: str, out_channels: int,
        out_spatial: tuple[int, ...], out: npt.NDArray[np.uint8] | None,
        num_threads: int | None, keep_apart: tuple[npt.NDArray[Any], ...] = (),
        cache: dict[Any, Any] | None = None) -> QTensor:
    """Allocate (or check) the uint8 output, compute requantization constants and run.
    ``sw``: the weight scale of each output channel (C_out,).
    ``keep_apart``: arrays ``out=`` must not overlap besides the input and bias (the weight).
    ``cache``: a dict kept with fixed weights and bias (a layer's packed parameters), where
    the constants for each (requant, input scale, output scale) are kept between calls."""
    threads = _args.check_num_threads(num_threads) or _engine.max_threads()
    result, shape = _args.allocate_output(xb, batched, out_channels, out_spatial, out,
                                          np.uint8, bias, *keep_apart)
    key = (requant, sx, scale)
    consts = None if cache is None else cache.get(key)
    if consts is None:
        consts = _requant.constants(requant, sx, sw, scale, bias)
        if cache is not None:
            if len(cache) >= 8:
                cache.clear()
            cache[key] = consts
    mode, mult, fbias, rcp, ibias = consts
    x5 = np.ascontiguousarray(xb).reshape(xb.shape[:2] + _args.pad3(xb.shape[2:], 1))
    o5 = result.reshape(shape[:2] + _args.pad3(shape[2:], 1))
    _engine.convolve_q8(packed, x5, zx, (mode, zero_point, mult, fbias, rcp, ibias), o5,
                              threads)
    return QTensor(result, scale, zero_point)


def _conv_transpose(nd: int, input: QTensor, weight: QTensor, bias: npt.ArrayLike | None,
                    stride: Size, padding: Size, output_padding: Size, groups: int,
                    dilation: Size, scale: Scale, zero_point: ZeroPoint, requant: str,
                    out: npt.NDArray[np.uint8] | None, num_threads: int | None) -> QTensor:
    geom = _args.make_geometry(nd, stride, padding, output_padding, dilation, groups)
    xb, batched = check_qinput(input, nd)
    w, sw, zw = check_qweight(weight, nd, geom.groups, xb.shape[1])
    out_channels = w.shape[1] * geom.groups
    b = _args.normalise_bias(bias, out_channels, nd)
    sy = _check_scale(scale, "scale")
    zy = _check_zero_point(zero_point, _U8, "zero_point")
    check_requant(requant)
    out_spatial = geom.output_spatial(xb.shape[2:], w.shape[2:])
    return run(pack_weight(w, zw, geom), xb, batched, input.q_scale(), input.q_zero_point(),
               sw, b, sy, zy, requant, out_channels, out_spatial, out, num_threads,
               keep_apart=(weight.int_repr(),))


def _conv(nd: int, input: QTensor, weight: QTensor, bias: npt.ArrayLike | None, stride: Size,
          padding: Size | str, dilation: Size, groups: int, padding_mode: str, scale: Scale,
          zero_point: ZeroPoint, requant: str, out: npt.NDArray[np.uint8] | None,
          num_threads: int | None) -> QTensor:
    geom = _args.make_conv_geometry(nd, stride, padding, dilation, groups)
    mode = _args.check_padding_mode(padding_mode, transposed=False)
    xb, batched = check_qinput(input, nd, transposed=False)
    w, sw, zw = check_qweight(weight, nd, geom.groups, xb.shape[1], transposed=False)
    b = _args.normalise_bias(bias, w.shape[0], nd)
    sy = _check_scale(scale, "scale")
    zy = _check_zero_point(zero_point, _U8, "zero_point")
    check_requant(requant)
    _args.check_num_threads(num_threads)
    xp = xb
    if mode != "zeros":  # padded with copies of the input's integers, then no padding
        xp = _args.pad_input(xb, *geom.pads(w.shape[2:]), mode)
        geom = geom.unpadded()
    out_spatial = geom.output_spatial(xp.shape[2:], w.shape[2:])
    return run(pack_weight(w, zw, geom), xp, batched, input.q_scale(), input.q_zero_point(),
               sw, b, sy, zy, requant, w.shape[0], out_spatial, out, num_threads,
               keep_apart=(weight.int_repr(), xb))


_CONV_DOC = """{nd}-D quantized convolution, as ``torch.ao.nn.quantized.functional.conv{nd}d``.

    The exact int32 sum of ``(x - x_zero_point) * (w - w_zero_point)`` over the taps (taps in
    the zero padding read ``x_zero_point``, i.e. real 0), requantized once per output to uint8
    with ``scale`` and ``zero_point`` exactly as the transposed operators do.

    Parameters
    ----------
    input : QTensor
        uint8, per tensor, ``(N, C_in, {sp})`` or unbatched ``(C_in, {sp})``.
    weight : QTensor
        int8 ``(C_out, C_in/groups, {ks})``, per tensor or per channel along axis 0.
    bias : array_like, optional
        float32 ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`convt.conv{nd}d` (``padding`` may be ``'valid'`` or ``'same'``).
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}
        As the layers' (PyTorch's functional accepts only ``'zeros'``).
    scale : float
        Output scale.
    zero_point : int
        Output zero point, 0..255.
    requant : {{'fbgemm', 'qnnpack'}}
        Which PyTorch engine's requantization to reproduce bit for bit.
    out : numpy.ndarray, optional
        C-contiguous uint8 array of the output's shape to write into.
    num_threads : int, optional
        OpenMP threads (default: OpenMP's default).  Results do not depend on it.

    Returns
    -------
    QTensor
        uint8 with ``scale`` and ``zero_point``.

    Examples
    --------
    >>> import numpy as np, convt
    >>> x = convt.quantize_per_tensor(np.ones((1, 2, {ex}), np.float32), 0.1, 0)
    >>> w = convt.quantize_per_tensor(np.full((3, 2, {exk}), 0.5, np.float32), 0.01, 0, np.int8)
    >>> y = convt.quantized.functional.conv{nd}d(x, w, padding=1, scale=0.2, zero_point=0)
    >>> y.shape, y.dtype
    ((1, 3, {eo}), dtype('uint8'))
"""


def conv1d(input: QTensor, weight: QTensor, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1,
           padding_mode: str = "zeros", *, scale: Scale, zero_point: ZeroPoint,
           requant: str = "fbgemm", out: npt.NDArray[np.uint8] | None = None,
           num_threads: int | None = None) -> QTensor:
    return _conv(1, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                 scale, zero_point, requant, out, num_threads)


def conv2d(input: QTensor, weight: QTensor, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1,
           padding_mode: str = "zeros", *, scale: Scale, zero_point: ZeroPoint,
           requant: str = "fbgemm", out: npt.NDArray[np.uint8] | None = None,
           num_threads: int | None = None) -> QTensor:
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                 scale, zero_point, requant, out, num_threads)


def conv3d(input: QTensor, weight: QTensor, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1,
           padding_mode: str = "zeros", *, scale: Scale, zero_point: ZeroPoint,
           requant: str = "fbgemm", out: npt.NDArray[np.uint8] | None = None,
           num_threads: int | None = None) -> QTensor:
    return _conv(3, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                 scale, zero_point, requant, out, num_threads)


for _nd, _fn in ((1, conv1d), (2, conv2d), (3, conv3d)):
    _fn.__doc__ = _CONV_DOC.format(
        nd=_nd, sp=_args.spatial_names(_nd), ks=", ".join(["k"] * _nd),
        ex=", ".join(["4"] * _nd), exk=", ".join(["3"] * _nd), eo=", ".join(["4"] * _nd))


_DOC = """{nd}-D quantized transposed convolution, as ``torch.ao.nn.quantized.ConvTranspose{nd}d``.

    Computes the exact int32 sum of ``(x - x_zero_point) * (w - w_zero_point)`` over the taps
    (no int16 saturation anywhere), then requantizes each output once to uint8 with
    ``scale`` and ``zero_point``, rounding half to even like PyTorch's engine ``requant``.

    Parameters
    ----------
    input : QTensor
        uint8, per tensor, ``(N, C_in, {sp})`` or unbatched ``(C_in, {sp})``.
    weight : QTensor
        int8 ``(C_in, C_out/groups, {ks})``, per tensor or per channel along axis 1.
    bias : array_like, optional
        float32 ``(C_out,)``.
    stride, padding, output_padding, groups, dilation
        As in :func:`convt.conv_transpose{nd}d`.
    scale : float
        Output scale.
    zero_point : int
        Output zero point, 0..255.
    requant : {{'fbgemm', 'qnnpack'}}
        ``'fbgemm'`` (default; float bias, float32 multiplier) or ``'qnnpack'`` (bias
        quantized to int32 first): bit-identical to the PyTorch engine of that name.
    out : numpy.ndarray, optional
        C-contiguous uint8 array of the output's shape to write into.
    num_threads : int, optional
        OpenMP threads (default: OpenMP's default).  Results do not depend on it.

    Returns
    -------
    QTensor
        uint8 with ``scale`` and ``zero_point``.

    Examples
    --------
    >>> import numpy as np, convt
    >>> x = convt.quantize_per_tensor(np.ones((1, 2, {ex}), np.float32), 0.1, 0)
    >>> w = convt.quantize_per_tensor(np.full((2, 3, {exk}), 0.5, np.float32), 0.01, 0, np.int8)
    >>> y = convt.quantized.functional.conv_transpose{nd}d(x, w, stride=2, scale=0.2, zero_point=0)
    >>> y.shape, y.dtype
    ((1, 3, {eo}), dtype('uint8'))
"""


def conv_transpose1d(input: QTensor, weight: QTensor, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *, scale: Scale, zero_point: ZeroPoint,
                     requant: str = "fbgemm", out: npt.NDArray[np.uint8] | None = None,
                     num_threads: int | None = None) -> QTensor:
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, scale, zero_point, requant, out, num_threads)


def conv_transpose2d(input: QTensor, weight: QTensor, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *, scale: Scale, zero_point: ZeroPoint,
                     requant: str = "fbgemm", out: npt.NDArray[np.uint8] | None = None,
                     num_threads: int | None = None) -> QTensor:
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, scale, zero_point, requant, out, num_threads)


def conv_transpose3d(input: QTensor, weight: QTensor, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *, scale: Scale, zero_point: ZeroPoint,
                     requant: str = "fbgemm", out: npt.NDArray[np.uint8] | None = None,
                     num_threads: int | None = None) -> QTensor:
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, scale, zero_point, requant, out, num_threads)


for _nd, _tfn in ((1, conv_transpose1d), (2, conv_transpose2d), (3, conv_transpose3d)):
    _tfn.__doc__ = _DOC.format(
        nd=_nd, sp=_args.spatial_names(_nd), ks=", ".join(["k"] * _nd),
        ex=", ".join(["4"] * _nd), exk=", ".join(["2"] * _nd), eo=", ".join(["8"] * _nd))
