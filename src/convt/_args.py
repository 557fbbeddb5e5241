"""Argument checking and normalisation, shared by every dimension and dtype.

The one place where parameters are turned into tuples, shapes are computed and bad input is
rejected with an error naming the argument, its value and what is allowed.  Everything past
this module trusts its inputs.
"""

from __future__ import annotations

import itertools
import math
import numbers
import operator
from dataclasses import dataclass, replace
from typing import Any, Sequence, TypeVar, cast

import numpy as np
import numpy.typing as npt

from . import _torch

_S = TypeVar("_S", bound=np.generic)

# Largest number of output elements we agree to allocate (8 bytes each fits in 2**63).
MAX_ELEMENTS = 1 << 60


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


# Every integer hyper-parameter (stride, padding, dilation, kernel size, groups, channels, ...)
# is at most this in magnitude, so no size derived from them can overflow the engine's int64
# arithmetic.
MAX_PARAM = 2**31 - 1


def _bounded(v: int, name: str) -> int:
    if not -MAX_PARAM <= v <= MAX_PARAM:
        raise ValueError(f"{name} must be at most {MAX_PARAM} in magnitude, got {v}")
    return v


def as_int(value: Any, name: str) -> int:
    """An integer argument; bools, floats and strings are TypeErrors, values beyond
    MAX_PARAM a ValueError."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    return _bounded(operator.index(value), name)


def ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """Normalise an int or a length-n sequence of ints to an n-tuple."""
    if _is_int(value):
        return (_bounded(operator.index(value), name),) * n
    if isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        items = list(value)
        if len(items) == 1 and n > 1:  # torch expands a 1-element tuple to every dimension
            items = items * n
        if len(items) != n:
            raise ValueError(
                f"{name} must be an int or a tuple of {n} ints for a {n}-d "
                f"convolution, got {tuple(items)!r} ({len(items)} entries)")
        for v in items:
            if not _is_int(v):
                raise TypeError(f"{name} must contain ints, got {tuple(items)!r}")
        return tuple(_bounded(operator.index(v), name) for v in items)
    raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")


PADDING_STRINGS = ("valid", "same")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@dataclass(frozen=True)
class Geometry:
    """Normalised hyper-parameters of one n-d convolution, transposed (the default) or
    forward (``transposed=False``: ``padding`` may then be ``'valid'`` or ``'same'`` and
    ``output_padding`` is all zeros)."""

    nd: int
    stride: tuple[int, ...]
    padding: tuple[int, ...] | str
    output_padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    transposed: bool = True

    def pads(self, kernel: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(leading, trailing) padding per dimension.  ``'same'`` splits the total padding
        ``dilation*(kernel - 1)`` as PyTorch does: the odd element goes to the trailing side."""
        if self.padding == "valid":
            return (0,) * self.nd, (0,) * self.nd
        if self.padding == "same":
            total = [d * (k - 1) for d, k in zip(self.dilation, kernel)]
            return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
        assert not isinstance(self.padding, str)
        return self.padding, self.padding

    def unpadded(self) -> Geometry:
        """The same geometry with zero padding: the convolution of an input padded already
        (``padding_mode`` other than ``'zeros'``)."""
        return replace(self, padding=(0,) * self.nd)

    def output_spatial_unchecked(self, in_spatial: Sequence[int], kernel: Sequence[int],
                                 output_padding: Sequence[int]) -> tuple[int, ...]:
        """Transposed: O = (I - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding
        + 1.  Forward: O = floor((I + lead + trail - dilation*(kernel - 1) - 1) / stride) + 1
        (``lead``, ``trail``: :meth:`pads`)."""
        if not self.transposed:
            lo, hi = self.pads(kernel)
            return tuple((i + a + b - d * (k - 1) - 1) // s + 1 for i, a, b, d, k, s in
                         zip(in_spatial, lo, hi, self.dilation, kernel, self.stride))
        assert not isinstance(self.padding, str)
        return tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1 for i, s, p, d, k, o in
                     zip(in_spatial, self.stride, self.padding, self.dilation, kernel,
                         output_padding))

    def output_spatial(self, in_spatial: Sequence[int], kernel: Sequence[int],
                       output_padding: Sequence[int] | None = None) -> tuple[int, ...]:
        """The output's spatial shape; an error when any size is not positive."""
        op = self.output_padding if output_padding is None else output_padding
        out = self.output_spatial_unchecked(in_spatial, kernel, op)
        if any(o <= 0 for o in out):
            if not self.transposed:
                lo, hi = self.pads(kernel)
                raise ValueError(
                    f"input of spatial size {tuple(in_spatial)} is smaller than the kernel's "
                    f"extent: kernel {tuple(kernel)}, dilation {self.dilation}, padding "
                    f"{self.padding!r} ({lo} before, {hi} after) would give an output of "
                    f"size {out}; every size must be positive (pad more or enlarge the input)")
            raise ValueError(
                f"the output would have spatial size {out} for input size {tuple(in_spatial)}, "
                f"kernel {tuple(kernel)}, stride {self.stride}, padding {self.padding}, "
                f"dilation {self.dilation}, output_padding {op}; every size must be positive "
                f"(reduce padding or enlarge the input)")
        return out


