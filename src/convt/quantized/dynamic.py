"""Dynamically quantized layers mirroring ``torch.ao.nn.quantized.dynamic``: float32 in and
out, int8 weights, the activation's scale and zero point chosen on every call.

Each call does what PyTorch's dynamic layers do, bit for bit (``requant='fbgemm'``, PyTorch's
fbgemm engine):

1. ``scale, zero_point`` from the input's range, ``[min(x, 0), max(x, 0)]`` over ``0 .. 255``
   (``0 .. 127`` with ``reduce_range``, PyTorch's default), as ``ChooseQuantizationParams``
   (:mod:`convt.quantized._dynamic_qparams`);
2. the input quantized with them (:func:`convt.quantize_per_tensor`);
3. the exact int8 convolution, requantized to uint8 with **the input's own** scale and zero
   point (PyTorch passes them as the output's);
4. dequantized to float32.

Step 3 is why a dynamic layer's output saturates at ``(255 - zero_point) * scale`` (about
twice the input's largest value with ``reduce_range``): PyTorch's behaviour, kept so results
match.  With ``requant='qnnpack'`` the step is QNNPACK's and ``reduce_range`` is ignored, as
that engine ignores it.  Unlike PyTorch, unbatched input, ``output_size``, per-channel weights
of transposed layers and every ``padding_mode`` work.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from .. import _args
from .._typing import DaskArray, OutputSize, Scale, TorchModule, TorchTensor, ZeroPoint
from ..modules import _FloatLayer
from ..qtensor import quantize_per_tensor
from ._dynamic_qparams import choose_qparams, effective_reduce_range
from .modules import (_QConvNd, _QConvTransposeNd, _QuantizedLayer,
                      Conv1d as _QConv1d,
                      Conv2d as _QConv2d, Conv3d as _QConv3d,
                      ConvTranspose1d as _QConvTranspose1d, ConvTranspose2d as _QConvTranspose2d,
                      ConvTranspose3d as _QConvTranspose3d)

__all__ = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Conv1d", "Conv2d",
           "Conv3d"]

_D = TypeVar("_D", bound="_DynamicLayer")


class _DynamicLayer(_QuantizedLayer):
    """The per-call quantization shared by the dynamic layers (mixed into the static ones)."""

    _torch_family = "dynamic"

    def _dynamic(self, input: npt.ArrayLike, reduce_range: bool,
                 output_size: OutputSize | None, out: npt.NDArray[np.float32] | None,
                 num_threads: int | None) -> npt.NDArray[np.float32]:
        if not isinstance(reduce_range, (bool, np.bool_)):
            raise TypeError(f"reduce_range must be True or False, got {reduce_range!r}")
        x = _args.as_float32(input, "input")
        _args.split_batch(x, self._nd, transposed=self._transposed)  # the shape error first
        rr = effective_reduce_range("qnnpack" if self.requant == "qnnpack" else "fbgemm",
                                    bool(reduce_range))
        scale, zero_point = choose_qparams(x, rr)
        qx = quantize_per_tensor(x, scale, zero_point, np.uint8)
        # requantized to the input's own parameters, as PyTorch's dynamic ops do
        qy = self._apply(qx, output_size, None, num_threads,
                         output_qparams=(qx.q_scale(), qx.q_zero_point()))
        y = qy.dequantize()
        if out is None:
            return y
        np.copyto(_args.check_out(out, y.shape, np.float32, x), y)
        return out

    def __repr__(self) -> str:
        return f"DynamicQuantized{type(self).__name__}({self.extra_repr()})"

    def apply_dask(self, x: DaskArray, *, input_scale: Scale, input_zero_point: ZeroPoint,
                   num_threads: int | None = None) -> DaskArray:
        """Not available: a dynamic layer quantizes its input with parameters from the whole
        input's range, which no chunk knows.  Quantize the input (e.g. with a scale and zero
        point from its range) and use the static layer's ``apply_dask``."""
        raise NotImplementedError(
            f"{type(self).__name__}.apply_dask: a dynamically quantized layer picks its "
            f"input's quantization from the whole input; quantize the dask array and use "
            f"convt.quantized.{self._class_name()}.apply_dask")

    @classmethod
    def from_float(cls: type[_D], mod: _FloatLayer | TorchModule, *,  # type: ignore[override]
                   weight_qscheme: str = "per_tensor", requant: str = "fbgemm") -> _D:
        """Quantize a float layer of the same name (``convt`` or torch): int8 weights,
        symmetric (per tensor, as PyTorch's default dynamic qconfig, or per channel along the
        output-channel axis), bias kept in float."""
        return cls._quantize_float(mod, weight_qscheme, requant)


class _DynamicConvTransposeNd(_DynamicLayer, _QConvTransposeNd):
    def __call__(self, input: npt.ArrayLike | TorchTensor,  # type: ignore[override]
                 reduce_range: bool = True, *, output_size: OutputSize | None = None,
                 out: npt.NDArray[np.float32] | None = None,
                 num_threads: int | None = None) -> npt.NDArray[np.float32]:
        """Apply the layer to float input (batched or unbatched): quantize it with parameters
        from its own range, convolve exactly, requantize with the same parameters and
        dequantize.  ``reduce_range`` as PyTorch's (default True); ``output_size`` as the
        float layers'.  Returns float32."""
        return self._dynamic(input, reduce_range, output_size, out, num_threads)

    forward = __call__


class _DynamicConvNd(_DynamicLayer, _QConvNd):
    def __call__(self, input: npt.ArrayLike | TorchTensor,  # type: ignore[override]
                 reduce_range: bool = True, *, out: npt.NDArray[np.float32] | None = None,
                 num_threads: int | None = None) -> npt.NDArray[np.float32]:
        """Apply the layer to float input (batched or unbatched, padded by ``padding_mode``):
        quantize it with parameters from its own range, convolve exactly, requantize with the
        same parameters and dequantize.  Returns float32."""
        return self._dynamic(input, reduce_range, None, out, num_threads)

    forward = __call__


def _doc(name: str) -> str:
    nd = name[-2]
    shape = "(1, 2" + ", 11" * int(nd) + ")" if "Transpose" in name else \
        "(1, 2" + ", 2" * int(nd) + ")"
    return f"""Dynamically quantized ``{name}``, as ``torch.ao.nn.quantized.dynamic.{name}``:
    float32 in and out, int8 weights, the input quantized per call (see
    :mod:`convt.quantized.dynamic`).  Parameters as :class:`convt.quantized.{name}`.

    Examples
    --------
    >>> import numpy as np, convt
    >>> f = convt.{name}(4, 2, 3, stride=2, rng=0)
    >>> m = convt.quantized.dynamic.{name}.from_float(f)
    >>> m(np.ones((1, 4) + (5,) * {nd}, np.float32)).shape
    {shape}
"""


class ConvTranspose1d(_DynamicConvTransposeNd, _QConvTranspose1d):
    __doc__ = _doc("ConvTranspose1d")


class ConvTranspose2d(_DynamicConvTransposeNd, _QConvTranspose2d):
    __doc__ = _doc("ConvTranspose2d")


class ConvTranspose3d(_DynamicConvTransposeNd, _QConvTranspose3d):
    __doc__ = _doc("ConvTranspose3d")


class Conv1d(_DynamicConvNd, _QConv1d):
    __doc__ = _doc("Conv1d")


class Conv2d(_DynamicConvNd, _QConv2d):
    __doc__ = _doc("Conv2d")


class Conv3d(_DynamicConvNd, _QConv3d):
    __doc__ = _doc("Conv3d")
