"""Reliability faults of issue 9 that are fixed, each with its reproducer: fork after threads,
re-entrant calls during a call, quantized out= overlapping the weight or bias."""

import multiprocessing as mp
import os
import subprocess
import sys

import numpy as np
import pytest

import convt
from convt.quantized import functional as QF
from reference import conv_transpose_naive

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="no fork on this platform")
def test_fork_after_threads_does_not_hang():
    """The parent runs OpenMP threads, then forks (the default start method on Linux): the
    child must finish, with the right result and one warning, instead of hanging in libgomp."""
    script = os.path.join(HERE, "scripts", "fork_child.py")
    res = subprocess.run([sys.executable, script, "60"], capture_output=True, text=True,
                         timeout=180, check=False)
    assert "HANG" not in res.stdout, res.stdout + res.stderr
    assert res.returncode == 0, res.stdout + res.stderr
    assert "exit 0 ok" in res.stdout
    assert "forked after convt used OpenMP threads" in res.stdout


class _ReentrantOut(np.ndarray):
    """An ndarray subclass whose views call convt while the outer call is being set up."""

    calls = 0

    def __array_finalize__(self, obj):
        if _ReentrantOut.calls < 3:
            _ReentrantOut.calls += 1
            # bigger than the outer call: the per-thread scratch buffer gets replaced
            convt.conv_transpose1d(np.ones((1, 64, 2000), np.float32),
                                   np.ones((64, 64, 8), np.float32), stride=4)


def test_reentrant_call_during_a_call(rng):
    """A call made from inside another (here from the out= array's __array_finalize__) must
    not free the scratch memory the outer call is about to use."""
    x = rng.standard_normal((1, 16, 300)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3)).astype(np.float32)
    ref = convt.conv_transpose1d(x, w, stride=2)
    out = np.empty(ref.shape, np.float32).view(_ReentrantOut)
    _ReentrantOut.calls = 0
    y = convt.conv_transpose1d(x, w, stride=2, out=out)
    assert _ReentrantOut.calls > 0  # the re-entry really happened
    assert y is out
    np.testing.assert_array_equal(np.asarray(y), ref)


@pytest.mark.parametrize("what", ["weight", "bias"])
def test_quantized_out_overlapping_weight_or_bias(what):
    buf = np.zeros(8192, np.uint8)
    x = convt.QTensor(np.full((1, 4, 5), 7, np.uint8), 0.1, 0)
    wq = np.ones((4, 6, 3), np.int8)
    bias = np.zeros(6, np.float32)
    if what == "weight":
        wq = buf[:72].view(np.int8).reshape(4, 6, 3)
        wq[...] = 1
    else:
        bias = buf[:24].view(np.float32)
    w = convt.QTensor(wq, 0.01, 0)
    out = buf[:6 * 7].reshape(1, 6, 7)
    with pytest.raises(ValueError, match="overlap"):
        QF.conv_transpose1d(x, w, bias, scale=0.1, zero_point=0, out=out)
    layer = convt.quantized.ConvTranspose1d(4, 6, 3)
    layer.set_weight_bias(w, bias)
    with pytest.raises(ValueError, match="overlap"):
        layer(x, out=out)
    # disjoint memory of the same buffer is fine
    ok = buf[4096:4096 + 42].reshape(1, 6, 7)
    assert QF.conv_transpose1d(x, w, bias, scale=0.1, zero_point=0, out=ok).int_repr() is ok


@pytest.mark.parametrize("arg", ["stride", "padding", "dilation", "output_padding"])
@pytest.mark.parametrize("value", [2**31, 2**63 - 1, 2**63, 2**64, -2**63])
def test_huge_hyper_parameters_are_value_errors(arg, value):
    """Values whose derived sizes could overflow int64 arithmetic: a ValueError naming the
    argument, never a wrapped (wrong) result or an OverflowError."""
    with pytest.raises(ValueError, match=arg):
        convt.conv_transpose1d(np.array([[[2.0]]], np.float32),
                               np.array([[[1.0, 10.0, 100.0]]], np.float32), **{arg: value})


def test_largest_stride_is_exact():
    y = convt.conv_transpose1d(np.array([[[2.0]]], np.float32),
                               np.array([[[1.0, 10.0, 100.0]]], np.float32), stride=2**31 - 1)
    np.testing.assert_array_equal(y, [[[2.0, 20.0, 200.0]]])
    q = QF.conv_transpose1d(convt.QTensor(np.array([[[3]]], np.uint8), 1.0, 0),
                            convt.QTensor(np.array([[[1, 2, 3]]], np.int8), 1.0, 0), None,
                            stride=2**31 - 1, scale=1.0, zero_point=0)
    np.testing.assert_array_equal(q.int_repr(), [[[3, 6, 9]]])


@pytest.mark.parametrize("kw", [dict(kernel_size=2**40), dict(in_channels=2**40),
                                dict(groups=2**33)])
def test_huge_layer_arguments_are_value_errors(kw):
    args = dict(in_channels=4, out_channels=4, kernel_size=3)
    args.update(kw)
    with pytest.raises(ValueError, match=next(iter(kw))):
        convt.ConvTranspose1d(**args)


def test_non_finite_weights_reach_only_the_outputs_they_feed():
    """The issue's reproducer: NaN in tap 0 of every output channel reaches outputs 0..2 only
    (as in torch and the definition), not all five through taps outside the input."""
    x = np.ones((1, 1, 3), np.float32)
    w = np.ones((1, 8, 3), np.float32)
    w[0, :, 0] = np.nan
    y = convt.conv_transpose1d(x, w)
    expect = np.array([np.nan, np.nan, np.nan, 2.0, 1.0], np.float32)
    np.testing.assert_array_equal(y[0], np.broadcast_to(expect, (8, 5)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["weight", "input", "bias"])
def test_non_finite_values_propagate_like_the_definition(rng, bad, where):
    x = rng.standard_normal((2, 6, 5, 7)).astype(np.float32)
    w = rng.standard_normal((6, 12, 3, 3)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    {"weight": w, "input": x, "bias": b}[where].reshape(-1)[3] = bad
    params = dict(stride=2, padding=1, output_padding=1)
    y = convt.conv_transpose2d(x, w, b, **params)
    ref = conv_transpose_naive(x, w, b, **params)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(y), np.isneginf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(y[fin], ref[fin], rtol=1e-4, atol=1e-4)
