"""The ``python -m convt`` command line: ``bench`` (the benchmark), ``info`` (the build),
``upsample`` (a zarr volume through a transposed convolution, chunk by chunk) and
``--version``."""

import argparse
import sys


def info():
    import numpy as np

    from . import __version__, _engine
    isa, why = _engine.isa()
    print(f"convt {__version__} (numpy {np.__version__})")
    print(f"ISA tier: {isa} ({why}); force one with {_engine.ISA_ENV}=NAME")
    for t in _engine.tiers():
        mark = "*" if t["name"] == isa else " "
        state = "available" if t["available"] else "not on this CPU"
        needs = ", ".join(t["features"]) or "nothing"
        print(f"  {mark} {t['name']:<11} {state:<15} needs {needs}; kernels {t['f32']}, "
              f"{t['q8']}")
    print(f"OpenMP: {'enabled' if _engine.openmp_enabled() else 'not compiled in (serial)'}; "
          f"default threads: {_engine.max_threads()}")
    b = _engine.build_info()
    print(f"built with: {b['compiler']} {b['flags']}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("OpenMP runtime: (install threadpoolctl to see which library is loaded)")
    else:
        for lib in threadpool_info():
            if lib.get("user_api") == "openmp":
                print(f"OpenMP runtime: {lib.get('internal_api')} {lib.get('version') or ''} "
                      f"{lib.get('filepath')} ({lib.get('num_threads')} threads)")


def parser():
    """The top-level parser.  ``bench`` takes no arguments here: everything after it goes to
    :func:`convt._bench.main`, which has its own parser (and ``--help``)."""
    from . import _upsample
    from ._version import __version__
    ap = argparse.ArgumentParser(
        prog="python -m convt",
        description="convt: fast, exact transposed convolution on NumPy arrays.",
        epilog="'python -m convt COMMAND --help' describes a command's options.")
    ap.add_argument("--version", action="version", version=f"convt {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "bench", add_help=False,
        help="benchmark convt against the installed peers (torch, onnxruntime, openvino) "
             "on the reference shapes; 'bench --help' lists its options and the shape names")
    sub.add_parser(
        "info", help="describe this build: version, ISA tiers and kernels, OpenMP and threads",
        description="Describe this build: version, ISA tiers and kernels, OpenMP and threads, "
                    "compiler flags.")
    _upsample.add_parser(sub)
    return ap


def main(argv=None):
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit
    status (argparse exits with status 2 on a usage error)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = parser()
    if argv[:1] == ["bench"]:  # verbatim, in order, to the benchmark's own parser
        args, rest = argparse.Namespace(command="bench"), argv[1:]
    else:
        args, rest = ap.parse_known_args(argv)
    if args.command == "bench":
        from . import _bench
        _bench.main(rest)
        return 0
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "info":
        info()
        return 0
    if args.command == "upsample":
        from . import _upsample
        return _upsample.run(args)
    ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
