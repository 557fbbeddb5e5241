"""Quantized layers mirroring ``torch.ao.nn.quantized.ConvTranspose*d`` and ``Conv*d``."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, TypeVar

import numpy as np
import numpy.typing as npt

from .. import _args, _engine, _torch
from .. import modules as float_modules
from .._typing import (DaskArray, OutputSize, RngLike, Scale, Size, TorchModule,
                       TorchTensor, ZeroPoint)
from ..modules import LayerBase, _FloatLayer, init_bound, init_weight, torch_hyper
from ..qtensor import QTensor, _check_scale, _check_zero_point, quantize_per_channel, \
    quantize_per_tensor
from .functional import check_qinput, check_qweight, check_requant, pack_weight, run

__all__ = ["PackedConvParams", "PackedConvTransposeParams", "ConvTranspose1d",
           "ConvTranspose2d", "ConvTranspose3d", "Conv1d", "Conv2d", "Conv3d"]

_WEIGHT_QSCHEMES = ("per_tensor", "per_channel")


class PackedConvParams(_args.GeometryAttrs):
    """int8 weight, float bias and geometry of a forward convolution, packed once into the
    engine's panels (:class:`PackedConvTransposeParams` for the transposed one).

    Parameters
    ----------
    weight : QTensor
        int8 ``(C_out, C_in/groups, *kernel)``, per tensor or per channel along axis 0
        (transposed: ``(C_in, C_out/groups, *kernel)``, per channel along axis 1).
    bias : array_like or None
        float32 ``(C_out,)``.
    stride, padding, output_padding, dilation, groups
        As for the layers (``output_padding`` 0 for a forward convolution).

    ``unpack()`` returns ``(weight, bias)``; pickling stores the unpacked form and packs again
    on load.
    """

    transpose = False
    out_channels: int
    _geom: _args.Geometry
    _weight: QTensor
    _bias: npt.NDArray[np.float32] | None
    _sw: npt.NDArray[np.float64]
    _packed: _engine.PackedWeightQ8

    def __init__(self, weight: QTensor, bias: npt.ArrayLike | None, stride: Size,
                 padding: Size | str, output_padding: Size, dilation: Size, groups: int) -> None:
        if not isinstance(weight, QTensor):
            raise TypeError(f"weight must be a convt.QTensor, got {type(weight).__name__}")
        nd = weight.ndim - 2
        if nd not in (1, 2, 3):
            raise ValueError(f"weight must have 3, 4 or 5 dimensions, got shape {weight.shape}")
        if self.transpose:
            self._geom = _args.make_geometry(nd, stride, padding, output_padding, dilation,
                                             groups)
            cin = weight.shape[0]
        else:
            self._geom = _args.make_conv_geometry(nd, stride, padding, dilation, groups)
            cin = weight.shape[1] * self._geom.groups
        w, self._sw, zw = check_qweight(weight, nd, self._geom.groups, cin, self.transpose)
        self.out_channels = len(self._sw)
        self._weight = weight
        b = _args.normalise_bias(bias, self.out_channels, nd)
        if b is not None:  # a copy: the cached requantization constants depend on it
            b = b.copy()
            b.flags.writeable = False
        self._bias = b
        self._packed = pack_weight(w, zw, self._geom)
        self._consts: dict[Any, Any] = {}  # requantization constants per (requant, sx, sy)

    def unpack(self) -> tuple[QTensor, npt.NDArray[np.float32] | None]:
        """(weight QTensor, bias float32 ndarray or None)."""
        return self._weight, self._bias

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._weight, self._bias, self.stride, self.padding,
                             self.output_padding, self.dilation, self.groups))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(weight={self._weight.shape}, "
                f"bias={'None' if self._bias is None else self._bias.shape}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"output_padding={self.output_padding}, dilation={self.dilation}, "
                f"groups={self.groups})")


class PackedConvTransposeParams(PackedConvParams):
    """int8 weight, float bias and geometry of a transposed convolution, packed once into the
    engine's panels.

    Parameters
    ----------
    weight : QTensor
        int8 ``(C_in, C_out/groups, *kernel)``, per tensor or per channel along axis 1.
    bias : array_like or None
        float32 ``(C_out,)``.
    stride, padding, output_padding, dilation, groups
        As for the layers.

    ``unpack()`` returns ``(weight, bias)``; pickling stores the unpacked form and packs again
    on load.
    """

    transpose = True


def _quantize_weight(w: npt.NDArray[np.float32], qscheme: str, axis: int = 1) -> QTensor:
    """Symmetric int8 quantization of float weights, as PyTorch's default weight observers
    (scale = max|w| / 127.5, zero point 0; per channel along ``axis``: the output channels,
    1 for a transposed weight, 0 for a forward one)."""
    eps, half_range = np.float32(np.finfo(np.float32).eps), np.float32(127.5)
    if qscheme == "per_tensor":  # float32 arithmetic, as the observers' tensors
        scale = max(np.float32(np.abs(w).max()) / half_range, eps)
        return quantize_per_tensor(w, float(scale), 0, np.int8)
    if qscheme == "per_channel":
        amax = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)
        scales = np.maximum((amax / half_range).astype(np.float32), eps)
        return quantize_per_channel(w, scales.astype(np.float64),
                                    np.zeros(w.shape[axis], np.int64), axis, np.int8)
    raise ValueError(f"weight_qscheme must be one of {_WEIGHT_QSCHEMES}, got {qscheme!r}")


_QLayer = TypeVar("_QLayer", bound="_QuantizedLayer")


class _QuantizedLayer(LayerBase):
    """Parameters, output quantization, saving and conversion of the quantized layers, both
    directions; subclasses fix ``_nd`` and ``_transposed``."""

    _torch_family = "quantized"  # torch.ao.nn.quantized (the dynamic layers: "dynamic")
    requant: str
    # recorded by from_float, for quantize_input
    input_scale: float
    input_zero_point: int
    _scale: float
    _zero_point: int
    _packed_params: PackedConvParams

    def _init_params(self, bias: bool, device: Any, dtype: Any, requant: str,
                     rng: RngLike) -> None:
        _args.check_device(device)
        # torch passes its float factory dtype through; the activations are quint8 either way
        _args.check_dtype(dtype, ("float32", "quint8", "uint8"))
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        self.requant = check_requant(requant)
        # Deterministic start (torch leaves it uninitialised): the float layer's initial
        # weights, quantized symmetrically per tensor; bias zero.
        bound = init_bound(self._weight_shape())
        w = init_weight(self._weight_shape(), bound, rng)
        self.scale = 1.0
        self.zero_point = 0
        self.set_weight_bias(_quantize_weight(w, "per_tensor", self._out_axis()),
                             np.zeros(self.out_channels, np.float32) if bias else None)

    # -- output quantization: takes effect on the next call --------------------------------
    @property
    def scale(self) -> float:
        return self._scale

    @scale.setter
    def scale(self, value: Scale) -> None:
        self._scale = _check_scale(value, "scale")

    @property
    def zero_point(self) -> int:
        return self._zero_point

    @zero_point.setter
    def zero_point(self, value: ZeroPoint) -> None:
        self._zero_point = _check_zero_point(value, np.dtype(np.uint8), "zero_point")

    # -- parameters --------------------------------------------------------------------------
    def _out_axis(self) -> int:
        """The weight's output-channel axis (per-channel quantization)."""
        return 1 if self._transposed else 0

    def set_weight_bias(self, w: QTensor | TorchTensor, b: npt.ArrayLike | None) -> None:
        """Set the int8 weight (QTensor ``(C_in, C_out/groups, *kernel)`` for a transposed
        layer, ``(C_out, C_in/groups, *kernel)`` forward; or a quantized torch tensor) and
        float bias (array, torch tensor or None)."""
        if _torch.is_quantized(w):
            w = QTensor.from_torch(w)
        if _torch.is_tensor(b):
            b = _torch.to_numpy(b, "bias")
        if not isinstance(w, QTensor):
            raise TypeError(f"weight must be a convt.QTensor, got {type(w).__name__}")
        if w.shape != self._weight_shape():
            raise ValueError(f"weight must have shape {self._weight_shape()}, got {w.shape}")
        g = self._engine_geom()  # torch packs with padding 0 too for a padding_mode
        cls = PackedConvTransposeParams if self._transposed else PackedConvParams
        self._packed_params = cls(w, b, g.stride, g.padding, g.output_padding, g.dilation,
                                  g.groups)

    def weight(self) -> QTensor:
        return self._packed_params.unpack()[0]

    def bias(self) -> npt.NDArray[np.float32] | None:
        return self._packed_params.unpack()[1]

    def state_dict(self, *, format: str = "numpy") -> OrderedDict[str, Any]:
        """PyTorch's keys and meanings: weight, bias (float32 or None), scale (0-d float32),
        zero_point (0-d int64).

        ``format='numpy'``: the weight is a :class:`convt.QTensor`.  ``'npz'``: plain arrays
        only, for ``np.savez(path, **m.state_dict(format='npz'))`` -- the weight's integers as
        ``weight`` plus ``weight_scale``, ``weight_zero_point`` and ``weight_axis`` (-1 per
        tensor), no ``bias`` key without a bias.  ``'torch'``: torch tensors (a quantized
        weight) for the torch layer's ``load_state_dict``.  :meth:`load_state_dict` takes
        all three.
        """
        _args.check_choice(format, _args.STATE_FORMATS, "format")
        w, b = self._packed_params.unpack()
        sd: OrderedDict[str, Any] = OrderedDict(
            weight=w, bias=b, scale=np.array(self.scale, dtype=np.float32),
            zero_point=np.array(self.zero_point, dtype=np.int64))
        if format == "torch":
            return OrderedDict(
                (k, None if v is None else v.to_torch() if isinstance(v, QTensor)
                 else _torch.tensor_to_torch(np.array(v, copy=True)))
                for k, v in sd.items())
        if format == "npz":
            per_tensor = w.qscheme() == "per_tensor_affine"
            sd["weight"] = w.int_repr()
            sd["weight_scale"] = np.asarray(w.q_scale() if per_tensor
                                            else w.q_per_channel_scales(), np.float64)
            sd["weight_zero_point"] = np.asarray(w.q_zero_point() if per_tensor
                                                 else w.q_per_channel_zero_points(), np.int64)
            sd["weight_axis"] = np.array(-1 if per_tensor else w.q_per_channel_axis(), np.int64)
            if b is None:
                del sd["bias"]
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Set weight, bias, scale and zero_point from a mapping with PyTorch's keys: a
        ``state_dict()`` of this layer in any format (an ``np.load``-ed ``.npz`` too) or of a
        torch quantized layer (tensors are converted).  With ``strict`` no other keys are
        allowed."""
        sd = dict(state_dict)
        flat = {"weight_scale", "weight_zero_point", "weight_axis"}
        if flat <= set(sd):  # format='npz'
            axis = int(np.asarray(sd.pop("weight_axis")))
            scale, zp = sd.pop("weight_scale"), sd.pop("weight_zero_point")
            sd["weight"] = (QTensor(sd["weight"], float(np.asarray(scale)), int(np.asarray(zp)))
                            if axis < 0 else QTensor(sd["weight"], scale, zp, axis=axis))
            sd.setdefault("bias", None)
        keys = set(sd)
        want = {"weight", "bias", "scale", "zero_point"}
        _args.check_state_keys(keys, want, strict, required=want)
        scale, zp = (_torch.to_numpy(v, k) if _torch.is_tensor(v) else v
                     for k, v in (("scale", sd["scale"]), ("zero_point", sd["zero_point"])))
        self.set_weight_bias(sd["weight"], sd["bias"])
        self.scale = float(np.asarray(scale).reshape(()))
        self.zero_point = int(np.asarray(zp).reshape(()))

    # -- forward -----------------------------------------------------------------------------
    def _apply(self, input: QTensor | TorchTensor, output_size: OutputSize | None,
               out: npt.NDArray[np.uint8] | None, num_threads: int | None,
               output_qparams: tuple[float, int] | None = None) -> QTensor:
        """The layer on a QTensor, requantized to ``output_qparams`` (default: ``scale``,
        ``zero_point``)."""
        scale, zero_point = output_qparams or (self.scale, self.zero_point)
        if _torch.is_quantized(input):
            input = QTensor.from_torch(input)
        xb, batched = check_qinput(input, self._nd, self._transposed)
        self._check_channels(xb, input.shape)
        _args.check_num_threads(num_threads)
        xp = self._pad_input(xb)
        out_spatial = self._output_spatial(xp, batched, output_size)
        p = self._packed_params
        return run(p._packed, xp, batched, input.q_scale(), input.q_zero_point(), p._sw,
                   p._bias, scale, zero_point, self.requant, self.out_channels,
                   out_spatial, out, num_threads, keep_apart=(p._weight.int_repr(), xb),
                   cache=p._consts)

    def apply_dask(self, x: DaskArray, *, input_scale: Scale, input_zero_point: ZeroPoint,
                   num_threads: int | None = None) -> DaskArray:
        """Apply the layer to a uint8 dask array of activations quantized with
        ``input_scale`` and ``input_zero_point``, chunk by chunk, lazily (needs
        ``pip install 'convt[dask]'``): :func:`convt.dask.quantized.conv_transpose2d` and the
        like with this layer's weight, bias, hyper-parameters, ``scale``, ``zero_point`` and
        ``requant`` (a ``padding_mode`` other than ``'zeros'`` pads the dask array first).

        Parameters
        ----------
        x : dask.array.Array
            uint8 ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``, any chunks.
        input_scale, input_zero_point : float, int
            The input's quantization.
        num_threads : int, optional
            OpenMP threads of each block; ``None``: the rule of :mod:`convt.dask`.

        Returns
        -------
        dask.array.Array
            The output's uint8 integers (quantized with ``scale``, ``zero_point``), bitwise
            equal to ``self(QTensor(x.compute(), input_scale, input_zero_point)).int_repr()``.

        Examples
        --------
        >>> import dask.array as da, numpy as np, convt
        >>> m = convt.quantized.Conv1d(4, 2, 3, padding=1, rng=0)
        >>> x = da.full((1, 4, 10), 7, dtype=np.uint8, chunks=(1, 4, 4))
        >>> y = m.apply_dask(x, input_scale=0.1, input_zero_point=0)
        >>> y.dtype, y.chunks
        (dtype('uint8'), ((1,), (2,), (4, 4, 2)))
        """
        from ..dask import quantized as dask_quantized  # an optional extra: imported when used
        return dask_quantized.apply_layer(self, x, input_scale, input_zero_point, num_threads)

    def extra_repr(self) -> str:
        return self._repr_fields(self.bias() is not None,
                                 f", scale={self.scale}, zero_point={self.zero_point}",
                                 padding_mode=False)

    def __repr__(self) -> str:
        return f"Quantized{type(self).__name__}({self.extra_repr()})"

    # -- conversion ----------------------------------------------------------------------------
    @classmethod
    def from_float(cls: type[_QLayer], mod: _FloatLayer | TorchModule, *,
                   input_scale: Scale, input_zero_point: ZeroPoint, output_scale: Scale,
                   output_zero_point: ZeroPoint, weight_qscheme: str = "per_tensor",
                   requant: str = "fbgemm") -> _QLayer:
        """Quantize the float layer of the same name (``convt`` or torch): weights symmetric
        int8 (per tensor, or per channel along the output-channel axis), bias kept in float,
        output ``scale``/``zero_point``.

        ``input_scale``/``input_zero_point`` are recorded as ``input_scale``/
        ``input_zero_point`` and used by :meth:`quantize_input`; the forward pass always uses
        the quantization carried by its input QTensor.
        """
        m = cls._quantize_float(mod, weight_qscheme, requant)
        m.scale, m.zero_point = output_scale, output_zero_point
        m.input_scale = _check_scale(input_scale, "input_scale")
        m.input_zero_point = _check_zero_point(input_zero_point, np.dtype(np.uint8),
                                               "input_zero_point")
        return m

    @classmethod
    def _quantize_float(cls: type[_QLayer], mod: _FloatLayer | TorchModule, weight_qscheme: str,
                        requant: str) -> _QLayer:
        """A layer with ``mod``'s hyper-parameters, its weights quantized, its bias."""
        name = cls._class_name()
        float_cls = getattr(float_modules, name)
        if _torch.is_module(mod):
            mod = float_cls.from_torch(mod)
        if not isinstance(mod, float_cls):
            raise TypeError(f"mod must be a convt.{name} or a torch.nn.{name}, got "
                            f"{_torch._describe(mod)}")
        make: Any = cls  # the subclasses' constructors take these (torch's signatures)
        m: _QLayer = make(mod.in_channels, mod.out_channels, mod.kernel_size,
                          bias=mod.bias is not None, requant=requant,
                          **torch_hyper(mod, cls._transposed))
        m.set_weight_bias(_quantize_weight(mod.weight, weight_qscheme, m._out_axis()),
                          mod.bias)
        return m

    def quantize_input(self, x: npt.ArrayLike) -> QTensor:
        """Quantize float input with the ``input_scale``/``input_zero_point`` given to
        :meth:`from_float`."""
        if not hasattr(self, "input_scale"):
            raise ValueError("no input quantization recorded: build the layer with from_float")
        return quantize_per_tensor(x, self.input_scale, self.input_zero_point, np.uint8)

    @classmethod
    def from_torch(cls: type[_QLayer], module: TorchModule, *,
                   requant: str = "fbgemm") -> _QLayer:
        """Convert the ``torch.ao.nn.quantized`` layer of the same name (weights, bias,
        scale, zero point, hyper-parameters): the migration path off torch's quantized
        tensors."""
        _torch.check_module(module, "module", cls._torch_family, cls._nd, cls._transposed)
        w = QTensor.from_torch(module.weight())
        tb = module.bias()
        make: Any = cls  # the subclasses' constructors take these (torch's signatures)
        m: _QLayer = make(module.in_channels, module.out_channels, module.kernel_size,
                          bias=tb is not None, requant=requant,
                          **torch_hyper(module, cls._transposed))
        m.set_weight_bias(w, None if tb is None else _torch.to_numpy(tb, "module.bias()"))
        m.scale, m.zero_point = float(module.scale), int(module.zero_point)
        return m

    def to_torch(self) -> TorchModule:
        """The same layer as the ``torch.ao.nn.quantized`` layer of the same name (needs
        torch; its results equal this layer's under the conditions of ``requant``)."""
        torch = _torch._torch()
        kw = torch_hyper(self, self._transposed)
        if self._transposed:
            del kw["padding_mode"]
        space = (torch.ao.nn.quantized.dynamic if self._torch_family == "dynamic"
                 else torch.ao.nn.quantized)
        tm = getattr(space, self._class_name())(
            self.in_channels, self.out_channels, self.kernel_size,
            bias=self.bias() is not None, **kw)
        tm.load_state_dict(self.state_dict(format="torch"))
        return tm




