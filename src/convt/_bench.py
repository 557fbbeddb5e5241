"""Benchmark: convt against its peers on the reference shapes, as % of the machine's peak.

Run with ``python -m convt bench`` (``--quick`` for a short run, ``--shapes`` to pick).
Peers are measured in the same run when importable: PyTorch (``torch.nn.functional``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np

from . import _engine
from . import functional as F


@dataclass(frozen=True)
class Shape:
    name: str
    batch: int
    cin: int
    cout: int
    spatial: tuple
    kernel: tuple
    stride: tuple = None
    padding: tuple = None
    output_padding: tuple = None
    dilation: tuple = None
    groups: int = 1

    @property
    def nd(self):
        return len(self.spatial)

    def params(self):
        nd = self.nd
        return dict(stride=self.stride or (1,) * nd, padding=self.padding or (0,) * nd,
                    output_padding=self.output_padding or (0,) * nd,
                    dilation=self.dilation or (1,) * nd, groups=self.groups)

    def flops(self):
        """Useful FLOPs: 2 * N * C_in * C_out/groups * prod(kernel) * prod(input spatial)."""
        return (2 * self.batch * self.cin * (self.cout // self.groups) * math.prod(self.kernel)
                * math.prod(self.spatial))


def _t(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def _shape(name, n, cin, cout, spatial, k, s=1, p=0, op=0, d=1, g=1):
    nd = len(spatial)
    return Shape(name, n, cin, cout, tuple(spatial), _t(k, nd), _t(s, nd), _t(p, nd),
                 _t(op, nd), _t(d, nd), g)


SHAPES = [
    _shape("1d_vocoder_a", 1, 512, 256, (200,), 16, s=8, p=4),
    _shape("1d_vocoder_b", 1, 256, 128, (1600,), 16, s=8, p=4),
    _shape("1d_seed", 20, 16, 33, (50,), 3, s=2),
    _shape("2d_dcgan", 16, 256, 128, (16, 16), 4, s=2, p=1),
    _shape("2d_unet", 1, 128, 64, (128, 128), 2, s=2),
    _shape("2d_depthwise", 1, 64, 64, (128, 128), 4, s=2, p=1, g=64),
    _shape("3d_unet_k2", 1, 128, 64, (16, 16, 16), 2, s=2),
    _shape("3d_unet_k3", 1, 64, 32, (32, 32, 32), 3, s=2, p=1, op=1),
    _shape("3d_seed", 20, 16, 33, (10, 50, 100), (3, 5, 2), s=(2, 1, 1), p=(0, 4, 2)),
    _shape("3d_grouped", 2, 32, 32, (16, 16, 16), 3, s=2, p=1, op=1, g=4),
    _shape("3d_dilated", 1, 32, 16, (16, 16, 16), 3, p=2, d=2),
]


def make_inputs(shape: Shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((shape.batch, shape.cin) + shape.spatial, dtype=np.float32)
    w = rng.standard_normal((shape.cin, shape.cout // shape.groups) + shape.kernel,
                            dtype=np.float32) * 0.05
    b = rng.standard_normal(shape.cout, dtype=np.float32)
    return x, w, b


def time_fn(fn, min_time=0.3, min_reps=3, max_reps=200):
    """Median of repeated timings after one warm-up call; about ``min_time`` seconds in all."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < min_time
                                   and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def convt_runner(shape: Shape, threads: int):
    x, w, b = make_inputs(shape)
    fn = getattr(F, f"conv_transpose{shape.nd}d")
    geom_params = shape.params()
    # A layer packs its weights once; measure that steady state, like a module call.
    from .modules import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
    cls = (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)[shape.nd - 1]
    m = cls(shape.cin, shape.cout, shape.kernel, **geom_params)
    m.weight, m.bias = w, b
    out = np.empty_like(m(x))
    del fn
    return lambda: m(x, out=out, num_threads=threads)


def torch_runner(shape: Shape, threads: int):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    x, w, b = (torch.from_numpy(a) for a in make_inputs(shape))
    tf = getattr(torch.nn.functional, f"conv_transpose{shape.nd}d")
    p = shape.params()

    def run():
        with torch.no_grad():
            return tf(x, w, b, p["stride"], p["padding"], p["output_padding"], p["groups"],
                      p["dilation"])
    return run


def run(shapes=None, threads=None, quick=False, peers=True, printer=print):
    threads = threads or _engine.max_threads()
    min_time = 0.15 if quick else 0.5
    peak = _engine.peak_probe_f32(0.2 if quick else 0.5, threads)
    isa, why = _engine.isa()
    printer(f"convt benchmark: {threads} threads, ISA {isa} ({why}); "
            f"measured fp32 peak {peak:.1f} GF/s")
    header = f"{'shape':<14} {'convt GF/s':>10} {'% peak':>7} {'ms':>8}"
    if peers:
        header += f" {'torch GF/s':>10} {'% peak':>7} {'convt/torch':>11}"
    printer(header)
    rows = []
    for shape in SHAPES:
        if shapes and shape.name not in shapes:
            continue
        t = time_fn(convt_runner(shape, threads), min_time)
        gf = shape.flops() / t / 1e9
        row = dict(shape=shape.name, convt_gflops=gf, convt_pct=100 * gf / peak, convt_ms=t * 1e3)
        line = f"{shape.name:<14} {gf:>10.1f} {100 * gf / peak:>6.1f}% {t * 1e3:>8.3f}"
        tr = torch_runner(shape, threads) if peers else None
        if tr is not None:
            tt = time_fn(tr, min_time)
            tg = shape.flops() / tt / 1e9
            row.update(torch_gflops=tg, torch_pct=100 * tg / peak, ratio=tt / t)
            line += f" {tg:>10.1f} {100 * tg / peak:>6.1f}% {tt / t:>10.2f}x"
        printer(line)
        rows.append(row)
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    if ratios:
        gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        printer(f"geometric mean convt/torch speed: {gm:.2f}x over {len(ratios)} shapes")
    return dict(peak=peak, threads=threads, isa=isa, rows=rows)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m convt bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="short timings")
    ap.add_argument("--threads", type=int, default=None, help="threads (default: OpenMP's)")
    ap.add_argument("--shapes", nargs="*", help="shape names to run (default: all)")
    ap.add_argument("--no-peers", action="store_true", help="skip PyTorch")
    args = ap.parse_args(argv)
    run(args.shapes, args.threads, args.quick, not args.no_peers)
