"""Dynamic (per-call) activation quantization parameters, bit-compatible with torch 2.13.

``torch.ao.nn.quantized.dynamic.Conv{1,2,3}d`` / ``ConvTranspose{1,2,3}d`` quantize their float32
input on every call with parameters chosen from the input's own range, run the uint8 x int8
convolution with the *same* scale and zero point as the output's quantization parameters, and
dequantize the uint8 result.  This module holds the one step convt has nowhere else, choosing
those parameters:

* :func:`choose_qparams` / :func:`choose_qparams_from_min_max` -- ``quant_utils::
  ChooseQuantizationParams`` (aten/src/ATen/native/quantized/cpu/QuantUtils.h) with
  ``qmin = 0``, ``qmax = 255`` (``0, 127`` with ``reduce_range``), ``preserve_sparsity = false``,
  ``force_scale_power_of_two = false``;
* :func:`effective_reduce_range` -- the QNNPACK engine ignores ``reduce_range``.

The other steps use convt's general functions: the input is quantized with
:func:`convt.quantize_per_tensor` (``torch.quantize_per_tensor(x, scale, zp, torch.quint8)``),
the output requantized to the input's own (scale, zero point) and dequantized with
:meth:`convt.QTensor.dequantize`; ``from_float`` quantizes the weight with
``convt.quantized.modules._quantize_weight`` (per tensor: the scale of torch's default dynamic
qconfig, ``MinMaxObserver(qint8, per_tensor_symmetric)``).

The measured arithmetic, with source references, is written up in the dynamic-quantization spec
that accompanies this module (``dynamic_spec.md``).  Everything here is NumPy only.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "SMALL_SCALE_THRESHOLD",
    "choose_qparams",
    "choose_qparams_from_min_max",
    "effective_reduce_range",
]

_f32 = np.float32

#: ``quant_utils::SMALL_SCALE_THRESHOLD`` (the float ``6.1e-5f``, i.e. about the smallest normal
#: fp16 number): smaller scales are raised to it.
SMALL_SCALE_THRESHOLD: float = float(_f32(6.1e-5))


def _qrange(reduce_range: bool) -> tuple[int, int]:
    # ChooseQuantizationParams: ``if (reduce_range) { qmin = qmin/2; qmax = qmax/2; }``
    return (0, 127) if reduce_range else (0, 255)


def choose_qparams_from_min_max(x_min: float, x_max: float,
                                reduce_range: bool) -> tuple[float, int]:
    """Scale and zero point torch chooses for a float32 range ``[x_min, x_max]``.

    A transcription of ``quant_utils::ChooseQuantizationParams`` for quint8 activations, keeping
    each of its float32 / float64 rounding steps.

    Parameters
    ----------
    x_min, x_max : float
        The smallest and largest element of the input, as float32 values (they are rounded to
        float32 first). Both must be finite and ``x_min <= x_max``.
    reduce_range : bool
        Use the quantized range ``[0, 127]`` instead of ``[0, 255]``.

    Returns
    -------
    scale : float
        The scale as torch's ``double``; the quantize, convolution and dequantize steps all use
        ``numpy.float32(scale)``.
    zero_point : int
        In ``[0, 127]`` (``reduce_range``) or ``[0, 255]``.

    Raises
    ------
    ValueError
        If a bound is NaN or infinite, or ``x_min > x_max``.

    Notes
    -----
    With ``lo = min(x_min, 0)``, ``hi = max(x_max, 0)`` (float32) and ``n = qmax - qmin``:

    1. ``scale = (double(hi) - double(lo)) / n`` in double;
    2. if ``float32(scale) == 0`` or ``1.0f / float32(scale)`` is infinite: ``scale = 0.1``;
    3. if ``scale < 6.1e-5f``: the range is stretched to the threshold -- ``hi = f32(6.1e-5f *
       n)`` if ``lo == 0``, else ``lo = -f32(6.1e-5f * n)`` if ``hi == 0``, else both are
       multiplied (in float32) by ``f32(6.1e-5f / float32(scale))`` -- and ``scale = 6.1e-5f``;
    4. ``zp_min = qmin - lo / scale``, ``zp_max = qmax - hi / scale`` (double); the one whose
       ``|q| - |r / scale|`` is smaller is taken (``zp_max`` on a tie), clamped to
       ``[qmin, qmax]``, else rounded half to even.
    """
    lo32, hi32 = _f32(x_min), _f32(x_max)
    if not (np.isfinite(lo32) and np.isfinite(hi32)):
        raise ValueError(f"the input's min and max must be finite, got min={float(lo32)}, "
                         f"max={float(hi32)}")
    if lo32 > hi32:
        raise ValueError(f"the input's min ({float(lo32)}) is larger than its max "
                         f"({float(hi32)})")
    qmin, qmax = _qrange(reduce_range)
    lo = min(lo32, _f32(0.0))
    hi = max(hi32, _f32(0.0))
    n = qmax - qmin
    scale = (float(hi) - float(lo)) / n  # Python floats are IEEE doubles
    s32 = _f32(scale)
    with np.errstate(divide="ignore", over="ignore"):
        if s32 == 0.0 or np.isinf(_f32(1.0) / s32):
            scale = 0.1
    small = _f32(SMALL_SCALE_THRESHOLD)
    if scale < SMALL_SCALE_THRESHOLD:
        org_scale = _f32(scale)  # ``float org_scale = scale;``
        scale = SMALL_SCALE_THRESHOLD
        if lo == 0.0:
            hi = _f32(small * _f32(n))
        elif hi == 0.0:
            lo = _f32(-small * _f32(n))
        else:
            amplifier = _f32(small / org_scale)
            lo = _f32(lo * amplifier)
            hi = _f32(hi * amplifier)
    lo_d, hi_d = float(lo), float(hi)
    zp_from_min = qmin - lo_d / scale
    zp_from_max = qmax - hi_d / scale
    zp_from_min_error = abs(qmin) - abs(lo_d / scale)
    zp_from_max_error = abs(qmax) - abs(hi_d / scale)
    initial = zp_from_min if zp_from_min_error < zp_from_max_error else zp_from_max
    if initial < qmin:
        zero_point = qmin
    elif initial > qmax:
        zero_point = qmax
    else:
        zero_point = int(np.rint(initial))  # nearbyint: half to even
    return float(scale), zero_point


def choose_qparams(x: npt.ArrayLike, reduce_range: bool) -> tuple[float, int]:
    """Scale and zero point torch's dynamic conv layers choose to quantize input ``x``.

    Parameters
    ----------
    x : array_like
        The float32 input of the layer (other real dtypes are converted to float32 first, as
        torch would need them to be). May be empty: torch then uses the range ``[0, 0]``,
        giving ``(0.1, 0)``.
    reduce_range : bool
        The ``reduce_range`` argument of the layer's ``forward`` (default ``True`` in torch).
        Pass :func:`effective_reduce_range` of it to mimic the QNNPACK engine.

    Returns
    -------
    scale : float
        The scale as torch's ``double``; use ``numpy.float32(scale)`` in arithmetic.
    zero_point : int
        The zero point of the quint8 input and of the quint8 output.

    Raises
    ------
    ValueError
        If ``x`` contains NaN or an infinity. torch 2.13 gives nothing meaningful there: NaN
        raises ``RuntimeError: In ChooseQuantizationParams, min should be less than or equal to
        max`` (FBGEMM's min/max scan skips a NaN that is not the first element, then quantizes
        it to an arbitrary byte), ``+inf`` raises ``quantize_tensor_per_tensor_affine zero_point
        -2147483648 is below lower bound`` and ``-inf`` yields scale = inf and an all-inf or
        all-NaN output (QNNPACK: ``requantization scale must be finite``).

    Notes
    -----
    The min and max are those of all elements (torch's FBGEMM path scans ``input.numel()``
    floats from ``data_ptr``, which for a non-contiguous view is not the view's elements -- a
    torch bug; this function always uses the logical elements, i.e. ``x.contiguous()``).
    """
    a = np.asarray(x)
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    if a.size == 0:
        return choose_qparams_from_min_max(0.0, 0.0, reduce_range)
    x_min, x_max = a.min(), a.max()
    if not (np.isfinite(x_min) and np.isfinite(x_max)):
        bad = "NaN" if np.isnan(x_min) or np.isnan(x_max) else "an infinity"
        raise ValueError(f"the input of a dynamically quantized convolution contains {bad}; "
                         "its quantization parameters would be meaningless")
    return choose_qparams_from_min_max(float(x_min), float(x_max), reduce_range)


def effective_reduce_range(engine: str, reduce_range: bool) -> bool:
    """The ``reduce_range`` torch actually applies on quantized engine ``engine``.

    QNNPACK's ``apply_dynamic`` warns and passes ``reduce_range=false``
    (qconv_dynamic.cpp, lines 81-83 and 108); FBGEMM, x86 and oneDNN honour it.

    Parameters
    ----------
    engine : str
        ``'fbgemm'``, ``'x86'``, ``'onednn'`` or ``'qnnpack'``.
    reduce_range : bool
        The value passed to ``forward``.

    Returns
    -------
    bool
    """
    if engine not in ("fbgemm", "x86", "onednn", "qnnpack"):
        raise ValueError(f"unknown quantized engine {engine!r}")
    return bool(reduce_range) and engine != "qnnpack"