class GeometryAttrs:
    """PyTorch's read-only hyper-parameter attributes, from a ``_geom`` Geometry (layers and
    packed parameters: the packed weights depend on them)."""

    _geom: Geometry

    @property
    def stride(self) -> tuple[int, ...]:
        return self._geom.stride

    @property
    def padding(self) -> tuple[int, ...] | str:
        return self._geom.padding

    @property
    def output_padding(self) -> tuple[int, ...]:
        return self._geom.output_padding

    @property
    def dilation(self) -> tuple[int, ...]:
        return self._geom.dilation

    @property
    def groups(self) -> int:
        return self._geom.groups


def make_geometry(nd: int, stride: object, padding: object, output_padding: object,
                  dilation: object, groups: object) -> Geometry:
    """Check and normalise the hyper-parameters shared by functional and module APIs."""
    stride_t = ntuple(stride, nd, "stride")
    padding_t = ntuple(padding, nd, "padding")
    output_padding_t = ntuple(output_padding, nd, "output_padding")
    dilation_t = ntuple(dilation, nd, "dilation")
    groups_i = as_int(groups, "groups")
    if any(s <= 0 for s in stride_t):
        raise ValueError(f"stride must be positive, got {stride_t}")
    if any(d <= 0 for d in dilation_t):
        raise ValueError(f"dilation must be positive, got {dilation_t}")
    if any(p < 0 for p in padding_t):
        raise ValueError(f"padding must be non-negative, got {padding_t}")
    check_output_padding(output_padding_t, stride_t, dilation_t)
    if groups_i <= 0:
        raise ValueError(f"groups must be a positive int, got {groups_i}")
    return Geometry(nd, stride_t, padding_t, output_padding_t, dilation_t, groups_i)


def make_conv_geometry(nd: int, stride: object, padding: object, dilation: object,
                       groups: object) -> Geometry:
    """The forward convolution's hyper-parameters: ``padding`` as ints or ``'valid'`` /
    ``'same'`` (the latter with stride 1 only, as in PyTorch)."""
    if isinstance(padding, str):
        pad: tuple[int, ...] | str = check_choice(padding, PADDING_STRINGS, "padding")
        base = make_geometry(nd, stride, 0, 0, dilation, groups)
        if pad == "same" and any(s != 1 for s in base.stride):
            raise ValueError(f"padding='same' is not supported for strided convolutions "
                             f"(stride={base.stride}); use integer padding")
    else:
        base = make_geometry(nd, stride, padding, 0, dilation, groups)
        pad = base.padding
    return replace(base, padding=pad, transposed=False)


def check_output_padding(output_padding: Sequence[int], stride: Sequence[int],
                         dilation: Sequence[int]) -> None:
    for o, s, d in zip(output_padding, stride, dilation):
        if o < 0 or o >= max(s, d):
            raise ValueError(
                f"output_padding must be non-negative and smaller than max(stride, dilation) "
                f"in each dimension, got output_padding={tuple(output_padding)} with "
                f"stride={tuple(stride)}, dilation={tuple(dilation)}")


def check_kernel_size(kernel: object, nd: int) -> tuple[int, ...]:
    kernel_t = ntuple(kernel, nd, "kernel_size")
    if any(k <= 0 for k in kernel_t):
        raise ValueError(f"kernel_size must be positive, got {kernel_t}")
    return kernel_t


