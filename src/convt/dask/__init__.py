"""Chunked convolution of dask arrays: ``convt.dask.conv_transpose1d/2d/3d`` and
``conv1d/2d/3d`` (float32), :mod:`convt.dask.quantized` (uint8 x int8).

Needs the optional extra ``pip install 'convt[dask]'``; ``import convt`` never imports dask.

Each function takes the in-memory function's arguments with a dask array as input and
returns a lazy dask array.  The output's chunks follow the input's (its batch chunks, and
along each spatial dimension the input chunks times the stride for a transposed convolution,
divided by it for a forward one); the channels are one chunk (the input is rechunked so when
they are not).  Each output block is computed by the in-memory function of :mod:`convt` on the
input slice feeding it (a halo of the neighbouring chunks), with zero padding only at the
input's true borders, then cropped: **the result is bitwise identical to one in-memory call
on the whole input**, whatever the chunking.  Arguments are checked when the graph is built,
with the in-memory API's messages.

Threads
-------
``num_threads=None`` (the default) never puts more OpenMP threads on a host than it has cores
(``len(os.sched_getaffinity(0))``, else ``os.cpu_count()``), given what runs the tasks:

* a ``dask.distributed`` worker: ``max(1, cores // dask_threads)``, where ``dask_threads`` is
  the number of dask threads of all the workers on that host (asked of the scheduler once per
  worker and cached; the worker's own ``nthreads`` if the scheduler cannot be asked);
* the local threaded scheduler (any thread other than the main one), or a child process (the
  multiprocessing scheduler): 1, the pool having a thread or process per core already;
* the synchronous scheduler (the main thread of the main process): all the cores (``None``
  is passed to convt: OpenMP's default).

An int is passed to every block's call as it is.  Results do not depend on the thread count.

Examples
--------
>>> import dask, dask.array as da, numpy as np, convt, convt.dask
>>> x = np.random.default_rng(0).standard_normal((2, 4, 30, 30)).astype(np.float32)
>>> w = np.random.default_rng(1).standard_normal((4, 3, 4, 4)).astype(np.float32)
>>> y = convt.dask.conv_transpose2d(da.from_array(x, chunks=(1, 4, 10, 10)), w, stride=2,
...                                 padding=1)
>>> y.shape, y.chunks[2]
((2, 3, 60, 60), (20, 20, 20))
>>> with dask.config.set(scheduler="synchronous"):
...     yc = y.compute()
>>> np.array_equal(yc, convt.conv_transpose2d(x, w, stride=2, padding=1))
True
"""

from __future__ import annotations

try:
    import dask.array as da
except ImportError as e:  # an optional extra
    raise ImportError("convt.dask needs dask: pip install 'convt[dask]'") from e

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import _args, functional
from .._typing import Size
from ._graph import check_input, convolve, pad_by_mode

if TYPE_CHECKING:  # convt.modules imports convt.dask in its methods
    from ..modules import LayerBase, _FloatLayer

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv1d", "conv2d",
           "conv3d", "quantized"]


class PackCache:
    """Packed weights per geometry, kept by a block op between its tasks (blocks differ only
    in the offset of their first output, so a few packs serve them all).  Not pickled: a
    worker process packs for itself."""

    def __init__(self) -> None:
        self.packs: dict[_args.Geometry, Any] = {}

    def get(self, geom: _args.Geometry, pack: Any) -> Any:
        hit = self.packs.get(geom)
        if hit is None:  # two threads may both pack: the same result, kept once
            hit = self.packs.setdefault(geom, pack())
        return hit

    def __reduce__(self) -> tuple[type[PackCache], tuple[()]]:
        return PackCache, ()