class _QConvTransposeNd(_QuantizedLayer):
    """Quantized transposed layers; subclasses fix ``_nd``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size,
                 stride: Size = 1, padding: Size = 0, output_padding: Size = 0, groups: int = 1,
                 bias: bool = True, dilation: Size = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None, *, requant: str = "fbgemm",
                 rng: RngLike = None) -> None:
        self._init_hyper(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, dilation, padding_mode)
        self._init_params(bias, device, dtype, requant, rng)

    def __call__(self, input: QTensor | TorchTensor, output_size: OutputSize | None = None, *,
                 out: npt.NDArray[np.uint8] | None = None,
                 num_threads: int | None = None) -> QTensor:
        """Apply the layer to a uint8 QTensor (batched or unbatched); ``output_size`` as for
        the float layers.  Returns a uint8 QTensor with ``scale`` and ``zero_point``."""
        return self._apply(input, output_size, out, num_threads)

    forward = __call__


class _QConvNd(_QuantizedLayer):
    """Quantized forward layers; subclasses fix ``_nd``."""

    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size,
                 stride: Size = 1, padding: Size | str = 0, dilation: Size = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None, *, requant: str = "fbgemm",
                 rng: RngLike = None) -> None:
        self._init_hyper(in_channels, out_channels, kernel_size, stride, padding, 0, groups,
                         dilation, padding_mode)
        self._init_params(bias, device, dtype, requant, rng)

    def __call__(self, input: QTensor | TorchTensor, *,
                 out: npt.NDArray[np.uint8] | None = None,
                 num_threads: int | None = None) -> QTensor:
        """Apply the layer to a uint8 QTensor (batched or unbatched, padded by
        ``padding_mode``).  Returns a uint8 QTensor with ``scale`` and ``zero_point``."""
        return self._apply(input, None, out, num_threads)

    forward = __call__


def _doc(nd: int) -> str:
    return f"""{nd}-D quantized transposed convolution layer, as
    ``torch.ao.nn.quantized.ConvTranspose{nd}d``, with PyTorch's faults fixed: ``output_size``
    and unbatched input work, every argument is validated, every dimension is exact in both
    requantization modes, changing ``scale``/``zero_point`` takes effect on the next call, and
    a new layer holds deterministic weights (the float initialisation, quantized).

    Parameters as :class:`convt.ConvTranspose{nd}d`, plus ``requant`` (``'fbgemm'`` default, or
    ``'qnnpack'``) choosing which PyTorch engine's rounding to reproduce bit for bit.

    Examples
    --------
    >>> import numpy as np, convt
    >>> m = convt.quantized.ConvTranspose{nd}d(4, 2, 3, stride=2, rng=0)
    >>> m.scale, m.zero_point = 0.05, 128
    >>> x = convt.quantize_per_tensor(np.ones((1, 4) + (5,) * {nd}, np.float32), 0.1, 0)
    >>> m(x).shape
    (1, 2{", 11" * nd})
