"""OpenMP pool: visible to threadpoolctl, limited by it, results independent of it."""

import numpy as np
import pytest

import convt

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.mark.skipif(not convt.openmp_enabled(), reason="built without OpenMP")
def test_threadpoolctl_sees_and_limits_openmp():
    info = threadpoolctl.threadpool_info()
    assert any(i["user_api"] == "openmp" for i in info), info
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert convt.max_threads() == 1
    assert convt.max_threads() >= 1


def test_results_identical_under_limits():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 48, 17, 19)).astype(np.float32)
    w = rng.standard_normal((48, 40, 3, 3)).astype(np.float32)
    y = convt.conv_transpose2d(x, w, stride=2)
    with threadpoolctl.threadpool_limits(limits=1):
        y1 = convt.conv_transpose2d(x, w, stride=2)
    assert np.array_equal(y, y1)
