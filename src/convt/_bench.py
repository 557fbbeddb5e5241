"""Benchmark: convt against its peers on the reference shapes, as % of the machine's peak.

Run with ``python -m convt bench`` (``--quick`` for a short run, ``--shapes`` to pick).
Peers are measured in the same run when importable: PyTorch (``torch.nn.functional`` for
float, ``torch.ao.nn.quantized`` for int8).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np

from . import _engine


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
    """A layer packs its weights once: measure that steady state, as a module call."""
    from .modules import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
    x, w, b = make_inputs(shape)
    cls = (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)[shape.nd - 1]
    m = cls(shape.cin, shape.cout, shape.kernel, **shape.params())
    m.weight, m.bias = w, b
    out = np.empty_like(m(x))
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


def convt_q8_runner(shape: Shape, threads: int):
    from . import quantized
    from .qtensor import quantize_per_tensor
    x, w, b = make_inputs(shape)
    qx = quantize_per_tensor(np.abs(x), 0.03, 0)
    cls = getattr(quantized, f"ConvTranspose{shape.nd}d")
    m = cls(shape.cin, shape.cout, shape.kernel, **shape.params())
    m.set_weight_bias(quantize_per_tensor(w, 0.002, 0, np.int8), b)
    m.scale, m.zero_point = 0.05, 128
    out = np.empty(m(qx).shape, np.uint8)
    return lambda: m(qx, out=out, num_threads=threads)


def torch_q8_runner(shape: Shape, threads: int):
    try:
        import torch
    except ImportError:
        return None
    import warnings
    engine = "qnnpack" if shape.nd == 1 else "fbgemm"
    if engine not in torch.backends.quantized.supported_engines:
        return None
    torch.backends.quantized.engine = engine
    torch.set_num_threads(threads)
    x, w, b = make_inputs(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qx = torch.quantize_per_tensor(torch.from_numpy(np.abs(x)), 0.03, 0, torch.quint8)
        qw = torch.quantize_per_tensor(torch.from_numpy(w), 0.002, 0, torch.qint8)
        m = getattr(torch.ao.nn.quantized, f"ConvTranspose{shape.nd}d")(
            shape.cin, shape.cout, shape.kernel, **shape.params())
        m.set_weight_bias(qw, torch.from_numpy(b))
    m.scale, m.zero_point = 0.05, 128

    def run():
        with torch.no_grad():
            return m(qx)
    return run


def _geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def run_int8(shapes=None, threads=None, quick=False, peers=True, printer=print,
             float_times=None):
    """int8 section: convt quantized vs PyTorch's quantized module (1-D QNNPACK, 2-D/3-D
    FBGEMM) and vs convt float, as GOP/s (2 per multiply-add) and % of the exact-int8 peak."""
    threads = threads or _engine.max_threads()
    min_time = 0.15 if quick else 0.5
    peak = _engine.peak_probe_int8(0.2 if quick else 0.5, threads)
    printer(f"int8: measured exact-int8 peak (vpmaddwd mix) {peak:.1f} GOP/s, {threads} threads")
    printer(f"{'shape':<14} {'convt GOP/s':>11} {'% peak':>7} {'ms':>8} {'torch-q GOP/s':>13} "
            f"{'convt/torch-q':>13} {'int8/f32':>9}")
    rows = []
    for shape in SHAPES:
        if shapes and shape.name not in shapes:
            continue
        t = time_fn(convt_q8_runner(shape, threads), min_time)
        gop = shape.flops() / t / 1e9
        row = dict(shape=shape.name, gops=gop, pct=100 * gop / peak, ms=t * 1e3)
        tr = torch_q8_runner(shape, threads) if peers else None
        tq = time_fn(tr, min_time) if tr is not None else None
        if tq:
            row.update(torch_gops=shape.flops() / tq / 1e9, ratio=tq / t)
        if float_times and shape.name in float_times:
            row["vs_float"] = float_times[shape.name] / t
        printer(f"{shape.name:<14} {gop:>11.1f} {row['pct']:>6.1f}% {t * 1e3:>8.3f} "
                f"{row.get('torch_gops', float('nan')):>13.1f} "
                f"{row.get('ratio', float('nan')):>12.2f}x {row.get('vs_float', float('nan')):>8.2f}x")
        rows.append(row)
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    if ratios:
        printer(f"geometric mean convt-int8/torch-int8 speed: {_geomean(ratios):.2f}x over "
                f"{len(ratios)} shapes")
    return dict(peak=peak, rows=rows)


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
        row = dict(shape=shape.name, convt_gflops=gf, convt_pct=100 * gf / peak, convt_ms=t * 1e3,
                   convt_s=t)
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
        printer(f"geometric mean convt/torch speed: {_geomean(ratios):.2f}x over "
                f"{len(ratios)} shapes")
    return dict(peak=peak, threads=threads, isa=isa, rows=rows)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m convt bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="short timings")
    ap.add_argument("--threads", type=int, default=None, help="threads (default: OpenMP's)")
    ap.add_argument("--shapes", nargs="*", help="shape names to run (default: all)")
    ap.add_argument("--no-peers", action="store_true", help="skip PyTorch")
    ap.add_argument("--section", choices=["all", "float", "int8"], default="all")
    args = ap.parse_args(argv)
    float_times = None
    if args.section in ("all", "float"):
        res = run(args.shapes, args.threads, args.quick, not args.no_peers)
        float_times = {r["shape"]: r["convt_s"] for r in res["rows"]}
    if args.section in ("all", "int8"):
        run_int8(args.shapes, args.threads, args.quick, not args.no_peers,
                 float_times=float_times)
