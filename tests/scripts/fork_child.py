import multiprocessing as mp
import sys
import warnings

import numpy as np

import convt

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 64, 24, 24)).astype(np.float32)
w = rng.standard_normal((64, 32, 4, 4)).astype(np.float32)


def child(q):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        y = convt.conv_transpose2d(x, w, stride=2, padding=1)   # default threads
    q.put((float(y.astype(np.float64).sum()), [str(r.message) for r in rec]))


if __name__ == "__main__":
    y = convt.conv_transpose2d(x, w, stride=2, padding=1, num_threads=2)  # parent uses OpenMP
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    p.join(float(sys.argv[1]) if len(sys.argv) > 1 else 60)
    if p.is_alive():
        p.kill()
        print("HANG")
        sys.exit(3)
    total, msgs = q.get(timeout=10)
    print("exit", p.exitcode, "ok" if abs(total - float(y.astype(np.float64).sum())) < 1e-3 * abs(total) + 1e-2 else "WRONG", msgs)
