"""Float32 layers: ``ConvTranspose1d/2d/3d`` and ``Conv1d/2d/3d``."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Mapping, TypeVar

import numpy as np
import numpy.typing as npt

from . import _args, _engine, _torch
from ._typing import DaskArray, OutputSize, RngLike, Size, TorchModule
from .functional import nan_where_zero_padding_meets_nonfinite, pack_weight, run

__all__ = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Conv1d", "Conv2d",
           "Conv3d"]


class LayerBase(_args.GeometryAttrs):
    """Hyper-parameters, input checks and ``repr`` shared by every layer, float and quantized,
    of both directions; subclasses fix ``_nd`` and ``_transposed``."""

    _nd = 0
    _transposed = True
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    padding_mode: str
    _geom: _args.Geometry

    def _init_hyper(self, in_channels: int, out_channels: int, kernel_size: Size, stride: Size,
                    padding: Size | str, output_padding: Size, groups: int, dilation: Size,
                    padding_mode: str) -> None:
        nd = self._nd
        if self._transposed:
            self._geom = _args.make_geometry(nd, stride, padding, output_padding, dilation,
                                             groups)
        else:
            self._geom = _args.make_conv_geometry(nd, stride, padding, dilation, groups)
        self.kernel_size = _args.check_kernel_size(kernel_size, nd)
        self.in_channels, self.out_channels = _args.check_channels(
            in_channels, out_channels, self._geom.groups)
        self.padding_mode = _args.check_padding_mode(padding_mode, self._transposed)

    def _weight_shape(self) -> tuple[int, ...]:
        if self._transposed:
            return (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        return (self.out_channels, self.in_channels // self.groups) + self.kernel_size

    @classmethod
    def _class_name(cls) -> str:
        """PyTorch's (and convt's) class name: ConvTranspose{n}d or Conv{n}d."""
        return f"{'ConvTranspose' if cls._transposed else 'Conv'}{cls._nd}d"

    def _pad_mode(self) -> str:
        """How the input is padded before the engine runs: ``padding_mode``, or '' when the
        engine's zero padding does."""
        return "" if self.padding_mode == "zeros" else self.padding_mode

    def _engine_geom(self) -> _args.Geometry:
        """The geometry the engine runs: without padding when the input is padded first."""
        return self._geom.unpadded() if self._pad_mode() else self._geom

    def _check_channels(self, xb: npt.NDArray[Any], input_shape: tuple[int, ...]) -> None:
        if xb.shape[1] != self.in_channels:
            raise ValueError(f"input has {xb.shape[1]} channels (shape {input_shape}), "
                             f"expected in_channels={self.in_channels}")

    def _pad_input(self, xb: npt.NDArray[_A]) -> npt.NDArray[_A]:
        """The input padded as :meth:`_pad_mode` says (forward layers only)."""
        mode = self._pad_mode()
        if not mode:
            return xb
        lead, trail = self._geom.pads(self.kernel_size)
        return _args.pad_input(xb, lead, trail, mode)

    def _output_spatial(self, xb: npt.NDArray[Any], batched: bool,
                        output_size: Any) -> tuple[int, ...]:
        """Output spatial shape for a batched (already padded, channels checked) input view,
        honouring ``output_size`` (transposed layers)."""
        if not self._transposed:
            return self._engine_geom().output_spatial(xb.shape[2:], self.kernel_size)
        if output_size is None:
            op = self.output_padding
        else:
            op = _args.output_padding_for_size(output_size, self._nd, batched, xb.shape[2:],
                                               self.kernel_size, self._geom, self.out_channels,
                                               xb.shape[0])
        return self._geom.output_spatial(xb.shape[2:], self.kernel_size, op)

    def _repr_fields(self, has_bias: bool, after_stride: str = "",
                     padding_mode: bool = True) -> str:
        """PyTorch's extra_repr; its quantized layers leave ``padding_mode`` out
        (``padding_mode=False``)."""
        nd = self._nd
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}{after_stride}")
        if self.padding != (0,) * nd:  # a tuple other than zeros, or 'same' / 'valid'
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not has_bias:
            s += ", bias=False"
        if padding_mode and self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