def check_channels(in_channels: object, out_channels: object,
                   groups: int) -> tuple[int, int]:
    cin = as_int(in_channels, "in_channels")
    cout = as_int(out_channels, "out_channels")
    if cin <= 0:
        raise ValueError(f"in_channels must be positive, got {cin}")
    if cout <= 0:
        raise ValueError(f"out_channels must be positive, got {cout}")
    if cin % groups:
        raise ValueError(f"in_channels ({cin}) must be divisible by groups ({groups})")
    if cout % groups:
        raise ValueError(f"out_channels ({cout}) must be divisible by groups ({groups})")
    return cin, cout


def check_padding_mode(padding_mode: object, transposed: bool = True) -> str:
    if transposed:
        if not isinstance(padding_mode, str) or padding_mode != "zeros":
            raise ValueError(
                f"padding_mode must be 'zeros' for transposed convolution, got {padding_mode!r}")
        return padding_mode
    return check_choice(padding_mode, PADDING_MODES, "padding_mode")


# numpy.pad's (and dask.array.pad's) name of each non-zero ``padding_mode``
NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def check_mode_padding(shape: tuple[int, ...], lead: Sequence[int], trail: Sequence[int],
                       mode: str) -> tuple[int, ...]:
    """The shape of a batched (N, C, *spatial) input of ``shape`` padded by ``padding_mode``
    ``mode``; an error when PyTorch would refuse the padding (reflection by ``>=`` the size,
    circular by more than it) or the copy would be too large."""
    sizes = shape[2:]
    padded = tuple(shape[:2]) + tuple(i + lo + hi for i, lo, hi in zip(sizes, lead, trail))
    check_alloc(padded, f"input padded by padding_mode={mode!r} (padding {tuple(lead)} before, "
                        f"{tuple(trail)} after)")
    for a, (i, lo, hi) in enumerate(zip(sizes, lead, trail)):
        if (mode == "reflect" and max(lo, hi) >= i) or (mode == "circular" and max(lo, hi) > i):
            bound = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(
                f"padding_mode={mode!r} needs padding {bound} the input size in each "
                f"dimension, got padding ({lo}, {hi}) for size {i} in spatial dimension {a} "
                f"(input shape {tuple(shape)})")
    return padded


def pad_input(xb: npt.NDArray[_S], lead: Sequence[int], trail: Sequence[int],
              mode: str) -> npt.NDArray[_S]:
    """Pad a batched (N, C, *spatial) input's spatial dimensions as PyTorch's ``F.pad`` does
    for the convolution layers' ``padding_mode`` (values copied, so exact for quantized
    integers too).  PyTorch refuses reflection by
    ``>=`` the size and circular padding by more than it; so does this.  A padded copy too
    large to allocate is an error naming the padding."""
    padded = check_mode_padding(xb.shape, lead, trail, mode)
    np_mode = NUMPY_PAD_MODES[mode]
    widths = [(0, 0), (0, 0)] + list(zip(lead, trail))
    try:
        return np.pad(xb, widths, mode=np_mode)  # type: ignore[call-overload,no-any-return]
    except (MemoryError, ValueError) as e:
        nbytes = xb.dtype.itemsize * math.prod(int(s) for s in padded)
        raise MemoryError(f"cannot allocate the input padded by padding_mode={mode!r} "
                          f"(padding {tuple(lead)} before, {tuple(trail)} after): shape "
                          f"{padded}, {nbytes / 2**30:.3g} GiB: {e}") from None


def as_rng(rng: Any) -> np.random.Generator:
    """``numpy.random.default_rng(rng)`` for a seed (None, a non-negative int or a sequence
    of them), a SeedSequence, BitGenerator or Generator; anything else an error naming rng."""
    what = f"rng must be None, a non-negative int seed or a numpy.random.Generator, got {rng!r}"
    if isinstance(rng, (bool, np.bool_, str, bytes, float, np.floating)):
        raise TypeError(what)
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{what} ({e})") from None


def check_device(device: object) -> None:
    """``device=`` as torch's layers take it: only the CPU exists here."""
    if device is None or (str(device) == "cpu" and not isinstance(device, bytes)):
        return
    raise ValueError(f"device must be None or 'cpu' (convt computes on the CPU), got {device!r}")


def check_dtype(dtype: Any, allowed: tuple[str, ...], name: str = "dtype") -> None:
    """``dtype=`` as torch's layers take it: None, or a float32-equivalent (NumPy or torch)."""
    if dtype is None:
        return
    label = str(dtype).replace("torch.", "")
    try:
        label = np.dtype(dtype).name if not _torch.is_dtype(dtype) else label
    except TypeError:
        pass
    if label not in allowed:
        raise ValueError(f"{name} must be None or {' / '.join(allowed)}, got {dtype!r}")


