"""Functional float32 convolution: ``conv_transpose1d/2d/3d`` and ``conv1d/2d/3d``."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _args, _engine
from ._typing import Size

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "conv1d", "conv2d", "conv3d"]


def engine_args(weight: npt.NDArray[Any], geom: _args.Geometry
                ) -> tuple[npt.NDArray[Any], tuple[tuple[int, int, int], ...]]:
    """The 5-D weight in the engine's layout and the 3-D (stride, padding, dilation) for
    ``geom``, float or int8: a forward weight (C_out, C_in/groups, *k) is transposed per group
    and its leading padding is what the engine offsets the taps by."""
    if not geom.transposed:
        padding = geom.pads(weight.shape[2:])[0]
        weight = _args.engine_layout(weight, geom.groups)
    else:
        assert not isinstance(geom.padding, str)
        padding = geom.padding
    w5 = weight.reshape(weight.shape[:2] + _args.pad3(weight.shape[2:], 1))
    return w5, (_args.pad3(geom.stride, 1), _args.pad3(padding, 0), _args.pad3(geom.dilation, 1))


def pack_weight(weight: npt.NDArray[np.float32], geom: _args.Geometry) -> _engine.PackedWeight:
    """Pack a normalised float32 weight for ``geom``: (C_in, C_out/groups, *kernel) for a
    transposed convolution, (C_out, C_in/groups, *kernel) for a forward one."""
    w5, (stride, padding, dilation) = engine_args(weight, geom)
    return _engine.PackedWeight(w5, stride, padding, dilation, geom.groups,
                                forward=not geom.transposed)


def run(packed: _engine.PackedWeight, xb: npt.NDArray[np.float32], batched: bool,
        bias: npt.NDArray[np.float32] | None, out_channels: int, out_spatial: tuple[int, ...],
        out: npt.NDArray[np.float32] | None, num_threads: int | None,
        keep_apart: tuple[npt.NDArray[Any], ...] = ()) -> npt.NDArray[np.float32]:
    """Allocate (or check) the output and run the engine on a batched float32 input view."""
    threads = _args.check_num_threads(num_threads) or _engine.max_threads()
    result, shape = _args.allocate_output(xb, batched, out_channels, out_spatial, out,
                                          np.float32, bias, *keep_apart)
    x5 = np.ascontiguousarray(xb).reshape(xb.shape[:2] + _args.pad3(xb.shape[2:], 1))
    o5 = result.reshape(shape[:2] + _args.pad3(shape[2:], 1))
    _engine.convolve_f32(packed, x5, bias, o5, threads)
    return result


def _conv_transpose(nd: int, input: npt.ArrayLike, weight: npt.ArrayLike,
                    bias: npt.ArrayLike | None, stride: Size, padding: Size,
                    output_padding: Size, groups: int, dilation: Size,
                    out: npt.NDArray[np.float32] | None,
                    num_threads: int | None) -> npt.NDArray[np.float32]:
    geom = _args.make_geometry(nd, stride, padding, output_padding, dilation, groups)
    xb, batched = _args.split_batch(_args.as_float32(input, "input"), nd)
    _args.check_input_spatial(xb)
    w = _args.normalise_weight(_args.as_float32(weight, "weight"), nd, geom.groups, xb.shape[1])
    out_channels = w.shape[1] * geom.groups
    b = _args.normalise_bias(bias, out_channels, nd)
    out_spatial = geom.output_spatial(xb.shape[2:], w.shape[2:])
    return run(pack_weight(w, geom), xb, batched, b, out_channels, out_spatial, out,
               num_threads, keep_apart=(w,))


def _conv(nd: int, input: npt.ArrayLike, weight: npt.ArrayLike, bias: npt.ArrayLike | None,
          stride: Size, padding: Size | str, dilation: Size, groups: int,
          out: npt.NDArray[np.float32] | None,
          num_threads: int | None) -> npt.NDArray[np.float32]:
    geom = _args.make_conv_geometry(nd, stride, padding, dilation, groups)
    xb, batched = _args.split_batch(_args.as_float32(input, "input"), nd,
                                    transposed=False)
    _args.check_input_spatial(xb)
    w = _args.normalise_forward_weight(_args.as_float32(weight, "weight"), nd, geom.groups,
                                       xb.shape[1])
    b = _args.normalise_bias(bias, w.shape[0], nd)
    out_spatial = geom.output_spatial(xb.shape[2:], w.shape[2:])
    y = run(pack_weight(w, geom), xb, batched, b, w.shape[0], out_spatial, out, num_threads,
            keep_apart=(w,))
    if not np.isfinite(w).all():
        nan_where_zero_padding_meets_nonfinite(y, batched, w, geom, xb.shape[2:])
    return y


def nan_where_zero_padding_meets_nonfinite(y: npt.NDArray[np.float32], batched: bool,
                                           w: npt.NDArray[np.float32], geom: _args.Geometry,
                                           in_spatial: tuple[int, ...]) -> None:
    """NaN in the outputs of a forward convolution where a non-finite weight meets the zero
    padding: 0 * inf (or NaN) is NaN by the definition and in PyTorch, and the engine (which
    skips taps outside the input) never computes it.  Output o of channel co is NaN when a
    tap k whose weights w[co, :, k] are not all finite reads outside the input in some
    dimension: per dimension i = o*stride - lead + k*dilation."""
    lead = geom.pads(w.shape[2:])[0]
    yb = y if batched else y[None]
    bad = np.asarray(~np.isfinite(w).all(axis=1))  # (C_out, *kernel)
    out_sp = yb.shape[2:]
    for co in np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1)):
        mask = np.zeros(out_sp, dtype=bool)
        for k in zip(*np.nonzero(bad[co])):
            outside = np.zeros(out_sp, dtype=bool)
            for a, (o_n, i_n) in enumerate(zip(out_sp, in_spatial)):
                i = np.arange(o_n) * geom.stride[a] - lead[a] + int(k[a]) * geom.dilation[a]
                shape = [1] * len(out_sp)
                shape[a] = o_n
                outside |= ((i < 0) | (i >= i_n)).reshape(shape)
            mask |= outside
        yb[:, co][:, mask] = np.nan


def conv1d(input: npt.ArrayLike, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1, *,
           out: npt.NDArray[np.float32] | None = None,
           num_threads: int | None = None) -> npt.NDArray[np.float32]:
    return _conv(1, input, weight, bias, stride, padding, dilation, groups, out, num_threads)


def conv2d(input: npt.ArrayLike, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1, *,
           out: npt.NDArray[np.float32] | None = None,
           num_threads: int | None = None) -> npt.NDArray[np.float32]:
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, out, num_threads)


def conv3d(input: npt.ArrayLike, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1, *,
           out: npt.NDArray[np.float32] | None = None,
           num_threads: int | None = None) -> npt.NDArray[np.float32]:
    return _conv(3, input, weight, bias, stride, padding, dilation, groups, out, num_threads)


_PARAMS_DOC = """
    Parameters
    ----------
    input : array_like
        ``({shape})`` batched or ``({ushape})`` unbatched.  float32 is used as is; float16 and
        float64 are converted to float32 (computation is float32); integer, bool and complex
        input is a ``TypeError``.  Any strides: a contiguous copy is made only when needed.
    weight : array_like
        ``(C_in, C_out/groups, {kshape})``, PyTorch's layout.  MegEngine's grouped layout
        ``(groups, C_in/groups, C_out/groups, {kshape})`` is accepted as well.
    bias : array_like, optional
        ``(C_out,)`` (or ``(1, C_out, {ones})``).
    stride, padding, output_padding, dilation : int or tuple of {nd} ints
        As in PyTorch.  ``output_padding`` adds rows on one side of each dimension (they get
        only the bias) and must be smaller than ``max(stride, dilation)``.
    groups : int
        Split input and output channels into this many independent groups.
    out : numpy.ndarray, optional
        C-contiguous float32 array of the output's shape to write into.
    num_threads : int, optional
        OpenMP threads; ``None`` uses OpenMP's default (``OMP_NUM_THREADS``, threadpoolctl).

    Returns
    -------
    numpy.ndarray
        float32, ``(N, C_out, {oshape})`` (or without ``N`` for unbatched input), where
        ``O = (I - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``.
        The result is bitwise identical for every thread count.
"""


def conv_transpose1d(input: npt.ArrayLike, weight: npt.ArrayLike,
                     bias: npt.ArrayLike | None = None, stride: Size = 1, padding: Size = 0,
                     output_padding: Size = 0, groups: int = 1, dilation: Size = 1, *,
                     out: npt.NDArray[np.float32] | None = None,
                     num_threads: int | None = None) -> npt.NDArray[np.float32]:
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, out, num_threads)


def conv_transpose2d(input: npt.ArrayLike, weight: npt.ArrayLike,
                     bias: npt.ArrayLike | None = None, stride: Size = 1, padding: Size = 0,
                     output_padding: Size = 0, groups: int = 1, dilation: Size = 1, *,
                     out: npt.NDArray[np.float32] | None = None,
                     num_threads: int | None = None) -> npt.NDArray[np.float32]:
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, out, num_threads)


def conv_transpose3d(input: npt.ArrayLike, weight: npt.ArrayLike,
                     bias: npt.ArrayLike | None = None, stride: Size = 1, padding: Size = 0,
                     output_padding: Size = 0, groups: int = 1, dilation: Size = 1, *,
                     out: npt.NDArray[np.float32] | None = None,
                     num_threads: int | None = None) -> npt.NDArray[np.float32]:
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, out, num_threads)


def _doc(nd: int, example: str) -> str:
    sp = _args.spatial_names(nd)
    ks = ", ".join(f"k{c}" for c in sp.replace(", ", ""))
    return (f"{nd}-D transposed convolution (\"deconvolution\") of float32 data, as "
            f"``torch.nn.functional.conv_transpose{nd}d``.\n"
            + _PARAMS_DOC.format(shape=f"N, C_in, {sp}", ushape=f"C_in, {sp}", kshape=ks,
                                 ones=", ".join(["1"] * nd), nd=nd,
                                 oshape=", ".join(f"O{c}" for c in sp.replace(", ", "")))
            + "\n    Examples\n    --------\n" + example)


conv_transpose1d.__doc__ = _doc(1, """    >>> import numpy as np, convt
    >>> x = np.ones((1, 4, 10), np.float32)
    >>> w = np.ones((4, 2, 3), np.float32)
    >>> convt.conv_transpose1d(x, w, stride=2).shape
    (1, 2, 21)
""")
conv_transpose2d.__doc__ = _doc(2, """    >>> import numpy as np, convt
    >>> x = np.ones((1, 8, 16, 16), np.float32)
    >>> w = np.ones((8, 4, 4, 4), np.float32)
    >>> convt.conv_transpose2d(x, w, stride=2, padding=1).shape
    (1, 4, 32, 32)
""")
conv_transpose3d.__doc__ = _doc(3, """    >>> import numpy as np, convt
    >>> x = np.ones((4, 5, 6, 7), np.float32)          # unbatched (C, D, H, W)
    >>> w = np.ones((4, 3, 2, 2, 2), np.float32)
    >>> convt.conv_transpose3d(x, w, stride=2).shape
    (3, 10, 12, 14)
""")


_CONV_DOC = """{nd}-D convolution of float32 data, as ``torch.nn.functional.conv{nd}d``.

    Computed by the engine of the transposed convolutions (the same GEMMs, micro-kernels and
    threads), of which it is the adjoint: ``<conv(x, w), y> == <x, conv_transpose(y, w)>``.

    Parameters
    ----------
    input : array_like
        ``(N, C_in, {sp})`` batched or ``(C_in, {sp})`` unbatched; float16/float64 are
        converted to float32, integer, bool and complex input is a ``TypeError``.
    weight : array_like
        ``(C_out, C_in/groups, {ks})``, PyTorch's layout.
    bias : array_like, optional
        ``(C_out,)``.
    stride, dilation : int or tuple of {nd} ints
    padding : int, tuple of {nd} ints, ``'valid'`` or ``'same'``
        Zeros added on both sides; ``'valid'`` is no padding, ``'same'`` (stride 1 only) pads
        ``dilation*(kernel - 1)`` in all, the odd element after, as PyTorch.
    groups : int
        Split input and output channels into this many independent groups.
    out : numpy.ndarray, optional
        C-contiguous float32 array of the output's shape to write into.
    num_threads : int, optional
        OpenMP threads; ``None`` uses OpenMP's default.  Results do not depend on it.

    Returns
    -------
    numpy.ndarray
        float32 ``(N, C_out, {os})`` (without ``N`` for unbatched input), where
        ``O = floor((I + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``.

    Examples
    --------
    >>> import numpy as np, convt
    >>> x = np.ones((1, 4, {ex}), np.float32)
    >>> w = np.ones((8, 4, {exk}), np.float32)
    >>> convt.conv{nd}d(x, w, stride=2, padding=1).shape
    (1, 8, {eo})
"""

for _nd, _fn in ((1, conv1d), (2, conv2d), (3, conv3d)):
    _sp = _args.spatial_names(_nd)
    _fn.__doc__ = _CONV_DOC.format(
        nd=_nd, sp=_sp, ks=", ".join(f"k{c}" for c in _sp.replace(", ", "")),
        os=", ".join(f"O{c}" for c in _sp.replace(", ", "")), ex=", ".join(["8"] * _nd),
        exk=", ".join(["3"] * _nd), eo=", ".join(["4"] * _nd))
