"""OpenMP pool: visible to threadpoolctl, limited by it, results independent of it; calls from
several Python threads at once."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import assert_matches_reference

import convt

threadpoolctl = pytest.importorskip("threadpoolctl")

needs_openmp = pytest.mark.skipif(not convt.openmp_enabled(), reason="built without OpenMP")


@needs_openmp
def test_threadpoolctl_sees_and_limits_openmp():
    info = threadpoolctl.threadpool_info()
    assert any(i["user_api"] == "openmp" for i in info), info
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert convt.max_threads() == 1
    assert convt.max_threads() >= 1


@needs_openmp
def test_threadpoolctl_limit_two():
    with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
        assert convt.max_threads() == 2


def test_without_openmp_single_thread():
    if convt.openmp_enabled():
        assert convt.max_threads() >= 1
    else:
        assert convt.max_threads() == 1


@needs_openmp
def test_omp_num_threads_is_honoured():
    env = dict(os.environ, OMP_NUM_THREADS="3")
    res = subprocess.run([sys.executable, "-c", "import convt; print(convt.max_threads())"],
                         env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "3"


@pytest.mark.parametrize("groups,cout", [(1, 40), (48, 48), (2, 12)])  # GEMM, direct, grouped
def test_results_identical_under_limits(groups, cout):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 48, 17, 19)).astype(np.float32)
    w = rng.standard_normal((48, cout // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = convt.conv_transpose2d(x, w, b, stride=2, groups=groups)
    with threadpoolctl.threadpool_limits(limits=1):
        y1 = convt.conv_transpose2d(x, w, b, stride=2, groups=groups)
    with threadpoolctl.threadpool_limits(limits=2):
        y2 = convt.conv_transpose2d(x, w, b, stride=2, groups=groups)
    assert np.array_equal(y, y1) and np.array_equal(y, y2)
    assert_matches_reference(y, x, w, b, stride=2, groups=groups)


def test_module_results_identical_under_limits():
    rng = np.random.default_rng(6)
    m = convt.ConvTranspose3d(16, 20, 3, stride=2, padding=1, rng=0)
    x = rng.standard_normal((2, 16, 7, 8, 9)).astype(np.float32)
    y = m(x)
    with threadpoolctl.threadpool_limits(limits=1):
        y1 = m(x)
    assert np.array_equal(y, y1)


def test_concurrent_python_threads():
    """Several Python threads share one layer (and its cached plans) without interference."""
    rng = np.random.default_rng(0)
    m = convt.ConvTranspose2d(32, 24, 4, stride=2, padding=1, rng=0)
    md = convt.ConvTranspose2d(16, 16, 3, stride=2, groups=16, rng=1)
    xs = [rng.standard_normal((2, 32, 10 + i, 13 + i % 3)).astype(np.float32)
          for i in range(8)]
    xds = [rng.standard_normal((2, 16, 10 + i, 13 + i % 3)).astype(np.float32)
           for i in range(8)]
    ref = [m(x, num_threads=1) for x in xs]
    refd = [md(x, num_threads=1) for x in xds]
    with ThreadPoolExecutor(4) as ex:
        for _ in range(3):
            res = list(ex.map(m, xs))
            resd = list(ex.map(md, xds))
            assert all(np.array_equal(a, b) for a, b in zip(res, ref))
            assert all(np.array_equal(a, b) for a, b in zip(resd, refd))
    assert_matches_reference(ref[3], xs[3], m.weight, m.bias, stride=2, padding=1)
