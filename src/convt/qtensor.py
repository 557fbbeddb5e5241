"""Quantized tensors: integer arrays with their affine quantization, and quantizers.

``real = (q - zero_point) * scale``, per tensor, or per channel along one axis.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from . import _args, _torch
from ._typing import Scale, TorchTensor, ZeroPoint

__all__ = ["QTensor", "quantize_per_tensor", "quantize_per_channel"]

_RANGES: dict[np.dtype[Any], tuple[int, int]] = {np.dtype(np.uint8): (0, 255),
                                                  np.dtype(np.int8): (-128, 127)}


def _check_dtype(dtype: Any, name: str = "dtype") -> np.dtype[np.uint8 | np.int8]:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be numpy.uint8 or numpy.int8, got {dtype!r}") from None
    if dt not in _RANGES:
        raise TypeError(f"{name} must be numpy.uint8 or numpy.int8, got {dt}")
    return cast("np.dtype[np.uint8 | np.int8]", dt)


_F32_TINY = float(np.finfo(np.float32).tiny)
_F32_MAX = float(np.finfo(np.float32).max)


def _check_scale(scale: object, name: str = "scale") -> float:
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (numbers.Real, np.floating)):
        raise TypeError(f"{name} must be a real number, got {scale!r}")
    try:
        s = float(scale)
    except OverflowError:  # an int beyond float64
        raise ValueError(f"{name} must be a positive normal float32, got {scale!r}") from None
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"{name} must be positive and finite, got {s}")
    # a normal float32: denormal scales lose precision and their reciprocals overflow
    if not _F32_TINY <= s <= _F32_MAX:
        raise ValueError(f"{name} must be a positive normal float32, in "
                         f"[{_F32_TINY:.6g}, {_F32_MAX:.6g}], got {s}")
    return s


def _check_zero_point(zp: object, dt: np.dtype[Any], name: str = "zero_point") -> int:
    if isinstance(zp, (bool, np.bool_)) or not isinstance(zp, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {zp!r}")
    lo, hi = _RANGES[dt]
    if not lo <= int(zp) <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}] for {dt}, got {int(zp)}")
    return int(zp)


def _check_axis(axis: object, ndim: int) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (numbers.Integral, np.integer)):
        raise TypeError(f"axis must be an int, got {axis!r}")
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"axis {int(axis)} is out of range for an array of {ndim} dimensions")
    return int(axis) % ndim


def _check_channel_params(
        scales: npt.ArrayLike, zero_points: npt.ArrayLike, length: int, dt: np.dtype[Any]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    scales = np.asarray(scales)
    if scales.dtype.kind not in "fiu":
        raise TypeError(f"scales must be real numbers, got dtype {scales.dtype}")
    scales = scales.astype(np.float64)
    zps = np.asarray(zero_points)
    if scales.shape != (length,):
        raise ValueError(f"scales must have shape ({length},) (one per channel), got {scales.shape}")
    if zps.shape != (length,):
        raise ValueError(f"zero_points must have shape ({length},) (one per channel), "
                         f"got {zps.shape}")
    if zps.dtype.kind not in "iu":
        raise TypeError(f"zero_points must be integers, got dtype {zps.dtype}")
    if not np.all((scales >= _F32_TINY) & (scales <= _F32_MAX)):
        raise ValueError(f"scales must be positive normal float32 values, in "
                         f"[{_F32_TINY:.6g}, {_F32_MAX:.6g}], got {scales}")
    lo, hi = _RANGES[dt]
    if zps.size and (zps.min() < lo or zps.max() > hi):
        raise ValueError(f"zero_points must be in [{lo}, {hi}] for {dt}, got {zps}")
    return scales, zps.astype(np.int64)


class QTensor:
    """An integer array with its affine quantization, like a PyTorch quantized tensor.

    Parameters
    ----------
    int_repr : array_like
        ``uint8`` (activations) or ``int8`` (weights) values; kept without copying when it
        is already an ndarray of that dtype.
    scale, zero_point : float and int, or 1-D arrays
        Per-tensor scalars, or per-channel arrays (one per entry of ``axis``).
    axis : int, optional
        The channel axis of per-channel quantization; None for per-tensor.

    Examples
    --------
    >>> import numpy as np, convt
    >>> q = convt.QTensor(np.array([0, 128, 255], np.uint8), 0.5, 128)
    >>> q.dequantize()
    array([-64. ,   0. ,  63.5], dtype=float32)
    >>> q
    QTensor(shape=(3,), dtype=uint8, scale=0.5, zero_point=128)
    """

    __slots__ = ("_q", "_scale", "_zero_point", "_axis")

    # per tensor: float, int and None; per channel: (C,) float64, (C,) int64 and the axis
    _q: npt.NDArray[np.uint8 | np.int8]
    _scale: float | npt.NDArray[np.float64]
    _zero_point: int | npt.NDArray[np.int64]
    _axis: int | None

    def __init__(self, int_repr: npt.ArrayLike, scale: Scale | npt.ArrayLike,
                 zero_point: ZeroPoint | npt.ArrayLike, *, axis: int | None = None) -> None:
        q = _args.as_array(int_repr, "int_repr")
        dt = _check_dtype(q.dtype, "int_repr dtype")
        self._q = q
        if axis is None:
            self._scale = _check_scale(scale)
            self._zero_point = _check_zero_point(zero_point, dt)
            self._axis = None
        else:
            self._axis = _check_axis(axis, q.ndim)
            self._scale, self._zero_point = _check_channel_params(
                scale, zero_point, q.shape[self._axis], dt)

    # -- PyTorch-style accessors -----------------------------------------------------------
    def int_repr(self) -> npt.NDArray[np.uint8 | np.int8]:
        """The integer values (not a copy)."""
        return self._q

    def qscheme(self) -> str:
        return "per_tensor_affine" if self._axis is None else "per_channel_affine"

    def q_scale(self) -> float:
        self._need_per_tensor("q_scale")
        return cast(float, self._scale)

    def q_zero_point(self) -> int:
        self._need_per_tensor("q_zero_point")
        return cast(int, self._zero_point)

    def q_per_channel_scales(self) -> npt.NDArray[np.float64]:
        self._need_per_channel("q_per_channel_scales")
        return self._channel_scales().copy()

    def q_per_channel_zero_points(self) -> npt.NDArray[np.int64]:
        self._need_per_channel("q_per_channel_zero_points")
        return self._channel_zero_points().copy()

    def q_per_channel_axis(self) -> int:
        self._need_per_channel("q_per_channel_axis")
        return cast(int, self._axis)

    def _need_per_tensor(self, what: str) -> None:
        if self._axis is not None:
            raise ValueError(f"{what}() needs a per-tensor QTensor; this one is per-channel "
                             f"(use q_per_channel_scales()/q_per_channel_zero_points())")

    def _need_per_channel(self, what: str) -> None:
        if self._axis is None:
            raise ValueError(f"{what}() needs a per-channel QTensor; this one is per-tensor")

    @property
    def shape(self) -> tuple[int, ...]:
        return self._q.shape

    @property
    def dtype(self) -> np.dtype[np.uint8 | np.int8]:
        return self._q.dtype

    @property
    def ndim(self) -> int:
        return self._q.ndim

    def dequantize(self) -> npt.NDArray[np.float32]:
        """``(q - zero_point) * scale`` in float32."""
        if self._axis is None:
            return ((self._q.astype(np.float32) - np.float32(self._zero_point))
                    * np.float32(self._scale)).astype(np.float32)
        shape = [1] * self._q.ndim
        shape[self._axis] = -1
        zp = self._channel_zero_points().astype(np.float32).reshape(shape)
        sc = self._channel_scales().astype(np.float32).reshape(shape)
        return ((self._q.astype(np.float32) - zp) * sc).astype(np.float32)

    # -- per-channel views used by the operator ----------------------------------------------
    def scales_along(self, n: int) -> npt.NDArray[np.float64]:
        """Scales as an (n,) float64 array (per-tensor repeated)."""
        return np.full(n, self._scale) if self._axis is None else self._channel_scales()

    def zero_points_along(self, n: int) -> npt.NDArray[np.int64]:
        return (np.full(n, self._zero_point, np.int64) if self._axis is None
                else self._channel_zero_points())

    def _channel_scales(self) -> npt.NDArray[np.float64]:
        """The per-channel scales (not a copy); only for a per-channel QTensor."""
        return cast("npt.NDArray[np.float64]", self._scale)

    def _channel_zero_points(self) -> npt.NDArray[np.int64]:
        """The per-channel zero points (not a copy); only for a per-channel QTensor."""
        return cast("npt.NDArray[np.int64]", self._zero_point)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._q, self._scale, self._zero_point, self._axis))

    if not TYPE_CHECKING:
        # Hidden from type checkers: with an ``__array__`` a QTensor would count as
        # ``numpy.typing.ArrayLike``, and passing one to the float operators would type-check.
        def __array__(self, dtype=None, copy=None):
            # np.asarray(qtensor) would otherwise build a 0-d object array
            raise TypeError("a QTensor has no plain array form: use .int_repr() for its "
                            "integers or .dequantize() for float32 values")

    # -- PyTorch interop (torch optional) ----------------------------------------------------
    @classmethod
    def from_torch(cls, tensor: TorchTensor) -> QTensor:
        """A QTensor with the values and quantization of a quantized torch tensor (``quint8``
        per tensor, ``qint8`` per tensor or per channel).

        Examples
        --------
        >>> import torch, convt                                    # doctest: +SKIP
        >>> t = torch.quantize_per_tensor(torch.ones(3), 0.1, 0, torch.quint8)  # doctest: +SKIP
        >>> convt.QTensor.from_torch(t).int_repr()                 # doctest: +SKIP
        array([10, 10, 10], dtype=uint8)
        """
        if not _torch.is_quantized(tensor):
            raise TypeError(f"tensor must be a quantized torch tensor (torch.quint8 or "
                            f"torch.qint8), got {_torch._describe(tensor)}"
                            + (f" of dtype {tensor.dtype}" if _torch.is_tensor(tensor) else ""))
        torch = _torch._torch()
        if tensor.dtype not in (torch.quint8, torch.qint8):
            raise TypeError(f"tensor must be torch.quint8 or torch.qint8, got {tensor.dtype}")
        q = tensor.int_repr().cpu().numpy()
        if tensor.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
            return cls(q, tensor.q_per_channel_scales().cpu().numpy(),
                       tensor.q_per_channel_zero_points().cpu().numpy(),
                       axis=tensor.q_per_channel_axis())
        if tensor.qscheme() not in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            raise ValueError(f"tensor has qscheme {tensor.qscheme()}; per-tensor or "
                             f"per-channel affine is expected")
        return cls(q, tensor.q_scale(), tensor.q_zero_point())

    def to_torch(self) -> TorchTensor:
        """The same values and quantization as a quantized torch tensor (``torch.quint8`` for
        uint8, ``torch.qint8`` for int8); needs torch."""
        torch = _torch._torch()
        q = torch.from_numpy(np.ascontiguousarray(self._q))
        if self._axis is None:
            return torch._make_per_tensor_quantized_tensor(q, self._scale, self._zero_point)
        return torch._make_per_channel_quantized_tensor(
            q, torch.from_numpy(self._channel_scales().astype(np.float64)),
            torch.from_numpy(self._channel_zero_points().astype(np.int64)), self._axis)

    def __repr__(self) -> str:
        if self._axis is None:
            q = f"scale={self._scale!r}, zero_point={self._zero_point}"
        else:
            q = (f"axis={self._axis}, scales={self._channel_scales().tolist()!r}, "
                 f"zero_points={self._channel_zero_points().tolist()!r}")
        return f"QTensor(shape={self._q.shape}, dtype={self._q.dtype}, {q})"


def _rebuild(q: npt.NDArray[Any], scale: Any, zero_point: Any, axis: int | None) -> QTensor:
    return QTensor(q, scale, zero_point, axis=axis)


def _as_float32(x: object, name: str = "input") -> npt.NDArray[np.float32]:
    arr = _args.as_array(x, name)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must hold floating-point values, got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def _fma_f32(x: npt.NDArray[np.float32], y: np.float32, z: int) -> npt.NDArray[np.float32]:
    """``fmaf(x, y, z)`` elementwise: ``x*y + z`` rounded once to float32, half to even.

    ``x*y`` is exact in float64; the float64 sum ``s`` may round (a tiny product beside the
    zero point), and its two-sum error ``e`` keeps the exact value ``s + e``.  Rounding ``s``
    to float32 is right unless ``s`` lies exactly halfway between two float32 numbers with
    ``e != 0``; then the exact value is on the side of ``e``."""
    p = x.astype(np.float64) * np.float64(y)
    c = np.float64(z)
    s = p + c
    bv = s - p
    e = (p - (s - bv)) + (c - bv)
    r = s.astype(np.float32)
    r64 = r.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        up = np.nextafter(r, np.float32(np.inf)).astype(np.float64)
        down = np.nextafter(r, np.float32(-np.inf)).astype(np.float64)
        mid_up = (s == (r64 + up) / 2) & (e > 0)      # r rounded down, exact value above
        mid_down = (s == (r64 + down) / 2) & (e < 0)  # r rounded up, exact value below
    out: npt.NDArray[np.float32] = np.where(
        mid_up, up.astype(np.float32), np.where(mid_down, down.astype(np.float32), r))
    return out


def _quantize(x32: npt.NDArray[np.float32], inv_scale: Any, zero_point: Any,
              dt: np.dtype[np.uint8 | np.int8], fused: bool) -> npt.NDArray[np.uint8 | np.int8]:
    """``clamp(round_half_even(x * inv + zero_point))`` in PyTorch's float32 order of operations.

    Measured against torch 2.13, ties included: per tensor (FBGEMM's vector quantizer) the
    multiply-add is fused, one float32 rounding of ``x * inv + zp`` (the product of two float32
    is exact in float64, so this is the float64 sum rounded once); per channel it is
    ``f32(f32(x * inv) + zp)``.  In both the zero point is added before rounding to integer.
    """
    lo, hi = _RANGES[dt]
    if fused:
        t = _fma_f32(x32, np.float32(inv_scale), zero_point)
    else:
        t = ((x32 * inv_scale).astype(np.float32)
             + np.asarray(zero_point, dtype=np.float32)).astype(np.float32)
    v = np.rint(t).astype(np.float64)
    v = np.where(np.isnan(v), zero_point, v)  # NaN quantizes to the zero point (real 0)
    q: npt.NDArray[np.uint8 | np.int8] = np.clip(v, lo, hi).astype(dt)
    return q


def quantize_per_tensor(x: npt.ArrayLike, scale: Scale, zero_point: ZeroPoint,
                        dtype: npt.DTypeLike = np.uint8) -> QTensor:
    """Quantize float data with one scale and zero point, as ``torch.quantize_per_tensor``.

    ``q = clamp(round_half_even(float32(x * float32(1 / scale) + zero_point)), qmin, qmax)``
    with one rounding of the multiply-add: bit-identical to PyTorch's kernel, ties included.

    Examples
    --------
    >>> import numpy as np, convt
    >>> convt.quantize_per_tensor(np.array([-1.0, 0.0, 0.26], np.float32), 0.1, 10).int_repr()
    array([ 0, 10, 13], dtype=uint8)
    """
    dt = _check_dtype(dtype)
    s = _check_scale(scale)
    zp = _check_zero_point(zero_point, dt)
    inv = np.float32(1.0) / np.float32(s)
    return QTensor(_quantize(_as_float32(x, "x"), inv, zp, dt, True), s, zp)


def quantize_per_channel(x: npt.ArrayLike, scales: npt.ArrayLike, zero_points: npt.ArrayLike,
                         axis: int, dtype: npt.DTypeLike = np.int8) -> QTensor:
    """Quantize float data with one scale and zero point per entry of ``axis``, as
    ``torch.quantize_per_channel``: ``q = clamp(round_half_even(float32(float32(x * inv) +
    zero_point)), qmin, qmax)`` with ``inv = float32(1 / scale)``, bit-identical to PyTorch.

    Examples
    --------
    >>> import numpy as np, convt
    >>> w = np.array([[0.5, -0.5], [1.0, 2.0]], np.float32)
    >>> convt.quantize_per_channel(w, [0.1, 0.02], [0, 1], axis=0, dtype=np.int8).int_repr()
    array([[  5,  -5],
           [ 51, 101]], dtype=int8)
    """
    dt = _check_dtype(dtype)
    x32 = _as_float32(x, "x")
    ax = _check_axis(axis, x32.ndim)
    sc, zps = _check_channel_params(scales, zero_points, x32.shape[ax], dt)
    shape = [1] * x32.ndim
    shape[ax] = -1
    inv = (np.float32(1.0) / sc.astype(np.float32)).astype(np.float32).reshape(shape)
    return QTensor(_quantize(x32, inv, zps.reshape(shape), dt, False), sc, zps, axis=ax)
