"""The task graph of a chunked convolution: one task per output block, which gathers the input
slice feeding the block from the input's chunks, convolves it in memory and crops it.

What slice, padding and crop: :func:`convt._args.block_source`; the output's chunks:
:func:`convt._args.output_chunks`.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence, cast

import dask.array as da
import numpy as np
import numpy.typing as npt
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from .. import _args
from ._threads import task_threads

# (source slices in an input chunk, destination slices in the gathered slice), spatial only
Piece = tuple[tuple[slice, ...], tuple[slice, ...]]


class BlockOp(Protocol):
    """The convolution of one gathered input slice by ``geom``: the in-memory call, or with
    ``out_spatial`` the engine's output of exactly that size (``geom.padding`` the offset of
    its first output, see :func:`convt._args.exact_block_source`)."""

    def __call__(self, region: npt.NDArray[Any], geom: _args.Geometry,
                 num_threads: int | None,
                 out_spatial: tuple[int, ...] | None = None) -> npt.NDArray[Any]: ...


def check_input(x: object, nd: int, dtype: type[np.generic],
                transposed: bool) -> tuple[da.Array, bool]:
    """A batched (N, C, *spatial) view of the dask array ``x`` of ``dtype`` with known chunk
    sizes, its channels in one chunk, and whether ``x`` was batched."""
    if not isinstance(x, da.Array):
        raise TypeError(f"input must be a dask.array.Array, got {type(x).__name__} (use "
                        f"dask.array.from_array, or the in-memory functions of convt)")
    if x.dtype != dtype:
        raise TypeError(f"input must hold {np.dtype(dtype).name} values, got dtype {x.dtype} "
                        f"(convert with input.astype(numpy.{np.dtype(dtype).name}))")
    # _args' checks take NumPy arrays; a dask array has the same ndim, shape and x[None]
    view, batched = _args.split_batch(cast(Any, x), nd, transposed=transposed)
    if any(math.isnan(s) for s in view.shape):
        raise ValueError(f"input has unknown chunk sizes (shape {x.shape}): call "
                         f"input.compute_chunk_sizes() first")
    _args.check_input_spatial(view)
    xb = cast(da.Array, view)
    if xb.numblocks[1] > 1:  # every output needs all the input channels of its group
        xb = xb.rechunk({1: -1})  # type: ignore[no-untyped-call]
    return xb, batched


def pad_by_mode(x: da.Array, lead: Sequence[int], trail: Sequence[int],
                mode: str) -> da.Array:
    """A batched (N, C, *spatial) dask array padded by ``padding_mode`` ``mode`` as the
    layers pad a NumPy input (:func:`convt._args.pad_input`: the same values)."""
    _args.check_mode_padding(x.shape, lead, trail, mode)
    widths = [(0, 0), (0, 0)] + list(zip(lead, trail))
    padded: da.Array = da.pad(x, widths, mode=_args.NUMPY_PAD_MODES[mode])
    return padded


def convolve(xb: da.Array, geom: _args.Geometry, kernel: tuple[int, ...], out_channels: int,
             op: BlockOp, num_threads: int | None, dtype: type[np.generic],
             label: str) -> da.Array:
    """The lazy convolution of the checked batched input ``xb`` (channels in one chunk): one
    task per (batch chunk, spatial output block)."""
    out_chunks = _args.output_chunks(geom, kernel, xb.chunks[2:])
    name = f"{label}-{tokenize(xb.name, geom, kernel, op, num_threads)}"
    op_key = f"{name}-op"  # the weights once in the graph, not once per task
    graph: dict[Any, Any] = {op_key: op}
    for index, plan, chunk_ids in block_plans(geom, kernel, xb.chunks[2:], out_chunks):
        for n in range(xb.numblocks[0]):
            chunks = [(xb.name, n, 0) + c for c in chunk_ids]
            graph[(name, n, 0) + index] = (run_block, op_key, plan, chunks, num_threads)
    # (dask's annotations are partial: its Array is no DaskCollection to mypy)
    hlg = HighLevelGraph.from_collections(
        name, graph, dependencies=[xb])  # type: ignore[list-item]
    meta = np.empty((0,) * xb.ndim, dtype)
    result: da.Array = da.Array(  # type: ignore[no-untyped-call]
        hlg, name, chunks=(xb.chunks[0], (out_channels,)) + out_chunks, meta=meta)
    return result


def block_plans(geom: _args.Geometry, kernel: tuple[int, ...],
                in_chunks: tuple[tuple[int, ...], ...], out_chunks: tuple[tuple[int, ...], ...]
                ) -> Iterator[tuple[tuple[int, ...], BlockPlan, list[tuple[int, ...]]]]:
    """(spatial block index, plan, spatial indices of the input chunks it reads) of every
    spatial output block, the same for every batch chunk."""
    in_bounds = [_bounds(c) for c in in_chunks]
    out_bounds = [_bounds(c) for c in out_chunks]
    in_spatial = tuple(b[-1] for b in in_bounds)
    for index in itertools.product(*(range(len(c)) for c in out_chunks)):
        start = tuple(b[j] for b, j in zip(out_bounds, index))
        stop = tuple(b[j + 1] for b, j in zip(out_bounds, index))
        # exactly the block where the engine can (no output computed to be cropped: a block
        # one output longer can cost a third more), else the in-memory call and a crop
        src = (_args.exact_block_source(geom, kernel, in_spatial, start, stop)
               or _args.block_source(geom, kernel, in_spatial, start, stop))
        chunk_ids, pieces = _pieces(in_bounds, src.in_start, src.in_stop)
        region = tuple(b - a for a, b in zip(src.in_start, src.in_stop))
        crop = tuple(slice(c, c + b - a) for c, a, b in zip(src.crop, start, stop))
        yield index, BlockPlan(src.geom, region, pieces, crop, src.out_spatial), chunk_ids


@dataclass(frozen=True)
class BlockPlan:
    """What a task does besides its op: convolve the (N, C, *region) slice gathered from the
    parts ``pieces`` of its input chunks by ``geom`` and crop the result to ``crop``.  (One
    object, which dask does not search for keys, unlike nested tuples.)"""

    geom: _args.Geometry
    region: tuple[int, ...]
    pieces: list[Piece]
    crop: tuple[slice, ...]
    out_spatial: tuple[int, ...] | None  # the engine's exact output (see BlockOp)


def run_block(op: BlockOp, plan: BlockPlan, chunks: list[npt.NDArray[Any]],
              num_threads: int | None) -> npt.NDArray[Any]:
    """One output block: its input slice gathered from ``chunks``, convolved, cropped."""
    region = gather(plan.region, plan.pieces, chunks)
    y = op(region, plan.geom, task_threads(num_threads), plan.out_spatial)
    # a view: what stores or concatenates the blocks copies it anyway
    return y[(slice(None), slice(None)) + plan.crop]


def gather(region: tuple[int, ...], pieces: list[Piece],
           chunks: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """The (N, C, *region) input slice from the parts ``pieces`` of ``chunks``."""
    whole = (slice(None), slice(None))
    if len(chunks) == 1:  # inside one chunk: a view
        return chunks[0][whole + pieces[0][0]]
    first = chunks[0]
    out = np.empty(first.shape[:2] + region, first.dtype)
    for (src, dst), chunk in zip(pieces, chunks):
        out[whole + dst] = chunk[whole + src]
    return out


def _bounds(chunks: Sequence[int]) -> list[int]:
    """Where each chunk starts, and the end: [0, c0, c0 + c1, ...]."""
    return [0] + list(itertools.accumulate(chunks))


def _pieces(bounds: list[list[int]], start: Sequence[int],
            stop: Sequence[int]) -> tuple[list[tuple[int, ...]], list[Piece]]:
    """The spatial chunk indices holding the input slice [start, stop), and which part of
    each goes where in the slice."""
    per_axis = []
    for b, a0, a1 in zip(bounds, start, stop):
        first = bisect.bisect_right(b, a0) - 1
        parts = []
        for j in range(first, len(b) - 1):
            lo, hi = max(a0, b[j]), min(a1, b[j + 1])
            if lo >= a1:
                break
            if hi > lo:  # empty chunks hold nothing
                parts.append((j, slice(lo - b[j], hi - b[j]), slice(lo - a0, hi - a0)))
        per_axis.append(parts)
    ids, pieces = [], []
    for combo in itertools.product(*per_axis):
        ids.append(tuple(j for j, _, _ in combo))
        pieces.append((tuple(s for _, s, _ in combo), tuple(d for _, _, d in combo)))
    return ids, pieces
