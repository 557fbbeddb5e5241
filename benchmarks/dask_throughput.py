"""Throughput of ``convt.dask`` against one in-memory call at equal thread count (issue 12's
target: the chunked version reaches at least 80% of the single call's throughput).

    python benchmarks/dask_throughput.py [--threads T] [--chunk C] [--reps R] [--json PATH]

Two cases on an in-memory volume: float32 ``ConvTranspose3d(32, 16, 3, stride=2, padding=1,
output_padding=1)`` on ``(1, 32, 64, 64, 64)``, and the same layer quantized (uint8
activations x int8 weights, zero point 0, fbgemm requantization).  Each is timed as

* ``single``: one call of the in-memory function with ``num_threads=T`` (allocating its
  output, as a user calls it);
* ``dask``: ``convt.dask``'s function on ``dask.array.from_array(x, chunks=C^3 spatially)``,
  built and stored into a preallocated NumPy array (``dask.array.store``, what ``to_zarr``
  does with each block) by the local threaded scheduler with ``T`` workers and its default
  ``num_threads`` (1 per task there);
* ``dask compute``: the same, but ``.compute()``, which also concatenates the blocks into a
  new array (one more pass over the output).

Each system runs one untimed call, then ``R`` timed ones, the systems taking turns (so a
shared machine's load drifts over all of them alike); the median is reported as GF/s
(GOP/s for int8: 2 * N * C_in * C_out/groups * prod(kernel) * prod(input spatial)) with the
ratio to ``single``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import convt

try:
    import dask
    import dask.array as da
    import convt.dask
    import convt.dask.quantized
except ImportError as e:  # an optional extra
    raise SystemExit(f"dask_throughput needs convt.dask: pip install 'convt[dask]' ({e})")


@dataclass(frozen=True)
class Case:
    name: str
    cin: int = 32
    cout: int = 16
    spatial: tuple[int, int, int] = (64, 64, 64)
    kernel: int = 3
    hyper: tuple[tuple[str, Any], ...] = (("stride", 2), ("padding", 1), ("output_padding", 1))
    quantized: bool = False

    def flops(self) -> float:
        return 2.0 * self.cin * self.cout * self.kernel ** 3 * math.prod(self.spatial)


CASES = [Case("f32 ConvTranspose3d 32->16 k3 s2 (1, 32, 64^3)"),
         Case("int8 ConvTranspose3d 32->16 k3 s2 (1, 32, 64^3)", quantized=True)]

# Quantization parameters of the int8 case: activations <= 127 (as PyTorch's observers make
# them), symmetric int8 weights, an output scale that keeps most values inside uint8.
X_SCALE, W_SCALE, Y_SCALE, Y_ZERO = 0.01, 0.002, 0.05, 128


def systems(case: Case, threads: int,
            chunk: tuple[int, int, int]) -> tuple[dict[str, Callable[[], Any]], Callable[[], Any]]:
    """The timed callables (``single``, ``dask``, ``dask compute``) of ``case``, and a check
    that ``dask`` stored what ``single`` computes."""
    rng = np.random.default_rng(0)
    hyper = dict(case.hyper)
    shape = (1, case.cin) + case.spatial
    w = (rng.standard_normal((case.cin, case.cout) + (case.kernel,) * 3, dtype=np.float32)
         * 0.05)
    b = rng.standard_normal(case.cout, dtype=np.float32)
    chunks = (1, case.cin) + chunk
    if case.quantized:
        x = rng.integers(0, 128, shape, dtype=np.uint8)
        qx = convt.QTensor(x, X_SCALE, 0)
        qw = convt.quantize_per_tensor(w, W_SCALE, 0, np.int8)
        q = dict(scale=Y_SCALE, zero_point=Y_ZERO)

        def single() -> Any:
            return convt.quantized.functional.conv_transpose3d(
                qx, qw, b, num_threads=threads, **hyper, **q).int_repr()

        def lazy() -> Any:
            return convt.dask.quantized.conv_transpose3d(
                da.from_array(x, chunks=chunks), qw, b, input_scale=X_SCALE,
                input_zero_point=0, **hyper, **q)
    else:
        x = rng.standard_normal(shape, dtype=np.float32)

        def single() -> Any:
            return convt.conv_transpose3d(x, w, b, num_threads=threads, **hyper)

        def lazy() -> Any:
            return convt.dask.conv_transpose3d(da.from_array(x, chunks=chunks), w, b, **hyper)

    y = lazy()
    out = np.empty(y.shape, y.dtype)

    def stored() -> None:
        da.store(lazy(), out, lock=False, scheduler="threads", num_workers=threads)

    def computed() -> Any:
        return lazy().compute(scheduler="threads", num_workers=threads)

    def check() -> None:
        if not np.array_equal(out, single()):
            raise AssertionError(f"{case.name}: the dask result differs from the single call")

    return {"single": single, "dask": stored, "dask compute": computed}, check


def median_seconds(timed: dict[str, Callable[[], Any]], reps: int) -> dict[str, float]:
    """Each callable's median time over ``reps`` rounds, the systems taking turns within a
    round (a shared machine's load then weighs on all of them alike), after one untimed call
    each (first touch of the output pages, the weights' packing, dask's thread pool)."""
    for fn in timed.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(reps):
        for name, fn in timed.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _chunk(text: str) -> tuple[int, int, int]:
    """``--chunk``: ``C`` (C^3) or ``D,H,W``."""
    sizes = tuple(int(v) for v in text.split(","))
    if len(sizes) == 1:
        sizes *= 3
    if len(sizes) != 3 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--chunk wants C or D,H,W (positive), got {text!r}")
    return sizes  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2,
                    help="threads of the single call and dask workers (default: 2)")
    ap.add_argument("--chunk", type=_chunk, default=(32, 32, 32),
                    help="the dask input's spatial chunk size: one size for every axis, or "
                         "D,H,W (default: 32; 16,64,64 gives slabs whole in H and W)")
    ap.add_argument("--reps", type=int, default=7, help="timed calls per system (default: 7)")
    ap.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    args = ap.parse_args(argv)
    print(f"convt {convt.__version__}, ISA {convt.isa()[0]}, dask {dask.__version__}; "
          f"{args.threads} threads / dask workers, input chunks {'x'.join(map(str, args.chunk))} spatially, "
          f"median of {args.reps}")
    rows = []
    for case in CASES:
        timed, check = systems(case, args.threads, args.chunk)
        seconds = median_seconds(timed, args.reps)
        check()
        unit = "GOP/s" if case.quantized else "GF/s"
        rate = {name: case.flops() / s / 1e9 for name, s in seconds.items()}
        print(f"\n{case.name}")
        for name, s in seconds.items():
            ratio = rate[name] / rate["single"]
            print(f"  {name:<13} {s * 1e3:8.1f} ms {rate[name]:7.1f} {unit}  {ratio:5.2f}x")
        rows.append(dict(case=case.name, seconds=seconds, rate=rate, unit=unit,
                         ratio=rate["dask"] / rate["single"]))
    result = dict(threads=args.threads, chunk=args.chunk, reps=args.reps, rows=rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
