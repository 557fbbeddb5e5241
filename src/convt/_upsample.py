"""``python -m convt upsample``: a float transposed convolution of a zarr volume, chunk by chunk.

Reads a zarr array ``(N, C, *spatial)`` (1 to 3 spatial axes) lazily with dask, applies
``convt.dask.conv_transpose{1,2,3}d`` with a weight from a ``.npy`` file (or random weights
for a demonstration) and writes the result to a zarr store with :func:`dask.array.to_zarr`
under dask's progress bar.  Only a few chunks (with their halos) are in memory at a time,
never the volume.  dask and zarr are imported only when the command runs, so the rest of
``python -m convt`` works without them.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from typing import Any

PROG = "python -m convt upsample"

_FLOAT_DTYPES = ("float16", "float32", "float64")


class UsageError(Exception):
    """A problem with the command's arguments or input files: reported in one line, exit 2."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``upsample`` sub-command (its options and their help) on ``sub``, the
    top-level parser's sub-parsers; returns the new parser."""
    ap: argparse.ArgumentParser = sub.add_parser(
        "upsample",
        help="up-sample a zarr volume with a float transposed convolution, chunk by chunk "
             "(dask), writing to zarr with a progress bar; 'upsample --help' lists its options",
        description="Apply a float ConvTranspose1d/2d/3d (chosen by the input's number of "
                    "axes) to a zarr array of shape (N, C, *spatial) and write the result to a "
                    "zarr store, chunk by chunk with dask: only a few chunks and their halos "
                    "are in memory at a time, never the volume. Needs dask and zarr "
                    "(pip install 'convt[dask]').",
        epilog="Example: python -m convt upsample in.zarr out.zarr --random-weights 8 3 "
               "--stride 2 --padding 1 --output-padding 1 --chunks 64")
    ap.add_argument("input", metavar="INPUT",
                    help="the input zarr store (a directory or URL) holding a float array of "
                         "shape (N, C, *spatial) with 1 to 3 spatial axes")
    ap.add_argument("output", metavar="OUTPUT",
                    help="the zarr store to write (created; see --overwrite)")
    ap.add_argument("--component", metavar="NAME", default=None,
                    help="the array's path inside INPUT when INPUT is a zarr group "
                         "(default: the group's only array)")
    ap.add_argument("--output-component", metavar="NAME", default=None,
                    help="write the result as array NAME inside the OUTPUT group (default: "
                         "OUTPUT is the array itself)")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace an existing array at OUTPUT (or at --output-component); "
                         "without it an existing array is an error")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--weight", metavar="W.npy",
                     help="the weight, a .npy file of layout (C_in, C_out/groups, *kernel) as "
                          "torch.nn.ConvTranspose*d's, with as many axes as the input")
    src.add_argument("--random-weights", nargs=2, type=int, metavar=("C_OUT", "K"),
                     help="instead of --weight: a layer with C_OUT output channels, kernel K "
                          "along every axis, and torch's default random initialisation "
                          "(weight and bias; seeded by --seed), for demonstrations")
    ap.add_argument("--bias", metavar="B.npy", default=None,
                    help="the bias, a .npy file of C_out values (default: none with --weight, "
                         "the random one with --random-weights)")
    ap.add_argument("--seed", type=int, default=0,
                    help="the random generator's seed for --random-weights (default: 0)")
    for name, default, what in (
            ("stride", 1, "the stride: one value for every spatial axis or one per axis"),
            ("padding", 0, ("the padding removed from each side of the output, as torch's "
                            "padding=: one value or one per axis")),
            ("output-padding", 0, ("extra output size on the high side, as torch's "
                                   "output_padding=: one value or one per axis")),
            ("dilation", 1, "the kernel dilation: one value or one per axis")):
        ap.add_argument(f"--{name}", nargs="+", type=int, default=[default], metavar="N",
                        help=f"{what} (default: {default})")
    ap.add_argument("--groups", type=int, default=1,
                    help="the number of channel groups; C_in and C_out must be multiples of "
                         "it (default: 1)")
    ap.add_argument("--chunks", nargs="+", type=int, default=None, metavar="N",
                    help="read the input in chunks of this spatial size (one value for every "
                         "axis or one per axis; default: the zarr array's own chunks). "
                         "Channels are always whole in a chunk; the output's chunks are the "
                         "input's times the stride")
    ap.add_argument("--workers", type=int, default=None, metavar="N",
                    help="dask worker threads, each computing one chunk at a time (default: "
                         "dask's, the number of cores)")
    ap.add_argument("--num-threads", type=int, default=None, metavar="N",
                    help="OpenMP threads per chunk (default: convt.dask's, 1 per worker "
                         "thread under this local scheduler)")
    ap.add_argument("--no-progress", action="store_true",
                    help="do not show dask's progress bar")
    return ap


