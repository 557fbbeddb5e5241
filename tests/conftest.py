"""Shared helpers: the float64 comparison, seeded data, the hypothesis profile.

Nothing here imports torch: the torch comparisons live in files of their own that skip as a
whole when torch is missing.
"""

import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

from reference import conv_transpose_ref, error_bound  # noqa: E402

# Bounded property tests: the whole suite stays well inside the CI budget on 2 cores.
# HYPOTHESIS_PROFILE=long runs the same properties on many more examples.
settings.register_profile("ci", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def assert_close(actual, ref, bound):
    """``|actual - ref| <= bound`` element-wise, with a message locating the worst element."""
    actual = np.asarray(actual)
    assert actual.shape == ref.shape, (actual.shape, ref.shape)
    assert np.all(np.isfinite(actual)), "non-finite values in the result"
    err = np.abs(actual.astype(np.float64) - ref)
    excess = err - bound
    worst = np.unravel_index(int(np.argmax(excess)), ref.shape) if ref.size else ()
    assert np.all(excess <= 0), (
        f"max error {err.max()} at {worst}: got {actual[worst]}, expected {ref[worst]} "
        f"(bound {bound[worst]})")


def assert_matches_reference(y, x, w, b=None, **params):
    """Compare a float32 result with the float64 reference within a per-element bound.

    The bound is 1e-5 * (the same transposed convolution of |x|, |w|, |b|) + 1e-6: a few
    float32 ulps of the magnitude that actually flows into each output element, so it is
    tight where the sum is small and tolerant of cancellation where it is large.  ``x`` may be
    unbatched (one dimension fewer than ``w``); ``w`` is (C_in, C_out/groups, *kernel).
    """
    w = np.asarray(w)
    xb = x if x.ndim == w.ndim else x[None]
    ref = conv_transpose_ref(xb, w, b, **params)
    bound = error_bound(xb, w, b, **params)
    if x.ndim != w.ndim:
        ref, bound = ref[0], bound[0]
    assert y.dtype == np.float32, y.dtype
    assert_close(y, ref, bound)


def make_data(rng, nd, cin, cout, groups, kernel, batch=2, spatial=None, bias=True):
    """Seeded float32 (x, w, b); ``kernel`` an int or an nd-tuple, ``batch`` None: unbatched."""
    spatial = spatial or {1: (7,), 2: (5, 6), 3: (3, 4, 5)}[nd]
    kernel = (kernel,) * nd if np.isscalar(kernel) else tuple(kernel)
    lead = () if batch is None else (batch,)
    x = rng.standard_normal(lead + (cin,) + tuple(spatial)).astype(np.float32)
    w = rng.standard_normal((cin, cout // groups) + kernel).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, w, b


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
