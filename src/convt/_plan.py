"""Planning: split a convolution (transposed or forward) into phases of GEMMs and parallel tasks.

Everything here works on small tables (per-dimension taps, phases, task lists); the data never
passes through Python.  Spatial geometry is always 3-D: 1-D and 2-D problems carry leading
unit dimensions (kernel 1, stride 1, padding 0, dilation 1).

Both directions are one computation: per phase, output position ``residue + out_stride*m``
sums, over the phase's taps, weight times input at ``m*in_stride + delta``.  A transposed
convolution has ``out_stride = stride`` (one phase per reachable residue) and ``in_stride = 1``;
a forward convolution has one phase, ``out_stride = 1`` and ``in_stride = stride``.  Along W the
engine always reads with unit step (contiguous slivers): a forward convolution strided along W
reads a copy of the input split into its W residues ("W split", see ``Phases.wsplit``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

# Columns per sliver: the width of every GEMM micro-kernel (include/convt/geom.h).  A kernel
# variant's rows (MR) and K granularity (KR) come from the variant table
# (include/convt/tiers.h) through the packed weights.
NR = 16
# Cache blocking.  A task packs its input panel (K x NC, K = taps * C_in/groups) once and sweeps
# every output channel over it: MC channels at a time (their KC x MC weights stay in L2 while
# the KC x NR input sliver sits in L1).  NC shrinks for long K so the panel stays near
# PANEL_BYTES, but not below NC_MIN columns (weights would be re-read for too few columns)
# unless the panel would exceed PANEL_BYTES_MAX.  KC_BYTES is the K block of one sliver row.
KC_BYTES = 1024
MC = 132
NC_MAX = 256
NC_MIN = 64
PANEL_BYTES = 1 << 22
PANEL_BYTES_MAX = 1 << 24
# Fewer tasks than this and column blocks get narrower (not below NC_SPLIT_MIN columns),
# then output channels are split too, so every core gets work.
MIN_TASKS = 8
NC_SPLIT_MIN = 32
# Groups with at most this many output channels use the direct kernel (include/convt/direct.h):
# a GEMM would fill only 1-2 of the micro-kernel's MR rows.
DIRECT_MAX_COG = 2
# The direct kernel's accumulators per thread: one row per W phase of a group, tiled along W
# to this many 4-byte elements in all (256 KiB, within L2), whatever the row length.
DIRECT_TILE_ELEMS = 1 << 16
# Output rows shorter than WPAD_MAX_ROW columns are padded to whole slivers when that adds at
# most WPAD_MAX_EXTRA of their columns and a column costs at most WPAD_MAX_WORK multiply-adds
# (taps * C_in/groups * C_out/groups): the padding columns are computed, so it pays where the
# per-sliver costs of rows crossing slivers outweigh the arithmetic (measured: 1d_seed's
# 51-column rows, 1.6k MACs a column, gain 1.3-2x; 3d_seed's 100-column rows lose 9% in float;
# enc_2d_3x3's 56-column rows, 37k MACs a column, lose 6-9%).
WPAD_MAX_ROW = 64
WPAD_MAX_EXTRA = 1 / 3
WPAD_MAX_WORK = 8192
# Below this many multiply-adds a second thread costs more than it saves.
PARALLEL_MIN_MACS = 1 << 18


@dataclass(frozen=True)
class Phases:
    """Output phases of one (kernel, stride, padding, dilation): what weight packing needs.

    Only residues that some tap reaches are phases (at most kernel_size per dimension, however
    large the stride); output positions at other residues hold the bias alone (``complete`` is
    False then and the output is pre-filled with the bias).  Phases are ordered with the W
    residue fastest: each run of ``nw`` consecutive phases shares (rd, rh).
    ``residue[p]`` are the output positions' remainders modulo stride in phase ``p``;
    ``tap_start[p]:tap_start[p+1]`` index ``delta`` (input offset of each tap, 3 per tap) and
    ``kidx`` (flattened kernel index of each tap).

    ``out_stride``/``in_stride`` are the steps of output and input per grid position (see the
    module docstring).  ``wsplit`` is empty, or the W residues ``r`` of the input a forward
    convolution strided along W reads: the engine then reads a copy whose rows hold, one after
    the other, ``x[..., r::stride_w]`` for each; tap ``t`` reads component ``wcomp[t]`` at
    ``m + delta[t, 2]``.
    """

    residue: np.ndarray  # (P, 3) int64
    tap_start: np.ndarray  # (P + 1,) int64
    delta: np.ndarray  # (T, 3) int64
    kidx: np.ndarray  # (T,) int64
    nw: int
    complete: bool
    out_stride: tuple[int, int, int] = (1, 1, 1)
    in_stride: tuple[int, int, int] = (1, 1, 1)
    wsplit: tuple[int, ...] = ()
    wcomp: np.ndarray | None = None  # (T,) int64 component of each tap (W split only)
    split_stride: int = 1  # the W stride the split copy undoes (1: no split)

    def tap_limits(self, in_w: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(wlim, xoff, row pitch) for input rows of ``in_w`` elements: per tap, the number of
        W positions it may read (its component's length) and where its component starts in a
        row of the engine's input (the split copy or the input itself)."""
        ntaps = len(self.kidx)
        if not self.wsplit:
            return (np.full(ntaps, in_w, dtype=np.int64), np.zeros(ntaps, dtype=np.int64), in_w)
        sw = self.split_stride
        wq = self.component_width(in_w)
        res = np.asarray(self.wsplit, dtype=np.int64)
        comp_len = np.maximum(0, (in_w - res + sw - 1) // sw)
        assert self.wcomp is not None
        return comp_len[self.wcomp], self.wcomp * wq, wq * len(res)

    def component_width(self, in_w: int) -> int:
        """Elements of each W component in a row of the split copy: ceil(in_w / stride_w)."""
        return -(-in_w // self.split_stride)



def _dim_phases(k: int, s: int, p: int, d: int) -> dict[int, list[tuple[int, int]]]:
    """{residue r: taps (k, delta)} for the residues some tap reaches: tap k lands on outputs
    o = i*s - p + k*d, i.e. residue (k*d - p) mod s, with input i = m + (r + p - k*d) / s."""
    phases: dict[int, list[tuple[int, int]]] = {}
    for kk in range(k):
        r = (kk * d - p) % s
        phases.setdefault(r, []).append((kk, (r + p - kk * d) // s))
    return dict(sorted(phases.items()))


def make_phases(kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                dilation: Sequence[int]) -> Phases:
    per_dim = [_dim_phases(*args) for args in zip(kernel, stride, padding, dilation)]
    KH, KW = kernel[1], kernel[2]
    residues, starts, deltas, kidx = [], [0], [], []
    for combo in itertools.product(*(list(dp) for dp in per_dim)):
        taps3 = [per_dim[a][combo[a]] for a in range(3)]
        for (kd, dd), (kh, dh), (kw, dw) in itertools.product(*taps3):
            deltas.append((dd, dh, dw))
            kidx.append((kd * KH + kh) * KW + kw)
        residues.append(combo)
        starts.append(len(kidx))
    return Phases(
        residue=np.asarray(residues, dtype=np.int64).reshape(-1, 3),
        tap_start=np.asarray(starts, dtype=np.int64),
        delta=np.asarray(deltas, dtype=np.int64).reshape(-1, 3),
        kidx=np.asarray(kidx, dtype=np.int64),
        nw=len(per_dim[2]),
        complete=all(len(dp) == s for dp, s in zip(per_dim, stride)),
        out_stride=(int(stride[0]), int(stride[1]), int(stride[2])),
    )


def make_forward_phases(kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                        dilation: Sequence[int]) -> Phases:
    """The one phase of a forward convolution: output o reads input o*stride - padding + k*d
    for every tap k (``padding`` is the leading side's; the trailing side's only sets the
    output size, and taps past the input read nothing).  Along W the taps read the split
    copy when the W stride is above 1: input w = m*sw + delta = (m + delta // sw)*sw +
    delta % sw is element m + delta // sw of component delta % sw."""
    sw = int(stride[2])
    per_dim = [[(kk, kk * d - p) for kk in range(k)]
               for k, p, d in zip(kernel, padding, dilation)]
    used = sorted({dw % sw for _, dw in per_dim[2]}) if sw > 1 else []
    comp_of = {r: i for i, r in enumerate(used)}
    KH, KW = kernel[1], kernel[2]
    deltas, kidx, wcomp = [], [], []
    for (kd, dd), (kh, dh), (kw, dw) in itertools.product(*per_dim):
        if sw > 1:
            wcomp.append(comp_of[dw % sw])
            dw //= sw
        deltas.append((dd, dh, dw))
        kidx.append((kd * KH + kh) * KW + kw)
    return Phases(
        residue=np.zeros((1, 3), dtype=np.int64),
        tap_start=np.asarray([0, len(kidx)], dtype=np.int64),
        delta=np.asarray(deltas, dtype=np.int64).reshape(-1, 3),
        kidx=np.asarray(kidx, dtype=np.int64),
        nw=1, complete=True, out_stride=(1, 1, 1),
        in_stride=(int(stride[0]), int(stride[1]), 1),
        wsplit=tuple(used), wcomp=np.asarray(wcomp, dtype=np.int64) if used else None,
        split_stride=sw if used else 1)


def _even_blocks(total: int, max_block: int, align: int) -> list[tuple[int, int]]:
    """Split range(total) into ceil(total / max_block) blocks whose starts are multiples of
    ``align`` and whose sizes differ by at most ``align`` (the last one may be shorter)."""
    if total <= 0:
        return []
    units = -(-total // align)
    nb = min(units, max(1, -(-total // max_block)))
    per, extra = divmod(units, nb)
    blocks, start = [], 0
    for i in range(nb):
        end = min(total, start + (per + (i < extra)) * align)
        blocks.append((start, end))
        start = end
    return blocks


@dataclass(frozen=True)
class Schedule:
    """Tasks (rows: group, first phase, phases, co0, co1, j0, j1), grids, workspace sizes."""

    tasks: np.ndarray  # (ntasks, 7) int64
    mcount: np.ndarray  # (P, 3) int64
    wcols: np.ndarray  # (P,) int64: columns per output row in a phase's column grid
    kc: int
    mc: int
    nc: int
    kpanel: int
    macs: int


def phase_grid(phases: Phases, out_shape: Sequence[int]) -> npt.NDArray[np.int64]:
    """(P, 3): per phase and dimension, the number of m with residue + out_stride*m < O."""
    out_a = np.asarray(out_shape, dtype=np.int64)
    stride_a = np.asarray(phases.out_stride, dtype=np.int64)
    grid: npt.NDArray[np.int64] = np.maximum(0, (out_a - phases.residue + stride_a - 1)
                                             // stride_a)
    return grid


@dataclass(frozen=True)
class DirectSchedule:
    """Direct-kernel tasks (rows: n, output channel, first phase of a W group, row0, row1 of
    that group's (md, mh) grid, m0, m1 of its W grid) and the W tile (``mtile`` >= m1 - m0)
    that sizes each thread's accumulator rows."""

    tasks: np.ndarray  # (ntasks, 7) int64
    mcount: np.ndarray  # (P, 3) int64
    mtile: int
    macs: int


def make_direct_schedule(phases: Phases, batch: int, groups: int, cig: int, cog: int,
                         out_shape: Sequence[int], tile: object = None) -> DirectSchedule:
    mcount = phase_grid(phases, out_shape)
    ntaps = np.diff(phases.tap_start)
    macs = int((batch * np.prod(mcount, axis=1) * ntaps).sum()) * cig * cog * groups
    cout = groups * cog
    heads = np.arange(0, len(ntaps), phases.nw)
    rows = mcount[heads, 0] * mcount[heads, 1]
    heads, rows = heads[rows > 0], rows[rows > 0]
    # W tiles: the accumulators of a group's nw phases fit DIRECT_TILE_ELEMS (bounded scratch
    # for any row length); rows split first, then W, until there are tasks for every thread.
    mwmax = -(-int(out_shape[2]) // int(phases.out_stride[2]))
    mtile = min(_ceil_to(mwmax, NR), max(NR, DIRECT_TILE_ELEMS // phases.nw // NR * NR))
    outer = max(1, batch * cout * len(heads))
    per = max(1, math.ceil(MIN_TASKS * 2 / outer))
    row_units = [(int(h), a, b) for h, r in zip(heads, rows)
                 for a, b in _even_blocks(int(r), math.ceil(int(r) / per), 1)]
    want_w = math.ceil(MIN_TASKS * 2 / (batch * cout * max(1, len(row_units))))
    mtile = min(mtile, max(NR, _ceil_to(math.ceil(mwmax / want_w), NR)))
    w_blocks = _even_blocks(mwmax, mtile, NR)  # each at most mtile: the scratch's bound
    units = np.asarray([ru + wb for ru in row_units for wb in w_blocks],
                       dtype=np.int64).reshape(-1, 5)
    n, c, u = (a.ravel() for a in np.meshgrid(np.arange(batch), np.arange(cout),
                                              np.arange(len(units)), indexing="ij"))
    tasks = np.concatenate([np.stack([n, c], axis=1), units[u]], axis=1).astype(np.int64)
    return DirectSchedule(tasks=tasks.reshape(-1, 7), mcount=mcount, mtile=mtile, macs=macs)


def _ceil_to(v: int, m: int) -> int:
    return -(-v // m) * m


def make_schedule(phases: Phases, batch: int, groups: int, cig: int, cog: int,
                  out_shape: Sequence[int],
                  tile: tuple[int, int, int] = (6, 1, 4)) -> Schedule:
    """Tasks over (group, phase unit, column block, channel block).

    ``tile`` = (MR, KR, bytes per packed input element) of the kernel variant: a tap's rows
    are padded to KR (``ckr``), channel blocks are multiples of MR.

    Phases come in groups of ``nw`` consecutive entries (same rd, rh; every W residue).  A
    task computes a whole group, so it writes whole output rows; when that leaves too few
    tasks for the threads, column blocks get narrower, and only then are output channels split
    (each channel block packs the same input again).
    """
    mr, kr, esize = tile
    ckr = -(-cig // kr) * kr
    nw = phases.nw
    mcount = phase_grid(phases, out_shape)
    ntaps = np.diff(phases.tap_start)
    macs = int((batch * np.prod(mcount, axis=1) * ntaps).sum()) * cig * cog * groups
    # Short rows padded to whole slivers: every sliver then lies in one row (contiguous loads
    # and stores instead of gathers); the padding columns are computed but never stored.
    mw = mcount[:, 2]
    wpad = -(-mw // NR) * NR
    cheap = ntaps * cig * cog <= WPAD_MAX_WORK
    wcols = np.where((mw < WPAD_MAX_ROW) & (wpad <= (1 + WPAD_MAX_EXTRA) * mw) & cheap, wpad, mw)
    ncols_all = batch * mcount[:, 0] * mcount[:, 1] * wcols
    kmax = int((ntaps * ckr).max()) if len(ntaps) else 0

    # A task computes every W phase of its rows (nw phases from a head), so the epilogue
    # writes whole output rows: splitting W phases over tasks would have threads writing
    # interleaved elements of the same cache lines.
    heads = np.arange(0, len(ntaps), nw)
    ncols = ncols_all[heads]
    heads, ncols = heads[ncols > 0], ncols[ncols > 0]
    kpanel = max([1] + [int((ntaps[p:p + nw] * ckr + kr).sum()) for p in heads])
    kbytes = kpanel * esize
    nc = min(NC_MAX, max(NR, PANEL_BYTES // kbytes // NR * NR,
                         min(NC_MIN, PANEL_BYTES_MAX // kbytes // NR * NR)))
    # Too few column blocks for the threads: narrower blocks first (down to NC_SPLIT_MIN
    # columns; each repacks nothing but reads all the weights again), then channel blocks (each
    # packs the same input again).  Where the weights outweigh the input panels (few columns,
    # many channels: an encoder's deep layers) channel blocks come first, so the weights are
    # read once (enc_1d_vocoder: 8 MB of weights for 200 columns).
    nblocks = groups * sum(-(-int(n) // nc) for n in ncols)
    weight_heavy = cog * len(heads) > int(ncols.sum())
    n_co = 1
    if nblocks < MIN_TASKS and weight_heavy:
        n_co = min(math.ceil(cog / mr), math.ceil(MIN_TASKS / nblocks))
        nblocks *= n_co
    if nblocks < MIN_TASKS:
        want = -(-groups * int(ncols.sum()) * n_co // MIN_TASKS)
        nc = max(NC_SPLIT_MIN, -(-want // NR) * NR) if want < nc else nc
    # A few blocks over the threads: as many as a multiple of MIN_TASKS (13 blocks on 2
    # threads leave one idle for a twelfth of the time; 16 smaller ones balance).
    nblocks = groups * sum(-(-int(n) // nc) for n in ncols) * n_co
    if nblocks < 4 * MIN_TASKS and nblocks % MIN_TASKS:
        nc_even = _ceil_to(math.ceil(nc * nblocks / _ceil_to(nblocks, MIN_TASKS)), NR)
        nc = max(min(nc, NC_SPLIT_MIN), nc_even)
    col_blocks = [np.asarray(_even_blocks(int(n), nc, NR), dtype=np.int64) for n in ncols]
    nph = nw
    col_tasks = groups * sum(len(b) for b in col_blocks)
    n_co = max(n_co, min(math.ceil(cog / mr), max(1, math.ceil(MIN_TASKS / max(col_tasks, 1)))))
    co_blocks = np.asarray(_even_blocks(cog, math.ceil(cog / n_co), mr),
                           dtype=np.int64).reshape(-1, 2)
    parts = []
    g: npt.NDArray[Any]
    j: npt.NDArray[Any]
    c: npt.NDArray[Any]
    for p, cb in zip(heads, col_blocks):
        # Every (group, column block, channel block) of this phase unit, group slowest.
        g, j, c = np.meshgrid(np.arange(groups), np.arange(len(cb)), np.arange(len(co_blocks)),
                              indexing="ij")
        g, j, c = g.ravel(), j.ravel(), c.ravel()
        parts.append(np.stack([g, np.full_like(g, p), np.full_like(g, nph), co_blocks[c, 0],
                               co_blocks[c, 1], cb[j, 0], cb[j, 1]], axis=1))
    nc = max([NR] + [int((b[:, 1] - b[:, 0]).max()) for b in col_blocks])
    nc = math.ceil(nc / NR) * NR
    mc = min(MC // mr * mr, math.ceil(int((co_blocks[:, 1] - co_blocks[:, 0]).max()) / mr) * mr)
    kc = max(kr, min(KC_BYTES // esize // kr * kr, kmax))
    tasks = np.concatenate(parts) if parts else np.zeros((0, 7), dtype=np.int64)
    return Schedule(tasks=tasks, mcount=mcount, wcols=wcols, kc=kc, mc=mc, nc=nc, kpanel=kpanel,
                    macs=macs)
