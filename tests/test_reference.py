"""The references themselves: the sliced reference against scalar loops over the definition,
the forward convolution as its adjoint, and the comparison helper's strictness.

If these fail, every comparison in the suite is suspect."""

import numpy as np
import pytest
from conftest import assert_matches_reference
from hypothesis import given
from hypothesis import strategies as st
from reference import conv_ref, conv_transpose_naive, conv_transpose_ref, out_size


@st.composite
def tiny_configs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    cig, cog = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d))
    sp = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    p = tuple(draw(st.integers(0, (out_size(i, kk, ss, 0, dd, o) - 1) // 2))
              for i, kk, ss, dd, o in zip(sp, k, s, d, op))
    return dict(nd=nd, groups=groups, cig=cig, cog=cog, k=k, s=s, d=d, op=op, sp=sp, p=p,
                seed=draw(st.integers(0, 2**31)))


@given(tiny_configs())
def test_reference_equals_scalar_definition(c):
    r = np.random.default_rng(c["seed"])
    x = r.standard_normal((2, c["cig"] * c["groups"]) + c["sp"])
    w = r.standard_normal((c["cig"] * c["groups"], c["cog"]) + c["k"])
    b = r.standard_normal(c["cog"] * c["groups"])
    kw = dict(stride=c["s"], padding=c["p"], output_padding=c["op"], groups=c["groups"],
              dilation=c["d"])
    ref = conv_transpose_ref(x, w, b, **kw)
    assert ref.shape[2:] == tuple(out_size(*a) for a in zip(c["sp"], c["k"], c["s"], c["p"],
                                                             c["d"], c["op"]))
    np.testing.assert_allclose(ref, conv_transpose_naive(x, w, b, **kw), rtol=1e-12,
                               atol=1e-12)


@given(tiny_configs())
def test_references_are_adjoint(c):
    """conv_ref (a loop over output positions) and conv_transpose_ref (a loop over taps) are
    written independently; each is the other's adjoint."""
    r = np.random.default_rng(c["seed"])
    x = r.standard_normal((1, c["cig"] * c["groups"]) + c["sp"])
    w = r.standard_normal((c["cig"] * c["groups"], c["cog"]) + c["k"])
    kw = dict(stride=c["s"], padding=c["p"], groups=c["groups"], dilation=c["d"])
    t = conv_transpose_ref(x, w, **kw)
    if t.size == 0 or min(t.shape[2:]) <= 0:
        return
    y = r.standard_normal(t.shape)
    lhs = np.sum(t * y)
    rhs = np.sum(x * conv_ref(y, w, in_spatial=c["sp"], **kw))
    assert abs(lhs - rhs) <= 1e-10 * (1 + np.sum(np.abs(t) * np.abs(y)))


def test_reference_known_values():
    """A hand-computed 1-d case: x = [1, 2], w = [1, 10, 100], stride 2, padding 1."""
    x = np.array([[[1.0, 2.0]]])
    w = np.array([[[1.0, 10.0, 100.0]]])
    # uncropped: [1, 10, 100+2, 20, 200]; padding 1 drops one at each end
    np.testing.assert_array_equal(conv_transpose_ref(x, w, stride=2, padding=1),
                                  [[[10.0, 102.0, 20.0]]])
    np.testing.assert_array_equal(
        conv_transpose_ref(x, w, np.array([0.5]), stride=2, padding=1, output_padding=1),
        [[[10.5, 102.5, 20.5, 200.5]]])
    # dilation 2: taps at 0, 2, 4 of each input, inputs 3 apart
    np.testing.assert_array_equal(conv_transpose_ref(x, w, stride=3, dilation=2),
                                  [[[1.0, 0.0, 10.0, 2.0, 100.0, 20.0, 0.0, 200.0]]])


def test_assert_matches_reference_is_strict(rng):
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3)).astype(np.float32)
    y = conv_transpose_ref(x, w, stride=2).astype(np.float32)
    assert_matches_reference(y, x, w, stride=2)
    bad = y.copy()
    bad[1, 1, 4] *= 1.001
    with pytest.raises(AssertionError):
        assert_matches_reference(bad, x, w, stride=2)
    with pytest.raises(AssertionError):  # wrong shape
        assert_matches_reference(y[..., :-1], x, w, stride=2)
    with pytest.raises(AssertionError):  # float64 result
        assert_matches_reference(y.astype(np.float64), x, w, stride=2)
    nan = y.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(AssertionError):
        assert_matches_reference(nan, x, w, stride=2)
