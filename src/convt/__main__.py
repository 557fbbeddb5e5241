"""``python -m convt bench [...]`` runs the benchmark; ``python -m convt info`` describes the build."""

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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "bench":
        from . import _bench
        _bench.main(rest)
    elif cmd == "info":
        info()
    else:
        print(f"unknown command {cmd!r}; use 'bench' or 'info'", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
