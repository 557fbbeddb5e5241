"""convt beside another OpenMP user in one process, and threadpoolctl's per-thread limits.

On macOS the wheel vendors LLVM's libomp and so does torch's: two copies of the runtime in one
process abort with "OMP: Error #15: Initializing libomp.dylib, but found libomp.dylib already
initialized".  The wheel workflow (.github/workflows/wheels.yml) installs torch beside the
macOS wheel and runs this file with CONVT_REQUIRE_TORCH=1, so a missing torch fails instead of
skipping.  The check runs without ``KMP_DUPLICATE_LIB_OK``: that variable only silences the
abort and lets two runtimes run side by side (oversubscription, crashes, wrong results); it is
not a fix.  Elsewhere (Linux: convt and torch both load libgomp) the same check runs when torch
is installed.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

import convt

HAVE_TORCH = importlib.util.find_spec("torch") is not None
REQUIRE_TORCH = os.environ.get("CONVT_REQUIRE_TORCH", "0") == "1"

# Both libraries run parallel regions on 2 threads, interleaved, in the order given; results
# are compared through Python lists so an older torch built against NumPy 1.x works too.
SCRIPT = textwrap.dedent("""
    import sys
    first = sys.argv[1]
    if first == "torch":
        import torch
        import numpy as np
        import convt
    else:
        import numpy as np
        import convt
        import torch

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 12, 12), dtype=np.float32)
    w = rng.standard_normal((8, 4, 3, 3), dtype=np.float32)
    b = rng.standard_normal(4, dtype=np.float32)
    tx, tw, tb = (torch.tensor(a.tolist(), dtype=torch.float32) for a in (x, w, b))
    for i in range(3):
        if first == "torch":
            with torch.no_grad():
                ref = torch.nn.functional.conv_transpose2d(tx, tw, tb, stride=2, padding=1)
        y = convt.conv_transpose2d(x, w, b, stride=2, padding=1, num_threads=2)
        if first != "torch":
            with torch.no_grad():
                ref = torch.nn.functional.conv_transpose2d(tx, tw, tb, stride=2, padding=1)
        # torch's own threads: a large enough matmul to go parallel
        torch.mm(torch.ones(256, 256), torch.ones(256, 256))
        ref = np.array(ref.tolist(), dtype=np.float32)
        assert y.shape == ref.shape, (y.shape, ref.shape)
        err = float(np.abs(y - ref).max())
        assert err <= 1e-4 * max(1.0, float(np.abs(ref).max())), err
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        for lib in threadpool_info():
            if lib.get("user_api") == "openmp":
                print("openmp runtime:", lib.get("filepath"))
    print("ok", torch.__version__, convt.__version__)
""")


@pytest.mark.skipif(not HAVE_TORCH and not REQUIRE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("first", ["convt", "torch"])
def test_convt_and_torch_in_one_process(first):
    assert HAVE_TORCH, "CONVT_REQUIRE_TORCH=1 but torch is not importable"
    env = {k: v for k, v in os.environ.items() if k != "KMP_DUPLICATE_LIB_OK"}
    r = subprocess.run([sys.executable, "-c", SCRIPT, first], capture_output=True, text=True,
                       timeout=300, env=env, cwd=os.path.expanduser("~"))
    assert "OMP: Error" not in r.stderr, r.stderr
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "ok" in r.stdout


@pytest.mark.skipif(not convt.openmp_enabled(), reason="built without OpenMP")
def test_threadpoolctl_limit_is_per_calling_thread():
    """OpenMP's thread count is a per-thread setting: a threadpoolctl limit applies to convt
    calls made from the thread that set it, not to calls from other threads (as README says)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def in_new_thread(fn):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(fn).result()

    def limited():
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            return convt.max_threads()

    default = in_new_thread(convt.max_threads)  # a new thread starts from the default
    if default < 2:
        pytest.skip("OpenMP's default is one thread here")
    assert in_new_thread(limited) == 1
    before = convt.max_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert convt.max_threads() == 1
        if sys.platform != "win32":  # MSVC's vcomp (OpenMP 2.0) may keep one global count
            assert in_new_thread(convt.max_threads) == default
    assert convt.max_threads() == before