def init_bound(weight_shape: tuple[int, ...]) -> float:
    """PyTorch's reset_parameters(): kaiming_uniform(a=sqrt(5)) reduces to
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] * prod(kernel), i.e.
    C_out/groups * prod(kernel) for a transposed layer, C_in/groups * prod(kernel) forward."""
    return 1.0 / math.sqrt(math.prod(weight_shape[1:]))


def init_weight(shape: tuple[int, ...], bound: float, rng: RngLike) -> npt.NDArray[np.float32]:
    """float32 U(-bound, bound) of ``shape``, made in place (no float64 temporary), with a
    MemoryError naming the weight when it cannot be allocated."""
    w = _args.empty(shape, np.float32, "weight")
    _args.as_rng(rng).random(out=w, dtype=np.float32)
    w *= np.float32(2 * bound)
    w -= np.float32(bound)
    return w


_Layer = TypeVar("_Layer", bound="_FloatLayer")
_A = TypeVar("_A", bound=np.generic)


def torch_hyper(module: Any, transposed: bool) -> dict[str, Any]:
    """A layer's hyper-parameters (torch's or convt's: the same attributes) as keyword
    arguments of the other library's layer."""
    kw = dict(stride=module.stride, padding=module.padding, groups=module.groups,
              dilation=module.dilation, padding_mode=module.padding_mode)
    if transposed:
        kw["output_padding"] = module.output_padding
    return kw