"""


class ConvTranspose1d(_QConvTransposeNd):
    _nd = 1
    __doc__ = _doc(1)


class ConvTranspose2d(_QConvTransposeNd):
    _nd = 2
    __doc__ = _doc(2)


class ConvTranspose3d(_QConvTransposeNd):
    _nd = 3
    __doc__ = _doc(3)


def _conv_doc(nd: int) -> str:
    return f"""{nd}-D quantized convolution layer, as ``torch.ao.nn.quantized.Conv{nd}d``, on
    the engine of the transposed layers: exact int32 accumulation, requantized once per output
    bit-identically to the PyTorch engine named by ``requant``; unbatched input and every
    ``padding_mode`` work.

    Parameters as :class:`convt.Conv{nd}d`, plus ``requant`` (``'fbgemm'`` default, or
    ``'qnnpack'``).

    Examples
    --------
    >>> import numpy as np, convt
    >>> m = convt.quantized.Conv{nd}d(4, 2, 3, stride=2, padding=1, rng=0)
    >>> m.scale, m.zero_point = 0.05, 128
    >>> x = convt.quantize_per_tensor(np.ones((1, 4) + (6,) * {nd}, np.float32), 0.1, 0)
    >>> m(x).shape
    (1, 2{", 3" * nd})
"""


class Conv1d(_QConvNd):
    _nd = 1
    __doc__ = _conv_doc(1)


class Conv2d(_QConvNd):
    _nd = 2
    __doc__ = _conv_doc(2)


class Conv3d(_QConvNd):
    _nd = 3
    __doc__ = _conv_doc(3)