def check_choice(value: object, choices: tuple[str, ...], name: str) -> str:
    """One of the strings ``choices`` (an array or other non-string is an error too)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


STATE_FORMATS = ("numpy", "npz", "torch")


def check_state_keys(keys: set[str], want: set[str], strict: bool,
                     required: set[str]) -> None:
    """``load_state_dict``'s key check: exactly ``want`` with ``strict``, and always at
    least ``required``."""
    if (strict and keys != want) or required - keys:
        raise KeyError(f"state_dict has keys {sorted(keys)}; this layer needs "
                       f"{sorted(want)} (missing {sorted(want - keys)}, unexpected "
                       f"{sorted(keys - want)})")


def check_num_threads(num_threads: object) -> int | None:
    if num_threads is None:
        return None
    n = as_int(num_threads, "num_threads")
    if n <= 0:
        raise ValueError(f"num_threads must be a positive int or None, got {n}")
    return n


# ----------------------------------------------------------------------------- float arrays
def as_float32(value: object, name: str) -> npt.NDArray[np.float32]:
    """An array-like of real floats as float32 (float16/float64 converted, no copy if float32).

    Integer, bool, complex and object data are TypeErrors: silently converting them hides
    mistakes such as passing quantized integers to the float operator.
    """
    arr = as_array(value, name)
    if arr.dtype == np.float32:
        # the kernels load float32 lanes: a view at an odd byte offset is copied (aligned)
        return arr if arr.flags.aligned else arr.copy()
    if arr.dtype.kind != "f":
        raise TypeError(
            f"{name} must hold real floating-point values (float16, float32 or float64), "
            f"got dtype {arr.dtype}")
    return arr.astype(np.float32)


def as_array(value: object, name: str) -> npt.NDArray[Any]:
    """``np.asarray(value)``, with NumPy's errors for things that are no array (ragged
    lists, strings in numbers, too many dimensions) turned into ones naming ``name``."""
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.is_masked(value):
            raise TypeError(f"{name} is a masked array with masked elements, which convolution "
                            f"would silently use: fill them first (e.g. {name}.filled(0))")
        return value.data
    if isinstance(value, np.ndarray):
        return value
    if _torch.is_tensor(value):
        return _torch.to_numpy(value, name)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__} "
                        f"that NumPy cannot convert: {e}") from None
    except MemoryError as e:
        raise MemoryError(f"{name}: {e}") from None
    if arr.dtype.kind in "OUSV":
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__} "
                        f"holding {arr.dtype} data")
    return arr


def op_name(transposed: bool) -> str:
    return "transposed convolution" if transposed else "convolution"


def split_batch(x: npt.NDArray[_S], nd: int, name: str = "input",
                transposed: bool = True) -> tuple[npt.NDArray[_S], bool]:
    """Return a batched (N, C, *spatial) view and whether the input was batched."""
    if x.ndim == nd + 2:
        return x, True
    if x.ndim == nd + 1:
        return x[None], False
    raise ValueError(
        f"{name} must have {nd + 1} (unbatched: C, {spatial_names(nd)}) or {nd + 2} "
        f"(batched: N, C, {spatial_names(nd)}) dimensions for a {nd}-d "
        f"{op_name(transposed)}, got shape {x.shape}")


def spatial_names(nd: int) -> str:
    return ", ".join(("D", "H", "W")[3 - nd:])


def check_input_spatial(x: npt.NDArray[Any], name: str = "input") -> None:
    if any(s == 0 for s in x.shape[2:]):
        raise ValueError(f"{name} has an empty spatial dimension: shape {x.shape}")


def normalise_weight(w: npt.NDArray[_S], nd: int, groups: int,
                     in_channels: int) -> npt.NDArray[_S]:
    """Weight as (C_in, C_out/groups, *kernel); MegEngine's (groups, C_in/g, C_out/g, *k) too."""
    if w.ndim == nd + 3:
        if w.shape[0] != groups:
            raise ValueError(
                f"weight of shape {w.shape} looks like the grouped layout (groups, C_in/groups, "
                f"C_out/groups, *kernel) but its first dimension {w.shape[0]} != groups ({groups})")
        w = w.reshape((w.shape[0] * w.shape[1],) + w.shape[2:])
    if w.ndim != nd + 2:
        raise ValueError(
            f"weight must have shape (C_in, C_out/groups, *kernel) with {nd} kernel dimensions "
            f"({nd + 2} in all) or (groups, C_in/groups, C_out/groups, *kernel), "
            f"got shape {w.shape}")
    if in_channels == 0:
        raise ValueError(f"input has 0 channels: at least one is needed (weight shape {w.shape})")
    if w.shape[0] != in_channels:
        raise ValueError(
            f"weight has {w.shape[0]} input channels (shape {w.shape}) but input has "
            f"{in_channels} channels")
    if any(s == 0 for s in w.shape[1:]):
        raise ValueError(f"weight has an empty dimension: shape {w.shape}")
    if in_channels % groups:
        raise ValueError(f"input channels ({in_channels}) must be divisible by groups ({groups})")
    return w