class _FloatLayer(LayerBase):
    """Parameters, saving, copying and conversion of the float layers, both directions."""

    _weight: npt.NDArray[np.float32]
    _bias: npt.NDArray[np.float32] | None
    _packed: _engine.PackedWeight | None

    def _init_params(self, bias: bool, device: Any, dtype: Any, rng: RngLike) -> None:
        _args.check_device(device)
        _args.check_dtype(dtype, ("float32",))
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        gen = _args.as_rng(rng)
        bound = init_bound(self._weight_shape())
        self._set_weight(init_weight(self._weight_shape(), bound, gen))
        self.bias = init_weight((self.out_channels,), bound, gen) if bias else None

    # -- parameters ------------------------------------------------------------------------
    @property
    def weight(self) -> npt.NDArray[np.float32]:
        """float32 ``(C_in, C_out/groups, *kernel_size)`` (transposed) or ``(C_out,
        C_in/groups, *kernel_size)`` (forward), read-only.

        Assign a new array to change it (it is copied and re-packed on the next call);
        in-place writes are refused so the packed copy can never go stale.
        """
        return self._weight

    @weight.setter
    def weight(self, value: npt.ArrayLike) -> None:
        w = _args.as_float32(value, "weight")
        expect = self._weight_shape()
        if w.shape != expect:
            raise ValueError(f"weight must have shape {expect}, got {w.shape}")
        self._set_weight(np.array(w, dtype=np.float32, order="C", copy=True))

    def _set_weight(self, w: npt.NDArray[np.float32]) -> None:
        """Take ownership of a C-contiguous float32 weight of the right shape."""
        w.flags.writeable = False
        self._weight = w
        self._finite = bool(np.isfinite(w).all())
        self._packed = None

    @property
    def bias(self) -> npt.NDArray[np.float32] | None:
        """float32 ``(C_out,)`` or None, read-only (assign a new array to change it)."""
        return self._bias

    @bias.setter
    def bias(self, value: npt.ArrayLike | None) -> None:
        if value is None:
            self._bias = None
            return
        b = _args.as_float32(value, "bias")
        if b.shape != (self.out_channels,):
            raise ValueError(f"bias must have shape ({self.out_channels},), got {b.shape}")
        b = np.array(b, dtype=np.float32, copy=True)
        b.flags.writeable = False
        self._bias = b

    # -- saving and copying -----------------------------------------------------------------
    def state_dict(self, *, format: str = "numpy") -> OrderedDict[str, Any]:
        """PyTorch's keys and meanings: ``weight`` and, with a bias, ``bias``.

        ``format='numpy'`` (or ``'npz'``, the same here) gives read-only float32 arrays:
        ``np.savez(path, **m.state_dict())`` saves the layer without torch.  ``'torch'`` gives
        torch tensors, for the torch layer's ``load_state_dict``.
        """
        _args.check_choice(format, _args.STATE_FORMATS, "format")
        sd: OrderedDict[str, Any] = OrderedDict(weight=self._weight)
        if self._bias is not None:
            sd["bias"] = self._bias
        if format == "torch":
            sd = OrderedDict((k, _torch.tensor_to_torch(v.copy())) for k, v in sd.items())
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Set ``weight`` (and ``bias``) from a mapping with PyTorch's keys: this layer's
        ``state_dict()``, a torch layer's (tensors), or an ``np.load``-ed ``.npz``.

        With ``strict`` (the default) the keys must be exactly this layer's: ``weight``, plus
        ``bias`` when the layer has one.
        """
        keys = set(state_dict.keys())
        want = {"weight"} | ({"bias"} if self._bias is not None else set())
        _args.check_state_keys(keys, want, strict, required=set())
        if "weight" in keys:
            self.weight = state_dict["weight"]
        if "bias" in keys:
            if self._bias is None:
                raise KeyError("state_dict has a bias but this layer was built with bias=False")
            self.bias = state_dict["bias"]

    def __getstate__(self) -> dict[str, Any]:
        # the packed weights hold compiled plans: packed again after loading
        state = self.__dict__.copy()
        state["_packed"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for a in (self._weight, self._bias):
            if a is not None:
                a.flags.writeable = False

    def _packed_weight(self) -> _engine.PackedWeight:
        if self._packed is None:
            self._packed = pack_weight(self._weight, self._engine_geom())
        return self._packed

    def apply_dask(self, x: DaskArray, *, num_threads: int | None = None) -> DaskArray:
        """Apply the layer to a float32 dask array, chunk by chunk, lazily (needs
        ``pip install 'convt[dask]'``): :func:`convt.dask.conv_transpose2d` and the like with
        this layer's weight, bias and hyper-parameters (a ``padding_mode`` other than
        ``'zeros'`` pads the dask array the same way first).

        Parameters
        ----------
        x : dask.array.Array
            float32 ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``, any chunks.
        num_threads : int, optional
            OpenMP threads of each block; ``None``: the rule of :mod:`convt.dask`.

        Returns
        -------
        dask.array.Array
            float32, bitwise equal to ``self(x.compute())``.

        Examples
        --------
        >>> import dask.array as da, numpy as np, convt
        >>> m = convt.ConvTranspose1d(4, 2, 3, stride=2, rng=0)
        >>> x = da.ones((1, 4, 10), dtype=np.float32, chunks=(1, 4, 5))
        >>> y = m.apply_dask(x)
        >>> y.chunks
        ((1,), (2,), (10, 11))
        >>> bool((y.compute(scheduler="sync") == m(np.ones((1, 4, 10), np.float32))).all())
        True
        """
        from . import dask as convt_dask  # dask is an optional extra: imported when used
        return convt_dask.apply_layer(self, x, num_threads)

    def extra_repr(self) -> str:
        return self._repr_fields(self._bias is not None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    @classmethod
    def from_torch(cls: type[_Layer], module: TorchModule) -> _Layer:
        """Copy the torch layer of the same name (weights, bias, hyper-parameters).

        Any floating dtype and device, trainable or not, weight-normed (parametrized) too;
        computation is float32.
        """
        _torch.check_module(module, "module", "float", cls._nd, cls._transposed)
        _torch.float_module_dtype(module, "module")
        make: Any = cls  # the subclasses' constructors take these (torch's signatures)
        m: _Layer = make(module.in_channels, module.out_channels, module.kernel_size,
                         bias=module.bias is not None, **torch_hyper(module, cls._transposed))
        m.weight = _torch.to_numpy(module.weight, "module.weight")
        if module.bias is not None:
            m.bias = _torch.to_numpy(module.bias, "module.bias")
        return m

    def to_torch(self) -> TorchModule:
        """The same layer as a torch module of the same name (needs torch)."""
        torch = _torch._torch()
        tm = getattr(torch.nn, self._class_name())(
            self.in_channels, self.out_channels, self.kernel_size, bias=self._bias is not None,
            **torch_hyper(self, self._transposed))
        tm.load_state_dict(self.state_dict(format="torch"))
        return tm


class _ConvTransposeNd(_FloatLayer):
    """Transposed layers; subclasses fix ``_nd``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size,
                 stride: Size = 1, padding: Size = 0, output_padding: Size = 0, groups: int = 1,
                 bias: bool = True, dilation: Size = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None, *,
                 rng: RngLike = None) -> None:
        self._init_hyper(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, dilation, padding_mode)
        self._init_params(bias, device, dtype, rng)

    # -- forward ---------------------------------------------------------------------------
    def __call__(self, input: npt.ArrayLike, output_size: OutputSize | None = None, *,
                 out: npt.NDArray[np.float32] | None = None,
                 num_threads: int | None = None) -> npt.NDArray[np.float32]:
        """Apply the layer.

        Parameters
        ----------
        input : array_like
            ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; float16/float64 are
            converted to float32.
        output_size : tuple of int, optional
            Wanted output size, spatial only or the whole shape; picks ``output_padding`` per
            dimension among the sizes reachable with this stride (as PyTorch's).
        out : numpy.ndarray, optional
            C-contiguous float32 array of the output's shape to write into.
        num_threads : int, optional
            OpenMP threads (default: OpenMP's default).
        """
        xb, batched = _args.split_batch(_args.as_float32(input, "input"), self._nd,
                                        transposed=self._transposed)
        _args.check_input_spatial(xb)
        self._check_channels(xb, np.shape(input))
        out_spatial = self._output_spatial(xb, batched, output_size)
        return run(self._packed_weight(), xb, batched, self._bias, self.out_channels,
                   out_spatial, out, num_threads, keep_apart=(self._weight,))

    forward = __call__