@dataclass(frozen=True, eq=False)
class FloatBlock:
    """One block's float32 call (:mod:`convt.functional`): the checked weight and bias, the
    geometry given per block."""

    nd: int
    weight: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32] | None
    packs: PackCache = field(default_factory=PackCache)

    @cached_property
    def finite(self) -> bool:
        """Whether every weight is finite (checked once, not per block)."""
        return bool(np.isfinite(self.weight).all())

    def __call__(self, region: npt.NDArray[Any], geom: _args.Geometry,
                 num_threads: int | None,
                 out_spatial: tuple[int, ...] | None = None) -> npt.NDArray[np.float32]:
        if out_spatial is not None:  # the engine, on exactly the block
            w = self.weight
            packed = self.packs.get(geom, lambda: functional.pack_weight(w, geom))
            cout = w.shape[1] * geom.groups if geom.transposed else w.shape[0]
            y = functional.run(packed, region, True, self.bias, cout, out_spatial, None,
                               num_threads)
            if not geom.transposed and not self.finite:
                functional.nan_where_zero_padding_meets_nonfinite(y, True, w, geom,
                                                                  region.shape[2:])
            return y
        if geom.transposed:
            fn = getattr(functional, f"conv_transpose{self.nd}d")
            y = fn(region, self.weight, self.bias, geom.stride, geom.padding,
                   geom.output_padding, geom.groups, geom.dilation, num_threads=num_threads)
        else:
            fn = getattr(functional, f"conv{self.nd}d")
            y = fn(region, self.weight, self.bias, geom.stride, geom.padding, geom.dilation,
                   geom.groups, num_threads=num_threads)
        result: npt.NDArray[np.float32] = y
        return result


def frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A read-only copy: the graph keeps the weights as they were when it was built."""
    c = np.array(a, order="C", copy=True)
    c.flags.writeable = False
    return c


def _conv_transpose(nd: int, x: da.Array, weight: npt.ArrayLike, bias: npt.ArrayLike | None,
                    stride: Size, padding: Size, output_padding: Size, groups: int,
                    dilation: Size, num_threads: int | None) -> da.Array:
    geom = _args.make_geometry(nd, stride, padding, output_padding, dilation, groups)
    xb, batched = check_input(x, nd, np.float32, transposed=True)
    w = _args.normalise_weight(_args.as_float32(weight, "weight"), nd, geom.groups, xb.shape[1])
    out_channels = w.shape[1] * geom.groups
    b = _args.normalise_bias(bias, out_channels, nd)
    _args.check_num_threads(num_threads)
    op = FloatBlock(nd, frozen(w), None if b is None else frozen(b))
    y = convolve(xb, geom, w.shape[2:], out_channels, op, num_threads, np.float32,
                 f"conv_transpose{nd}d")
    return y if batched else y[0]


def _conv(nd: int, x: da.Array, weight: npt.ArrayLike, bias: npt.ArrayLike | None,
          stride: Size, padding: Size | str, dilation: Size, groups: int,
          num_threads: int | None) -> da.Array:
    geom = _args.make_conv_geometry(nd, stride, padding, dilation, groups)
    xb, batched = check_input(x, nd, np.float32, transposed=False)
    w = _args.normalise_forward_weight(_args.as_float32(weight, "weight"), nd, geom.groups,
                                       xb.shape[1])
    b = _args.normalise_bias(bias, w.shape[0], nd)
    _args.check_num_threads(num_threads)
    op = FloatBlock(nd, frozen(w), None if b is None else frozen(b))
    y = convolve(xb, geom, w.shape[2:], w.shape[0], op, num_threads, np.float32, f"conv{nd}d")
    return y if batched else y[0]


def conv_transpose1d(x: da.Array, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *,
                     num_threads: int | None = None) -> da.Array:
    return _conv_transpose(1, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, num_threads)


def conv_transpose2d(x: da.Array, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *,
                     num_threads: int | None = None) -> da.Array:
    return _conv_transpose(2, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, num_threads)


def conv_transpose3d(x: da.Array, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
                     stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                     groups: int = 1, dilation: Size = 1, *,
                     num_threads: int | None = None) -> da.Array:
    return _conv_transpose(3, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, num_threads)


def conv1d(x: da.Array, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1, *,
           num_threads: int | None = None) -> da.Array:
    return _conv(1, x, weight, bias, stride, padding, dilation, groups, num_threads)


def conv2d(x: da.Array, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1, *,
           num_threads: int | None = None) -> da.Array:
    return _conv(2, x, weight, bias, stride, padding, dilation, groups, num_threads)


def conv3d(x: da.Array, weight: npt.ArrayLike, bias: npt.ArrayLike | None = None,
           stride: Size = 1, padding: Size | str = 0, dilation: Size = 1, groups: int = 1, *,
           num_threads: int | None = None) -> da.Array:
    return _conv(3, x, weight, bias, stride, padding, dilation, groups, num_threads)


def apply_layer(layer: _FloatLayer, x: da.Array, num_threads: int | None) -> da.Array:
    """A float layer (``convt.ConvTranspose{n}d`` / ``Conv{n}d``) applied to a dask array by
    the functions above; a ``padding_mode`` other than ``'zeros'`` pads the dask array the
    same way first (:meth:`convt.ConvTranspose2d.apply_dask`)."""
    nd = layer._nd
    if layer._transposed:
        assert not isinstance(layer.padding, str)  # no 'same' / 'valid' when transposed
        return _conv_transpose(nd, x, layer.weight, layer.bias, layer.stride, layer.padding,
                               layer.output_padding, layer.groups, layer.dilation, num_threads)
    x, padding = padded_for_layer(layer, x, np.float32)
    return _conv(nd, x, layer.weight, layer.bias, layer.stride, padding, layer.dilation,
                 layer.groups, num_threads)


def padded_for_layer(layer: LayerBase, x: da.Array,
                     dtype: type[np.generic]) -> tuple[da.Array, tuple[int, ...] | str]:
    """(input, padding to convolve it with) for a forward layer: ``x`` and the layer's
    padding, or with a ``padding_mode`` other than ``'zeros'`` ``x`` padded so and 0."""
    mode = layer._pad_mode()
    if not mode:
        return x, layer.padding
    xb, batched = check_input(x, layer._nd, dtype, transposed=False)
    lead, trail = layer._geom.pads(layer.kernel_size)
    padded = pad_by_mode(xb, lead, trail, mode)
    return (padded if batched else padded[0]), (0,) * layer._nd


_FLOAT_DOC = """{nd}-D {what} of a float32 dask array, chunk by chunk: :func:`convt.{name}`'s
    arguments and result, lazily.

    Parameters
    ----------
    x : dask.array.Array
        float32 ``(N, C_in, {sp})`` or unbatched ``(C_in, {sp})``, chunked along any
        dimensions (the channels are rechunked into one chunk), chunk sizes known.
    weight, bias, stride, padding{op}, dilation, groups
        As :func:`convt.{name}`; checked now, when the graph is built.
    num_threads : int, optional
        OpenMP threads of each block's call; ``None``: see :mod:`convt.dask` (never more
        threads on a host than cores).

    Returns
    -------
    dask.array.Array
        float32, the shape of :func:`convt.{name}`'s result; its spatial chunks follow the
        input's ({follow} the stride); bitwise equal to the in-memory call on the whole input.

    Examples
    --------
    >>> import dask.array as da, numpy as np, convt, convt.dask
    >>> x = da.ones((1, 4) + ({ex},) * {nd}, dtype=np.float32, chunks=(1, 4) + (6,) * {nd})
    >>> w = np.ones({wshape}, np.float32)
    >>> y = convt.dask.{name}(x, w, stride=2)
    >>> y.shape, y.chunks[2]
    ({eshape}, {echunks})
"""

for _nd in (1, 2, 3):
    _sp = _args.spatial_names(_nd)
    _tail = ", 3" * _nd
    globals()[f"conv_transpose{_nd}d"].__doc__ = _FLOAT_DOC.format(
        nd=_nd, what="transposed convolution", name=f"conv_transpose{_nd}d", sp=_sp,
        op=", output_padding", follow="times", ex=12, wshape=f"(4, 2{_tail})",
        eshape=f"(1, 2{', 25' * _nd})", echunks="(12, 13)")
    globals()[f"conv{_nd}d"].__doc__ = _FLOAT_DOC.format(
        nd=_nd, what="convolution", name=f"conv{_nd}d", sp=_sp, op="", follow="divided by",
        ex=12, wshape=f"(2, 4{_tail})", eshape=f"(1, 2{', 5' * _nd})", echunks="(3, 2)")

from . import quantized  # noqa: E402  (after the helpers it uses)
