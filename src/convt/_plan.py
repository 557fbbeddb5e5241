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
# Cache blocking: a KC x NC packed input block (L2), MC x KC weights streamed per block.
KC = 256
MC_MAX = 132
NC_MAX = 128
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
    """Tasks (rows: group, phase, co0, co1, j0, j1), phase grids and workspace sizes."""

    tasks: np.ndarray  # (ntasks, 6) int64
    mcount: np.ndarray  # (P, 3) int64
    kc: int
    mc: int
    nc: int
    macs: int


def make_schedule(phases: Phases, batch, groups, cig, cog, out_shape, stride) -> Schedule:
    out_shape = np.asarray(out_shape, dtype=np.int64)
    stride_a = np.asarray(stride, dtype=np.int64)
    # Number of m with r + s*m < O, per phase and dimension.
    mcount = np.maximum(0, (out_shape - phases.residue + stride_a - 1) // stride_a)
    ntaps = np.diff(phases.tap_start)
    co_blocks = np.asarray(_even_blocks(cog, MC_MAX, MR), dtype=np.int64).reshape(-1, 2)
    parts = []
    kmax = 0
    nc = NR
    macs = 0
    for p in range(len(ntaps)):
        ncols = batch * int(np.prod(mcount[p]))
        if ncols == 0:
            continue
        kmax = max(kmax, int(ntaps[p]) * cig)
        macs += ncols * int(ntaps[p]) * cig * cog * groups
        col_blocks = np.asarray(_even_blocks(ncols, NC_MAX, NR), dtype=np.int64)
        nc = max(nc, int((col_blocks[:, 1] - col_blocks[:, 0]).max()))
        # Every (group, column block, channel block) of this phase, group slowest.
        g, j, c = np.meshgrid(np.arange(groups), np.arange(len(col_blocks)),
                              np.arange(len(co_blocks)), indexing="ij")
        g, j, c = g.ravel(), j.ravel(), c.ravel()
        parts.append(np.stack([g, np.full_like(g, p), co_blocks[c, 0], co_blocks[c, 1],
                               col_blocks[j, 0], col_blocks[j, 1]], axis=1))
    nc = math.ceil(nc / NR) * NR
    mc = math.ceil(int((co_blocks[:, 1] - co_blocks[:, 0]).max()) / MR) * MR
    tasks = np.concatenate(parts) if parts else np.zeros((0, 6), dtype=np.int64)
    return Schedule(tasks=tasks, mcount=mcount, kc=max(1, min(KC, kmax)), mc=mc, nc=nc, macs=macs)