# ------------------------------------------------------------------------------- the input
def _import_dask() -> tuple[Any, Any]:
    """``(dask.array, zarr)``, or a UsageError saying how to install what is missing."""
    import importlib.util
    missing = [m for m in ("dask", "zarr") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"upsample needs {' and '.join(missing)}: "
                         "pip install 'convt[dask]'")
    import dask.array as da
    import zarr
    return da, zarr


def _is_local(path: str) -> bool:
    return "://" not in path


def open_input(zarr: Any, path: str, component: str | None) -> Any:
    """The zarr array at ``path`` (and ``component``), checked to be a float array of 3 to 5
    axes; a UsageError naming the path otherwise."""
    if _is_local(path) and not os.path.exists(path):
        raise UsageError(f"INPUT {path!r} does not exist")
    try:
        node = zarr.open(path, mode="r", path=component) if component else \
            zarr.open(path, mode="r")
    except (FileNotFoundError, ValueError, KeyError) as e:  # zarr's errors (2 and 3) among them
        where = f"{path!r}" + (f" (component {component!r})" if component else "")
        raise UsageError(f"INPUT {where} is not a zarr array or group: {e}") from None
    if isinstance(node, zarr.Group):
        names = sorted(node.array_keys())
        if len(names) != 1:
            raise UsageError(f"INPUT {path!r} is a zarr group with arrays {names}: name one "
                             "with --component")
        node = node[names[0]]
    if node.dtype.name not in _FLOAT_DTYPES:
        raise UsageError(f"INPUT {path!r} has dtype {node.dtype}; upsample computes in float32 "
                         f"and takes a float array ({', '.join(_FLOAT_DTYPES)})")
    if not 3 <= node.ndim <= 5:
        raise UsageError(f"INPUT {path!r} has shape {node.shape}; expected (N, C, *spatial) "
                         "with 1 to 3 spatial axes (3 to 5 axes in all)")
    return node


def spatial_values(values: list[int] | None, nd: int, name: str) -> tuple[int, ...] | None:
    """One value per spatial axis from ``--name``'s list (one value means every axis)."""
    if values is None:
        return None
    if len(values) == 1:
        values = values * nd
    if len(values) != nd:
        raise UsageError(f"--{name} takes 1 or {nd} values for {nd} spatial axes, got "
                         f"{len(values)}: {values}")
    return tuple(values)


def input_chunks(z: Any, chunks: tuple[int, ...] | None) -> tuple[int, ...]:
    """The dask chunks to read: one sample, every channel, and ``chunks`` (default: the zarr
    array's own) spatially.  Channels must be whole in a chunk for the convolution."""
    if chunks is not None and min(chunks) < 1:
        raise UsageError(f"--chunks must be positive, got {list(chunks)}")
    spatial = chunks if chunks is not None else tuple(z.chunks[2:])
    return (1, z.shape[1]) + tuple(min(c, s) for c, s in zip(spatial, z.shape[2:]))


# ------------------------------------------------------------------------------- the weight
def _load_npy(path: str, what: str) -> Any:
    import numpy as np
    if not os.path.exists(path):
        raise UsageError(f"--{what} {path!r} does not exist")
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--{what} {path!r} is not a .npy array: {e}") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
        raise UsageError(f"--{what} {path!r} must hold a float array, got dtype "
                         f"{getattr(a, 'dtype', type(a).__name__)}")
    return a.astype(np.float32, copy=False)


def weights(args: argparse.Namespace, c_in: int, nd: int) -> tuple[Any, Any]:
    """``(weight, bias)`` as float32 arrays (bias possibly None) from the files or from a
    randomly initialised layer."""
    import convt
    if args.weight is not None:
        w = _load_npy(args.weight, "weight")
        if w.ndim != nd + 2:
            raise UsageError(f"--weight {args.weight!r} has shape {w.shape}; the input has {nd} "
                             f"spatial axes, so the weight needs {nd + 2}: "
                             "(C_in, C_out/groups, *kernel)")
        b = None
    else:
        c_out, k = args.random_weights
        layer_class = getattr(convt, f"ConvTranspose{nd}d")
        try:
            layer = layer_class(c_in, c_out, k, groups=args.groups, rng=args.seed)
        except (TypeError, ValueError) as e:
            raise UsageError(f"--random-weights {c_out} {k}: {e}") from None
        w, b = layer.weight, layer.bias
    if args.bias is not None:
        b = _load_npy(args.bias, "bias")
    return w, b


# ------------------------------------------------------------------------------- the job
def regular_chunks(y: Any) -> Any:
    """``y`` rechunked, where needed, so every chunk but the last along each axis has one
    size, as a zarr array's chunks must (the padding can trim the first or last output
    chunk).  The size kept is each axis's most common one (the larger on a tie), so most
    chunks stay as computed and a new chunk joins at most two neighbours per axis: memory
    stays a few chunks.  dask's store then writes each zarr chunk from exactly one task."""
    def regular(c: tuple[int, ...]) -> bool:
        return len(set(c[:-1])) <= 1 and c[-1] <= c[0]
    if all(regular(c) for c in y.chunks):
        return y
    common = tuple(max(set(c), key=lambda n: (c.count(n), n)) for c in y.chunks)
    return y.rechunk(common)


