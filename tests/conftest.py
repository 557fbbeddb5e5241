import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

from reference import conv_transpose_ref, error_bound  # noqa: E402

# Bounded property tests: the whole suite stays in the CI budget on 2 cores.
settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def assert_matches_reference(y, x, w, b=None, **params):
    """Compare a float32 result with the float64 reference within a per-element bound."""
    xb = x if x.ndim == w.ndim else x[None]
    ref = conv_transpose_ref(xb, w, b, **params)
    bound = error_bound(xb, w, b, **params)
    if x.ndim != w.ndim:
        ref, bound = ref[0], bound[0]
    assert y.dtype == np.float32
    assert y.shape == ref.shape, (y.shape, ref.shape)
    err = np.abs(y.astype(np.float64) - ref)
    assert np.all(err <= bound), f"max error {err.max()} (bound {bound.flat[np.argmax(err - bound)]})"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
