"""Argument checking and normalisation, shared by every dimension and dtype.

The one place where parameters are turned into tuples, shapes are computed and bad input is
rejected with an error naming the argument, its value and what is allowed.  Everything past
this module trusts its inputs.
"""

from __future__ import annotations

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


def pad_input(xb: npt.NDArray[_S], lead: Sequence[int], trail: Sequence[int],
              mode: str) -> npt.NDArray[_S]:
    """Pad a batched (N, C, *spatial) input's spatial dimensions as PyTorch's ``F.pad`` does
    for the convolution layers' ``padding_mode`` (values copied, so exact for quantized
    integers too).  PyTorch refuses reflection by
    ``>=`` the size and circular padding by more than it; so does this.  A padded copy too
    large to allocate is an error naming the padding."""
    sizes = xb.shape[2:]
    padded = xb.shape[:2] + tuple(i + lo + hi for i, lo, hi in zip(sizes, lead, trail))
    check_alloc(padded, f"input padded by padding_mode={mode!r} (padding {tuple(lead)} before, "
                        f"{tuple(trail)} after)")
    for a, (i, lo, hi) in enumerate(zip(sizes, lead, trail)):
        if (mode == "reflect" and max(lo, hi) >= i) or (mode == "circular" and max(lo, hi) > i):
            bound = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(
                f"padding_mode={mode!r} needs padding {bound} the input size in each "
                f"dimension, got padding ({lo}, {hi}) for size {i} in spatial dimension {a} "
                f"(input shape {xb.shape})")
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
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