def normalise_forward_weight(w: npt.NDArray[_S], nd: int, groups: int,
                             in_channels: int) -> npt.NDArray[_S]:
    """A forward convolution's weight: (C_out, C_in/groups, *kernel), PyTorch's layout."""
    if w.ndim != nd + 2:
        raise ValueError(
            f"weight must have shape (C_out, C_in/groups, *kernel) with {nd} kernel dimensions "
            f"({nd + 2} in all), got shape {w.shape}")
    if in_channels == 0:
        raise ValueError(f"input has 0 channels: at least one is needed (weight shape {w.shape})")
    if in_channels % groups:
        raise ValueError(f"input channels ({in_channels}) must be divisible by groups ({groups})")
    if w.shape[1] * groups != in_channels:
        raise ValueError(
            f"weight has {w.shape[1]} input channels per group (shape {w.shape}) but input has "
            f"{in_channels} channels in {groups} group(s): expected C_in/groups = "
            f"{in_channels // groups}")
    if any(s == 0 for s in w.shape):
        raise ValueError(f"weight has an empty dimension: shape {w.shape}")
    if w.shape[0] % groups:
        raise ValueError(f"weight's output channels ({w.shape[0]}) must be divisible by groups "
                         f"({groups})")
    return w


def engine_layout(w: npt.NDArray[_S], groups: int) -> npt.NDArray[_S]:
    """A forward weight (C_out, C_in/groups, *k) in the engine's layout (C_in, C_out/groups,
    *k): the transposed convolution's, whose adjoint the forward convolution is (a copy)."""
    cout, cig = w.shape[:2]
    wg = w.reshape((groups, cout // groups, cig) + w.shape[2:])
    return np.ascontiguousarray(wg.swapaxes(1, 2)).reshape((groups * cig, cout // groups)
                                                            + w.shape[2:])


def normalise_bias(bias: object, out_channels: int, nd: int) -> npt.NDArray[np.float32] | None:
    """Bias as (C_out,) float32; (1, C_out, 1, ...) is accepted as well."""
    if bias is None:
        return None
    b = as_float32(bias, "bias")
    if b.shape == (out_channels,):
        return np.ascontiguousarray(b)
    if b.shape == (1, out_channels) + (1,) * nd:
        return np.ascontiguousarray(b.reshape(out_channels))
    raise ValueError(
        f"bias must have shape ({out_channels},) (or (1, {out_channels}{', 1' * nd})) "
        f"for {out_channels} output channels, got shape {b.shape}")


def check_out(out: object, shape: tuple[int, ...], dtype: type[_S],
              *inputs: npt.NDArray[Any] | None) -> npt.NDArray[_S]:
    """Validate a user-supplied ``out=`` array."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if not out.flags.aligned:
        raise ValueError(f"out must be aligned to its dtype ({out.dtype.itemsize} bytes), got "
                         f"an array at byte offset {out.ctypes.data % out.dtype.itemsize}")
    for a in inputs:
        if a is not None and np.may_share_memory(out, a):
            raise ValueError("out must not overlap the input, weight or bias")
    return out


def allocate_output(xb: npt.NDArray[Any], batched: bool, out_channels: int,
                    out_spatial: Sequence[int], out: object, dtype: type[_S],
                    *inputs: npt.NDArray[Any] | None) -> tuple[npt.NDArray[_S], tuple[int, ...]]:
    """(result array, batched 2+nd shape): a new output, or the checked ``out=`` array."""
    shape = (xb.shape[0], out_channels) + tuple(out_spatial)
    check_alloc(shape)
    final_shape = shape if batched else shape[1:]
    if out is None:
        return empty(final_shape, dtype, "output"), shape
    return check_out(out, final_shape, dtype, xb, *inputs), shape


def empty(shape: tuple[int, ...], dtype: type[_S], name: str) -> npt.NDArray[_S]:
    """``np.empty``, with a MemoryError naming what could not be allocated."""
    try:
        return np.empty(shape, dtype=dtype)
    except (MemoryError, ValueError) as e:
        nbytes = np.dtype(dtype).itemsize * math.prod(int(s) for s in shape)
        raise MemoryError(f"cannot allocate the {name} of shape {tuple(shape)} "
                          f"({nbytes / 2**30:.3g} GiB): {e}") from None


def check_alloc(shape: tuple[int, ...], name: str = "output") -> None:
    n = math.prod(int(s) for s in shape)
    if n > MAX_ELEMENTS:
        raise ValueError(f"the {name} would have shape {tuple(shape)} ({n} elements): too large")


# ----------------------------------------------------------------------------- output_size
def output_padding_for_size(output_size: Any, nd: int, batched: bool,
                            in_spatial: Sequence[int], kernel: Sequence[int], geom: Geometry,
                            out_channels: int | None = None,
                            batch: int | None = None) -> tuple[int, ...]:
    """The output_padding that makes the output spatial size equal ``output_size``.

    ``output_size`` may be the spatial sizes only, or the whole output shape (N, C, *spatial),
    or (C, *spatial) for unbatched input.  As in PyTorch, the reachable sizes for each
    dimension go from the size with output_padding 0 to that plus stride - 1.
    """
    if _is_int(output_size):
        output_size = (output_size,)
    if not isinstance(output_size, (tuple, list)) and not (
            isinstance(output_size, np.ndarray) and output_size.ndim == 1):
        raise TypeError(f"output_size must be a tuple of ints, got {output_size!r}")
    sizes = list(output_size)
    for v in sizes:
        if not _is_int(v):
            raise TypeError(f"output_size must contain ints, got {tuple(sizes)!r}")
    sizes = [operator.index(v) for v in sizes]
    lead = 2 if batched else 1
    if len(sizes) == nd + lead:
        head, sizes = sizes[:lead], sizes[lead:]
        expect = ([batch] if batched else []) + [out_channels]
        for h, e, what in zip(head, expect, (["batch size"] if batched else []) + ["channels"]):
            if e is not None and h != e:
                raise ValueError(
                    f"output_size {tuple(output_size)} has {what} {h}, but the output has {e}")
    if len(sizes) != nd:
        raise ValueError(
            f"output_size must have {nd} (spatial) or {nd + lead} entries, got "
            f"{tuple(output_size)} ({len(output_size)} entries)")
    if any(s <= 0 for s in sizes):
        raise ValueError(f"output_size must be positive, got {tuple(sizes)}")
    zero = geom.output_spatial_unchecked(in_spatial, kernel, (0,) * nd)
    result = []
    for d in range(nd):
        lo, hi = zero[d], zero[d] + geom.stride[d] - 1
        if not lo <= sizes[d] <= hi:
            raise ValueError(
                f"requested an output size of {tuple(sizes)}, but valid sizes range from "
                f"{tuple(zero)} to {tuple(z + s - 1 for z, s in zip(zero, geom.stride))} "
                f"(for an input of {tuple(in_spatial)})")
        result.append(sizes[d] - lo)
    return tuple(result)


def pad3(t: tuple[int, ...], fill: int) -> tuple[int, int, int]:
    """Prefix an n-tuple (n <= 3) with ``fill`` to 3 entries (leading unit dimensions)."""
    return cast("tuple[int, int, int]", (fill,) * (3 - len(t)) + tuple(t))


# ----------------------------------------------------------------------------- output blocks
# A chunked convolution (convt.dask) computes each output block from the input slice that
# feeds it, by the in-memory call with the padding chosen so that the block's outputs meet
# exactly the (tap, input) pairs they meet in one call over the whole input, then a crop.
@dataclass(frozen=True)
class BlockSource:
    """How to compute the output block ``[out_start, out_stop)`` (per spatial dimension) of a
    convolution: convolve the input slice ``[in_start, in_stop)`` with ``geom`` (integer
    padding, and its own ``output_padding`` when transposed); the block starts at ``crop`` in
    that call's output."""

    in_start: tuple[int, ...]
    in_stop: tuple[int, ...]
    geom: Geometry
    crop: tuple[int, ...]
    # The call's output size, when it is exactly the block's (the engine is then run with
    # ``geom``'s padding as the offset of the block's first output, see exact_block_source);
    # None: the in-memory call's own output size.
    out_spatial: tuple[int, ...] | None = None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def output_chunks(geom: Geometry, kernel: Sequence[int],
                  in_chunks: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    """Chunk sizes of the output along each spatial dimension, for input chunk sizes
    ``in_chunks``: each input chunk's times the stride (transposed) or divided by it, rounded
    up (forward), the last grown or trimmed to the output's size (empty chunks dropped)."""
    out_spatial = geom.output_spatial(tuple(sum(c) for c in in_chunks), kernel)
    result = []
    for chunks, s, size in zip(in_chunks, geom.stride, out_spatial):
        starts = list(itertools.accumulate(chunks))[:-1]
        cuts = [b * s if geom.transposed else _ceil_div(b, s) for b in starts]
        bounds = [0] + [min(c, size) for c in cuts] + [size]
        result.append(tuple(hi - lo for lo, hi in zip(bounds, bounds[1:]) if hi > lo))
    return tuple(result)


def block_source(geom: Geometry, kernel: Sequence[int], in_spatial: Sequence[int],
                 out_start: Sequence[int], out_stop: Sequence[int]) -> BlockSource:
    """Where the output block ``[out_start, out_stop)`` of the convolution ``geom`` of an
    input of spatial size ``in_spatial`` comes from (see :class:`BlockSource`).

    The slice holds every input the block's outputs meet (at least one input, so that the
    call has something to convolve); zero padding lies only beyond the input's true borders.
    """
    if geom.transposed:
        return _transposed_block_source(geom, kernel, in_spatial, out_start, out_stop)
    axes = zip(geom.stride, geom.pads(kernel)[0], geom.dilation, kernel, in_spatial,
               out_start, out_stop)
    start, stop, pad, crop = zip(*(_forward_axis_source(*a) for a in axes))
    return BlockSource(start, stop, replace(geom, padding=pad), crop)


def exact_block_source(geom: Geometry, kernel: Sequence[int], in_spatial: Sequence[int],
                       out_start: Sequence[int], out_stop: Sequence[int]) -> BlockSource | None:
    """Where the output block ``[out_start, out_stop)`` comes from when the engine computes
    exactly the block: the input slice of every input the block's outputs meet, and the
    block's first output as the padding (leading offset) of the call, ``geom`` with it
    (``out_spatial`` the block's size, no crop).  Taps outside the slice are then outside the
    whole input too, so each output meets the (tap, input) pairs of one call over the whole
    input.  None where the offset would be negative (a forward block reading only padding)."""
    start, stop, lead = [], [], []
    for a, (o0, o1, size, k) in enumerate(zip(out_start, out_stop, in_spatial, kernel)):
        s, d = geom.stride[a], geom.dilation[a]
        if geom.transposed:  # output o = i*s - p + k*d
            p = cast("tuple[int, ...]", geom.padding)[a]
            first = min(_ceil_div(o0 + p - (k - 1) * d, s), (o0 + p) // s)
            i0 = min(max(first, 0), size - 1)
            i1 = max(min(size, (o1 - 1 + p) // s + 1), i0 + 1)
            off = o0 + p - i0 * s
        else:  # input i = o*s - lead + k*d
            first = o0 * s - geom.pads(kernel)[0][a]
            i0 = max(first, 0)
            i1 = min(size, (o1 - 1) * s + first - o0 * s + (k - 1) * d + 1)
            off = i0 - first
            if i0 >= size or i1 <= i0:
                return None
        start.append(i0)
        stop.append(i1)
        lead.append(off)
    exact = replace(geom, padding=tuple(lead), output_padding=(0,) * geom.nd)
    return BlockSource(tuple(start), tuple(stop), exact, (0,) * geom.nd,
                       tuple(b - a for a, b in zip(out_start, out_stop)))


def _transposed_block_source(geom: Geometry, kernel: Sequence[int], in_spatial: Sequence[int],
                             out_start: Sequence[int], out_stop: Sequence[int]) -> BlockSource:
    """:func:`block_source` of a transposed convolution: the slice's output without padding
    (``unpadded``) holds the block from row ``before`` on; the call's padding and
    output_padding cut it down to the block, or as near as they can."""
    unpadded = replace(geom, padding=(0,) * geom.nd, output_padding=(0,) * geom.nd)
    room = [max(s, d) - 1 for s, d in zip(geom.stride, geom.dilation)]  # output_padding's

    def unpadded_sizes(start: Sequence[int], stop: Sequence[int]) -> tuple[int, ...]:
        return unpadded.output_spatial_unchecked([b - a for a, b in zip(start, stop)], kernel,
                                                 unpadded.output_padding)

    axes = zip(geom.stride, geom.padding, geom.dilation, kernel, in_spatial, out_start,
               out_stop)
    start, stop, before = zip(*(_transposed_axis_source(*a) for a in axes))
    start, stop, before = zip(*(_transposed_align(*a) for a in zip(
        start, stop, before, unpadded_sizes(start, stop), out_start, out_stop, geom.stride,
        room, in_spatial)))
    pad, extra, crop = zip(*(_transposed_crop(*a) for a in zip(
        before, out_start, out_stop, unpadded_sizes(start, stop), room)))
    return BlockSource(start, stop, replace(geom, padding=pad, output_padding=extra), crop)


def _transposed_axis_source(stride: int, padding: int, dilation: int, kernel: int,
                            size: int, o0: int, o1: int) -> tuple[int, int, int]:
    """(first input, input stop, where the block starts in the slice's unpadded output) of
    the transposed output block [o0, o1) along one dimension: input i's tap k lands on output
    i*stride - padding + k*dilation."""
    u0, u1 = o0 + padding, o1 + padding  # the block in the output before its padding is cut
    first_feeding = _ceil_div(u0 - (kernel - 1) * dilation, stride)
    # start at or before u0 // stride too: the slice's output then starts at or before u0
    start = min(max(min(first_feeding, u0 // stride), 0), size - 1)
    stop = min(max((u1 - 1) // stride + 1, start + 1), size)
    return start, stop, u0 - start * stride


def _transposed_align(start: int, stop: int, before: int, full: int, o0: int, o1: int,
                      stride: int, room: int, size: int) -> tuple[int, int, int]:
    """(start, stop, before) of a transposed slice along one dimension, widened by inputs
    that feed no output of the block [o0, o1) so that symmetric padding and an output_padding
    up to ``room`` make the call's output exactly the block: the rows to cut before the block
    (``before``) must be at least those after it (``after``) and at most ``room`` more.  Each
    input added before the slice adds ``stride`` rows before, each after it ``stride`` rows
    after; at the input's borders the slice cannot widen (the block is then cropped from a
    larger output)."""
    after = full - before - (o1 - o0)
    if before < after:
        more = min(_ceil_div(after - before, stride), start)
        start, before = start - more, before + more * stride
    elif before - after > room:
        stop += min(_ceil_div(before - after - room, stride), size - stop)
    return start, stop, before


def _transposed_crop(before: int, o0: int, o1: int, full: int,
                     room: int) -> tuple[int, int, int]:
    """(padding, output_padding, crop) of a slice's transposed call along one dimension whose
    unpadded output has size ``full`` and holds the block [o0, o1) from row ``before`` on.

    The padding cuts as much as it can of what precedes the block (and as much after it,
    where an output_padding up to ``room`` gives back what the block needs): less computed,
    less cropped.
    """
    length = o1 - o0
    pad = min(before, full + room - before - length)
    extra = max(0, before + length + pad - full)
    return pad, extra, before - pad


def _forward_axis_source(stride: int, lead: int, dilation: int, kernel: int, size: int,
                         o0: int, o1: int) -> tuple[int, int, int, int]:
    """(first input, input stop, symmetric padding, crop) of the forward output block
    [o0, o1) along one dimension: output o's tap k reads input o*stride - lead + k*dilation."""
    first = o0 * stride - lead
    end = (o1 - 1) * stride - lead + (kernel - 1) * dilation + 1
    start = min(max(first, 0), size - 1)
    stop = max(min(end, size), start + 1)
    # enough padding for the taps past the slice's end and before its start, and a whole
    # number of strides from the block's first tap, so that an output of the call is it
    pad = max(end - stop, start - first, 0)
    pad += (start - first - pad) % stride
    return start, stop, pad, (first - start + pad) // stride