class _ConvNd(_FloatLayer):
    """Forward convolution layers; subclasses fix ``_nd``."""

    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size,
                 stride: Size = 1, padding: Size | str = 0, dilation: Size = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None, *, rng: RngLike = None) -> None:
        self._init_hyper(in_channels, out_channels, kernel_size, stride, padding, 0, groups,
                         dilation, padding_mode)
        self._init_params(bias, device, dtype, rng)

    def __call__(self, input: npt.ArrayLike, *, out: npt.NDArray[np.float32] | None = None,
                 num_threads: int | None = None) -> npt.NDArray[np.float32]:
        """Apply the layer.

        Parameters
        ----------
        input : array_like
            ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; float16/float64 are
            converted to float32.
        out : numpy.ndarray, optional
            C-contiguous float32 array of the output's shape to write into.
        num_threads : int, optional
            OpenMP threads (default: OpenMP's default).
        """
        xb, batched = _args.split_batch(_args.as_float32(input, "input"), self._nd,
                                        transposed=self._transposed)
        _args.check_input_spatial(xb)
        self._check_channels(xb, np.shape(input))
        _args.check_num_threads(num_threads)
        xp = self._pad_input(xb)
        out_spatial = self._output_spatial(xp, batched, None)
        # out= must not overlap the caller's input, padded copy or not
        y = run(self._packed_weight(), xp, batched, self._bias, self.out_channels,
                out_spatial, out, num_threads, keep_apart=(self._weight, xb))
        if not self._finite and not self._pad_mode():
            nan_where_zero_padding_meets_nonfinite(y, batched, self._weight, self._geom,
                                                   xb.shape[2:])
        return y

    forward = __call__


def _module_doc(nd: int, example: str) -> str:
    sp = _args.spatial_names(nd)
    return f"""{nd}-D transposed convolution layer, as ``torch.nn.ConvTranspose{nd}d``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of input and output; both divisible by ``groups``.
    kernel_size, stride, padding, output_padding, dilation : int or tuple of {nd} ints
        As in PyTorch (``output_padding < max(stride, dilation)``).
    groups : int
        Number of channel groups.
    bias : bool
        Whether the layer has a bias.
    padding_mode : str
        Only ``'zeros'`` exists for transposed convolution.
    device, dtype
        Accepted for PyTorch's signature: ``device`` None or ``'cpu'``, ``dtype`` None or
        float32 (NumPy's or torch's).
    rng : numpy.random.Generator or int, optional
        Source of the initial weights: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weight and bias
        with ``fan_in = out_channels/groups * prod(kernel_size)``, as PyTorch.

    Attributes
    ----------
    weight : numpy.ndarray
        float32 ``(in_channels, out_channels/groups, *kernel_size)``.
    bias : numpy.ndarray or None
        float32 ``(out_channels,)``.

    Input is ``(N, C_in, {sp})`` or unbatched ``(C_in, {sp})``.  Weights are packed once and
    reused until ``weight`` is reassigned.

    Examples
    --------
{example}"""


