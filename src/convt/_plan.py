"""Planning: split a transposed convolution into stride phases and parallel tasks.

Everything here works on small tables (per-dimension taps, phases, task lists); the data never
passes through Python.  Spatial geometry is always 3-D: 1-D and 2-D problems carry leading
unit dimensions (kernel 1, stride 1, padding 0, dilation 1).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

# Register tile of the GEMM micro-kernels (include/convt/gemm_f32.h): MR output channels x NR
# output positions.
MR = 6
NR = 16
# Cache blocking.  A task packs its input panel (K x NC, K = taps * C_in/groups) once and sweeps
# every output channel over it: MC channels at a time (their KC x MC weights stay in L2 while
# the KC x NR input sliver sits in L1).  NC shrinks for long K so the panel stays near
# PANEL_FLOATS, but not below NC_MIN columns (weights would be re-read for too few columns)
# unless the panel would exceed PANEL_FLOATS_MAX.
KC = 256
MC = 132
NC_MAX = 256
NC_MIN = 64
PANEL_FLOATS = 1 << 20
PANEL_FLOATS_MAX = 1 << 22
# Fewer tasks than this and output channels are split too, so both cores get work.
MIN_TASKS = 8
# Groups with at most this many output channels use the direct kernel (include/convt/direct.h):
# a GEMM would fill only 1-2 of the micro-kernel's MR rows.
DIRECT_MAX_COG = 2
# Below this many multiply-adds a second thread costs more than it saves.
PARALLEL_MIN_MACS = 1 << 18


@dataclass(frozen=True)
class Phases:
    """Output phases of one (kernel, stride, padding, dilation): what weight packing needs.

    ``residue[p]`` are the output positions' remainders modulo stride in phase ``p``;
    ``tap_start[p]:tap_start[p+1]`` index ``delta`` (input offset of each tap, 3 per tap) and
    ``kidx`` (flattened kernel index of each tap).
    """

    residue: np.ndarray  # (P, 3) int64
    tap_start: np.ndarray  # (P + 1,) int64
    delta: np.ndarray  # (T, 3) int64
    kidx: np.ndarray  # (T,) int64


def _dim_phases(k: int, s: int, p: int, d: int) -> list[list[tuple[int, int]]]:
    """For each residue r in [0, s): the taps (k, delta) reaching outputs o = r + s*m."""
    phases = []
    for r in range(s):
        taps = []
        for kk in range(k):
            num = r + p - kk * d
            if num % s == 0:
                taps.append((kk, num // s))
        phases.append(taps)
    return phases


def make_phases(kernel, stride, padding, dilation) -> Phases:
    per_dim = [_dim_phases(*args) for args in zip(kernel, stride, padding, dilation)]
    KH, KW = kernel[1], kernel[2]
    residues, starts, deltas, kidx = [], [0], [], []
    for combo in itertools.product(*(range(s) for s in stride)):
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
    )


def _even_blocks(total: int, max_block: int, align: int) -> list[tuple[int, int]]:
    """Split range(total) into near-equal blocks of at most ~max_block, starts aligned."""
    if total <= 0:
        return []
    nb = max(1, math.ceil(total / max_block))
    size = math.ceil(math.ceil(total / nb) / align) * align
    return [(a, min(a + size, total)) for a in range(0, total, size)]


@dataclass(frozen=True)
class Schedule:
    """Tasks (rows: group, first phase, phases, co0, co1, j0, j1), grids, workspace sizes."""

    tasks: np.ndarray  # (ntasks, 7) int64
    mcount: np.ndarray  # (P, 3) int64
    kc: int
    mc: int
    nc: int
    kpanel: int
    macs: int


def phase_grid(phases: Phases, out_shape, stride) -> np.ndarray:
    """(P, 3): per phase and dimension, the number of m with residue + stride*m < O."""
    out_shape = np.asarray(out_shape, dtype=np.int64)
    stride_a = np.asarray(stride, dtype=np.int64)
    return np.maximum(0, (out_shape - phases.residue + stride_a - 1) // stride_a)


@dataclass(frozen=True)
class DirectSchedule:
    """Direct-kernel tasks (rows: n, output channel, row0, row1 of the flattened (od, oh))."""

    tasks: np.ndarray  # (ntasks, 4) int64
    mcount: np.ndarray  # (P, 3) int64
    macs: int


def make_direct_schedule(phases: Phases, batch, groups, cig, cog, out_shape,
                         stride) -> DirectSchedule:
    mcount = phase_grid(phases, out_shape, stride)
    ntaps = np.diff(phases.tap_start)
    macs = int((batch * np.prod(mcount, axis=1) * ntaps).sum()) * cig * cog * groups
    cout = groups * cog
    rows = int(out_shape[0]) * int(out_shape[1])
    per_plane = max(1, math.ceil(MIN_TASKS * 2 / (batch * cout)))
    blocks = np.asarray(_even_blocks(rows, math.ceil(rows / per_plane), 1), dtype=np.int64)
    n, c, r = np.meshgrid(np.arange(batch), np.arange(cout), np.arange(len(blocks)),
                          indexing="ij")
    n, c, r = n.ravel(), c.ravel(), r.ravel()
    tasks = np.stack([n, c, blocks[r, 0], blocks[r, 1]], axis=1).astype(np.int64)
    return DirectSchedule(tasks=tasks, mcount=mcount, macs=macs)


def make_schedule(phases: Phases, batch, groups, cig, cog, out_shape, stride) -> Schedule:
    """Tasks over (group, phase unit, column block, channel block).

    Phases come in groups of stride_w consecutive entries (same rd, rh; rw = 0 .. sw-1).  A
    task normally computes a whole group, so it writes whole output rows; when that leaves too
    few tasks for the threads, groups are split into single phases (no repeated packing), and
    only then are output channels split (each channel block packs the same input again).
    """
    sw = int(stride[2])
    mcount = phase_grid(phases, out_shape, stride)
    ntaps = np.diff(phases.tap_start)
    ncols_all = batch * np.prod(mcount, axis=1)
    macs = int((ncols_all * ntaps).sum()) * cig * cog * groups
    kmax = int((ntaps * cig).max()) if len(ntaps) else 0

    def units_for(size):
        heads = np.arange(0, len(ntaps), size)
        ncols = ncols_all[heads]
        live = ncols > 0
        heads, ncols = heads[live], ncols[live]
        kpanel = max([1] + [int((ntaps[p:p + size] * cig + 1).sum()) for p in heads])
        nc = min(NC_MAX, max(NR, PANEL_FLOATS // kpanel // NR * NR,
                             min(NC_MIN, PANEL_FLOATS_MAX // kpanel // NR * NR)))
        blocks = [np.asarray(_even_blocks(int(n), nc, NR), dtype=np.int64) for n in ncols]
        return heads, blocks, kpanel

    nph = sw
    heads, col_blocks, kpanel = units_for(sw)
    if sw > 1 and groups * sum(len(b) for b in col_blocks) < MIN_TASKS:
        nph = 1
        heads, col_blocks, kpanel = units_for(1)
    col_tasks = groups * sum(len(b) for b in col_blocks)
    n_co = min(math.ceil(cog / MR), max(1, math.ceil(MIN_TASKS / max(col_tasks, 1))))
    co_blocks = np.asarray(_even_blocks(cog, math.ceil(cog / n_co), MR),
                           dtype=np.int64).reshape(-1, 2)
    parts = []
    for p, cb in zip(heads, col_blocks):
        # Every (group, column block, channel block) of this phase unit, group slowest.
        g, j, c = np.meshgrid(np.arange(groups), np.arange(len(cb)), np.arange(len(co_blocks)),
                              indexing="ij")
        g, j, c = g.ravel(), j.ravel(), c.ravel()
        parts.append(np.stack([g, np.full_like(g, p), np.full_like(g, nph), co_blocks[c, 0],
                               co_blocks[c, 1], cb[j, 0], cb[j, 1]], axis=1))
    nc = max([NR] + [int((b[:, 1] - b[:, 0]).max()) for b in col_blocks])
    nc = math.ceil(nc / NR) * NR
    mc = min(MC, math.ceil(int((co_blocks[:, 1] - co_blocks[:, 0]).max()) / MR) * MR)
    tasks = np.concatenate(parts) if parts else np.zeros((0, 7), dtype=np.int64)
    return Schedule(tasks=tasks, mcount=mcount, kc=max(1, min(KC, kmax)), mc=mc, nc=nc,
                    kpanel=kpanel, macs=macs)