def build(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """The lazy job: ``(x, y, hyper)``, the input and output dask arrays and the
    hyper-parameters; every check happens here, before anything is computed or written."""
    da, zarr = _import_dask()
    import numpy as np

    import convt.dask
    z = open_input(zarr, args.input, args.component)
    nd = z.ndim - 2
    hyper = dict(stride=spatial_values(args.stride, nd, "stride"),
                 padding=spatial_values(args.padding, nd, "padding"),
                 output_padding=spatial_values(args.output_padding, nd, "output-padding"),
                 dilation=spatial_values(args.dilation, nd, "dilation"),
                 groups=args.groups)
    chunks = input_chunks(z, spatial_values(args.chunks, nd, "chunks"))
    # from_zarr reads each dask chunk straight from the zarr chunks it overlaps: no rechunk
    # step holding several blocks.
    x = da.from_zarr(z, chunks=chunks)
    if x.dtype != np.float32:
        x = x.astype(np.float32)
    w, b = weights(args, z.shape[1], nd)
    if args.num_threads is not None and args.num_threads < 1:
        raise UsageError(f"--num-threads must be at least 1, got {args.num_threads}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    function = getattr(convt.dask, f"conv_transpose{nd}d")
    try:
        y = function(x, w, b, num_threads=args.num_threads, **hyper)
    except (TypeError, ValueError) as e:  # convt names the argument and the value
        raise UsageError(str(e)) from None
    hyper["kernel_size"] = tuple(w.shape[2:])
    return x, y, hyper


def _same_path(a: str, b: str) -> bool:
    return _is_local(a) and _is_local(b) and os.path.realpath(a) == os.path.realpath(b)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# glibc's mallopt parameter number and the size from which allocations get their own mapping.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 4 << 20


def release_freed_chunks() -> None:
    """Have glibc give chunk-sized buffers (4 MiB and more) their own mapping, returned to the
    OS when freed.  By default glibc raises that threshold to the largest block freed so far,
    after which every chunk buffer comes from the worker threads' heaps, whose freed space is
    kept and fragments: RSS then creeps up with the number of chunks written (measured by
    tests/test_dask_memory.py: 136 MiB above the imports for 1.1 GiB written, 184 MiB for 4.3
    GiB; with this, 85 and 121).
    Not glibc, or ``MALLOC_MMAP_THRESHOLD_`` set by the user: nothing is changed."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # musl has one too, which does nothing
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``upsample`` command; returns the exit status (0, or 2 for a usage
    error, 1 when writing fails), printing errors as one line without a traceback."""
    try:
        return _run(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: error: writing {args.output!r} failed: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    x, y, hyper = build(args)
    import dask
    import dask.array as da
    import zarr
    if _same_path(args.input, args.output) and args.output_component in (None,
                                                                         args.component):
        raise UsageError("OUTPUT is INPUT: write the result to another store or component")
    y = regular_chunks(y)
    try:
        # Creates the output array now, so a clash is reported before any work.  overwrite=
        # goes to zarr's create_array and replaces that array only, where mode="w" would clear
        # the whole store (a group's other arrays too).
        store = da.to_zarr(y, args.output, component=args.output_component, compute=False,
                           overwrite=args.overwrite)
    except (zarr.errors.ContainsArrayError, zarr.errors.ContainsGroupError):
        where = f"{args.output!r}" + (f" (component {args.output_component!r})"
                                      if args.output_component else "")
        raise UsageError(f"OUTPUT {where} already holds a zarr array or group; pass "
                         "--overwrite to replace it") from None
    nd = x.ndim - 2
    geometry = ", ".join(f"{k}={v}" for k, v in hyper.items())
    print(f"input  {args.input}: {x.shape} {x.dtype}, chunks {x.chunksize}")
    print(f"layer  ConvTranspose{nd}d({x.shape[1]}, {y.shape[1]}, {geometry})")
    print(f"output {args.output}: {y.shape} {y.dtype}, chunks {y.chunksize}, "
          f"{_fmt_bytes(y.nbytes)}")
    config = {"scheduler": "threads"}
    if args.workers is not None:
        config["num_workers"] = args.workers
    release_freed_chunks()
    start = time.perf_counter()
    with dask.config.set(config):
        if args.no_progress:
            store.compute()
        else:
            from dask.diagnostics import ProgressBar
            with ProgressBar():
                store.compute()
    seconds = max(time.perf_counter() - start, 1e-6)
    print(f"wrote {_fmt_bytes(y.nbytes)} in {seconds:.1f} s "
          f"({y.nbytes / seconds / 2**20:.0f} MiB/s)")
    return 0