class ConvTranspose1d(_ConvTransposeNd):
    _nd = 1
    __doc__ = _module_doc(1, """    >>> import numpy as np, convt
    >>> m = convt.ConvTranspose1d(16, 33, 3, stride=2, rng=0)
    >>> m(np.zeros((20, 16, 50), np.float32)).shape
    (20, 33, 101)
    >>> m
    ConvTranspose1d(16, 33, kernel_size=(3,), stride=(2,))
""")


class ConvTranspose2d(_ConvTransposeNd):
    _nd = 2
    __doc__ = _module_doc(2, """    >>> import numpy as np, convt
    >>> m = convt.ConvTranspose2d(16, 33, 3, stride=2, padding=1, rng=0)
    >>> x = np.zeros((1, 16, 12, 12), np.float32)
    >>> m(x, output_size=(1, 33, 24, 24)).shape
    (1, 33, 24, 24)
""")


class ConvTranspose3d(_ConvTransposeNd):
    _nd = 3
    __doc__ = _module_doc(3, """    >>> import numpy as np, convt
    >>> m = convt.ConvTranspose3d(16, 33, (3, 5, 2), stride=(2, 1, 1), padding=(0, 4, 2), rng=0)
    >>> m(np.zeros((2, 16, 10, 50, 100), np.float32)).shape
    (2, 33, 21, 46, 97)
""")


def _conv_module_doc(nd: int, example: str) -> str:
    sp = _args.spatial_names(nd)
    return f"""{nd}-D convolution layer, as ``torch.nn.Conv{nd}d``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of input and output; both divisible by ``groups``.
    kernel_size, stride, dilation : int or tuple of {nd} ints
    padding : int, tuple of {nd} ints, ``'valid'`` or ``'same'``
        As :func:`convt.conv{nd}d` (``'same'`` with stride 1 only).
    groups : int
        Number of channel groups.
    bias : bool
        Whether the layer has a bias.
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}
        How the input is padded: zeros, or (as PyTorch) a copy of the input padded by
        reflection, edge replication or wrapping, then convolved without padding.
    device, dtype
        Accepted for PyTorch's signature: ``device`` None or ``'cpu'``, ``dtype`` None or
        float32.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with
        ``fan_in = in_channels/groups * prod(kernel_size)``, as PyTorch.

    Attributes
    ----------
    weight : numpy.ndarray
        float32 ``(out_channels, in_channels/groups, *kernel_size)``.
    bias : numpy.ndarray or None
        float32 ``(out_channels,)``.

    Input is ``(N, C_in, {sp})`` or unbatched ``(C_in, {sp})``.

    Examples
    --------
{example}"""


class Conv1d(_ConvNd):
    _nd = 1
    __doc__ = _conv_module_doc(1, """    >>> import numpy as np, convt
    >>> m = convt.Conv1d(16, 33, 3, stride=2, rng=0)
    >>> m(np.zeros((20, 16, 50), np.float32)).shape
    (20, 33, 24)
""")


class Conv2d(_ConvNd):
    _nd = 2
    __doc__ = _conv_module_doc(2, """    >>> import numpy as np, convt
    >>> m = convt.Conv2d(16, 33, 3, padding="same", padding_mode="reflect", rng=0)
    >>> m(np.zeros((1, 16, 12, 12), np.float32)).shape
    (1, 33, 12, 12)
    >>> m
    Conv2d(16, 33, kernel_size=(3, 3), stride=(1, 1), padding=same, padding_mode=reflect)
""")


class Conv3d(_ConvNd):
    _nd = 3
    __doc__ = _conv_module_doc(3, """    >>> import numpy as np, convt
    >>> m = convt.Conv3d(16, 33, (3, 5, 2), stride=(2, 1, 1), padding=(4, 2, 0), rng=0)
    >>> m(np.zeros((2, 16, 10, 50, 100), np.float32)).shape
    (2, 33, 8, 50, 99)
""")
