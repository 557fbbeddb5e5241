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
    layer.scale = 0.1
    if what == "weight":  # weight() is the caller's QTensor
        with pytest.raises(ValueError, match="overlap"):
            layer(x, out=out)
    else:  # the layer holds its own copy of the bias: writing over the caller's is harmless
        keep = layer.bias().copy()
        want = QF.conv_transpose1d(x, w, keep, scale=0.1, zero_point=0).int_repr()
        np.testing.assert_array_equal(layer(x, out=out).int_repr(), want)
        np.testing.assert_array_equal(layer.bias(), keep)
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


# ------------------------------------------------------------------ bounded direct scratch
def _scratch_after(fn):
    """Bytes of per-thread scratch a call leaves behind, measured in a fresh thread (the
    scratch is thread-local, so earlier calls of the suite do not count)."""
    import threading
    seen = {}

    def run():
        fn()
        seen["n"] = convt._engine.scratch_nbytes()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return seen["n"]


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("cog", [1, 8])  # direct kernel, GEMM
def test_scratch_does_not_grow_with_the_row(quantized, cog):
    """A long 1-D row: the scratch is a fixed tile per thread (the direct kernel's was 5x the
    output in the issue), far below the output's size."""
    n = 1 << 22
    stride, threads = 4, 2
    if quantized:
        x = convt.QTensor(np.full((1, 2, n // stride), 3, np.uint8), 0.1, 1)
        w = convt.QTensor(np.ones((2, cog, 4), np.int8), 0.1, 0)
        fn = lambda: QF.conv_transpose1d(x, w, stride=stride, groups=2, scale=0.1,
                                         zero_point=0, num_threads=threads)
    else:
        x = np.ones((1, 2, n // stride), np.float32)
        w = np.ones((2, cog, 4), np.float32)
        fn = lambda: convt.conv_transpose1d(x, w, stride=stride, groups=2,
                                            num_threads=threads)
    used = _scratch_after(fn)
    out_nbytes = n * 2 * cog * (1 if quantized else 4)
    assert 0 < used < out_nbytes / 8, used
    if cog <= convt._plan.DIRECT_MAX_COG:
        bound = threads * (convt._plan.DIRECT_TILE_ELEMS + 64) * 4 + 128
    else:
        bound = threads * 2 * convt._plan.PANEL_BYTES_MAX
    assert used <= bound, used


def test_a_single_long_row_is_split_across_threads():
    """One channel, one row: the direct schedule still has tasks for every thread."""
    x = np.ones((1, 1, 1 << 16), np.float32)
    pw = convt.functional.pack_weight(np.ones((1, 1, 3), np.float32),
                                      convt._args.make_geometry(1, 2, 0, 0, 1, 1))
    assert pw.direct
    sched, _ = pw.schedule(1, (1, 1, x.shape[2]), (1, 1, 2 * x.shape[2] + 1))
    assert len(sched.tasks) >= convt._plan.MIN_TASKS
    # the tasks cover the row's W grid without overlap
    spans = sorted((int(t[5]), int(t[6])) for t in sched.tasks)
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("stride,kernel,dilation,padding", [
    (1, 3, 1, 1), (2, 4, 1, 1), (3, 7, 2, 2), (5, 3, 1, 0), (4, 9, 1, 3)])
def test_w_tiling_does_not_change_a_bit(monkeypatch, rng, quantized, stride, kernel,
                                        dilation, padding):
    """The same call with the smallest W tile (many tiles per row, partial ones at the
    end) gives the same bytes as with the default tile: sums never depend on the tiling."""
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=3)
    if quantized:
        x = convt.QTensor(rng.integers(0, 256, (2, 3, 5, 301), dtype=np.uint8), 0.05, 7)
        w = convt.QTensor(rng.integers(-128, 128, (3, 2, 2, kernel), dtype=np.int8), 0.01, 0)
        b = rng.standard_normal(6).astype(np.float32)
        call = lambda: QF.conv_transpose2d(x, w, b, scale=0.3, zero_point=100,
                                           **args).int_repr()
    else:
        x = rng.standard_normal((2, 3, 5, 301)).astype(np.float32)
        w = rng.standard_normal((3, 2, 2, kernel)).astype(np.float32)
        b = rng.standard_normal(6).astype(np.float32)
        call = lambda: convt.conv_transpose2d(x, w, b, **args)
    default = call()
    monkeypatch.setattr(convt._plan, "DIRECT_TILE_ELEMS", 16)
    tiled = call()
    np.testing.assert_array_equal(tiled, default)
    if not quantized:
        np.testing.assert_allclose(default, conv_transpose_naive(x, w, b, **args),
                                   rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ degenerate scales
@pytest.mark.parametrize("kw,match", [
    (dict(sx=1e-45), "scale"), (dict(sw=1e-40), "scale"), (dict(scale=1e-39), "scale"),
    (dict(sx=1e-20, sw=1e-20), "input's scale times the weight's scale"),
    (dict(scale=1e38), "divided by scale"),
    (dict(bias=1e37), "bias"), (dict(bias=np.nan), "bias must be finite"),
    (dict(bias=np.inf), "bias must be finite"),
    (dict(bias=1e8, requant="qnnpack"), "int32"),
])
def test_degenerate_scales_and_bias_terms_are_value_errors(kw, match):
    """Scales whose products, quotients or bias terms leave the normal float32 range make
    requantization meaningless (the issue saw garbage for sx = 1e-45): a ValueError."""
    p = dict(sx=0.02, sw=0.004, scale=0.05, bias=None, requant="fbgemm")
    p.update(kw)

    def call():
        x = convt.QTensor(np.full((1, 2, 3), 10, np.uint8), p["sx"], 0)
        w = convt.QTensor(np.ones((2, 2, 3), np.int8), p["sw"], 0)
        b = None if p["bias"] is None else np.array([p["bias"], 0.0], np.float32)
        return QF.conv_transpose1d(x, w, b, scale=p["scale"], zero_point=3,
                                   requant=p["requant"])

    with pytest.raises(ValueError, match=match):
        call()


def test_per_channel_scales_must_be_normal():
    with pytest.raises(ValueError, match="scales must be positive normal"):
        convt.QTensor(np.zeros((2, 3), np.int8), [0.1, 1e-42, 2.0], [0, 0, 0], axis=1)
    with pytest.raises(TypeError, match="scales must be real numbers"):
        convt.QTensor(np.zeros((2, 3), np.int8), ["a", "b", "c"], [0, 0, 0], axis=1)


# ------------------------------------------------------------------ unaligned arrays
def _unaligned(a):
    """A copy of ``a`` whose data starts one byte past an aligned address."""
    buf = np.empty(a.nbytes + 1, np.uint8)
    u = buf[1:].view(a.dtype).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


@pytest.mark.parametrize("which", ["input", "weight", "bias"])
@pytest.mark.parametrize("cout", [1, 8])  # direct and GEMM paths
def test_unaligned_float_arrays_are_handled(rng, which, cout):
    """Views at odd byte offsets never reach the kernels (undefined behaviour in C): the
    result equals the aligned call bit for bit."""
    arrs = dict(input=rng.standard_normal((2, 4, 9)).astype(np.float32),
                weight=rng.standard_normal((4, cout, 3)).astype(np.float32),
                bias=rng.standard_normal(cout).astype(np.float32))
    ref = convt.conv_transpose1d(arrs["input"], arrs["weight"], arrs["bias"], stride=2)
    arrs[which] = _unaligned(arrs[which])
    y = convt.conv_transpose1d(arrs["input"], arrs["weight"], arrs["bias"], stride=2)
    np.testing.assert_array_equal(y, ref)
    layer = convt.ConvTranspose1d(4, cout, 3, stride=2)
    layer.weight, layer.bias = arrs["weight"], arrs["bias"]
    np.testing.assert_array_equal(layer(arrs["input"]), ref)


def test_unaligned_out_is_a_value_error():
    out = _unaligned(np.zeros((1, 2, 5), np.float32))
    with pytest.raises(ValueError, match="out must be aligned"):
        convt.conv_transpose1d(np.ones((1, 1, 3), np.float32), np.ones((1, 2, 3), np.float32),
                               out=out)


# ------------------------------------------------------------------ errors naming the argument
@pytest.mark.parametrize("arg", ["input", "weight", "bias"])
@pytest.mark.parametrize("value,exc", [
    ("abc", TypeError), ([[1.0, "x"]], TypeError), ([[1.0], [1.0, 2.0]], TypeError),
    (object(), TypeError), ({"a": 1}, TypeError)])
def test_unconvertible_arrays_name_the_argument(arg, value, exc):
    """NumPy's own messages ("could not convert string to float", ragged sequences) name no
    argument; convt's do."""
    args = dict(input=np.ones((1, 2, 3), np.float32), weight=np.ones((2, 1, 3), np.float32),
                bias=None)
    args[arg] = value
    with pytest.raises(exc, match=arg):
        convt.conv_transpose1d(args["input"], args["weight"], args["bias"])


def test_quantize_unconvertible_input_names_it():
    with pytest.raises(TypeError, match="x"):
        convt.quantize_per_tensor([["a"]], 0.1, 0)
    with pytest.raises(TypeError, match="int_repr"):
        convt.QTensor([[1], [1, 2]], 0.1, 0)


def test_unallocatable_output_is_a_memory_error_naming_it():
    """An output within the element bound but beyond any address space (2**46 float32
    elements, 256 TiB): a MemoryError naming the output, not NumPy's bare message."""
    x = np.ones((1, 1, 2**15), np.float32)
    w = np.ones((1, 1, 1), np.float32)
    with pytest.raises(MemoryError, match="cannot allocate the output"):
        convt.conv_transpose1d(x, w, stride=2**31 - 1)


@pytest.mark.parametrize("cls", [convt.ConvTranspose1d, convt.quantized.ConvTranspose1d])
def test_unallocatable_layer_weight_is_a_memory_error_naming_it(cls):
    """Each argument within bounds, their product beyond any memory: NumPy's "array is too
    big" becomes a MemoryError naming the weight."""
    with pytest.raises(MemoryError, match="cannot allocate the weight"):
        cls(2**31 - 1, 2**31 - 1, 3)


# ------------------------------------------------------------------ found by tests/test_fuzz.py
def _q(shape, dtype=np.uint8, scale=0.1):
    return convt.QTensor(np.zeros(shape, dtype), scale, 0)


@pytest.mark.parametrize("call", [
    lambda: convt.conv_transpose2d(np.zeros((1, 0, 1, 1), np.float32),
                                   np.zeros((0, 3, 2, 2), np.float32)),
    lambda: convt.conv_transpose1d(np.zeros((1, 0, 1), np.float32),
                                   np.zeros((0, 1, 1), np.float32), groups=2**31 - 1),
    lambda: QF.conv_transpose3d(_q((1, 0, 1, 1, 1)), _q((0, 3, 3, 3, 3), np.int8), scale=0.1,
                                zero_point=5),
], ids=["float", "huge-groups", "quantized"])
def test_zero_input_channels_are_a_value_error(call):
    """Zero input channels wrote past the output (heap corruption) or hung planning with a
    huge groups: a ValueError naming the input."""
    with pytest.raises(ValueError, match="input has 0 channels"):
        call()


@pytest.mark.parametrize("rng,exc", [(-1, ValueError), ("x", TypeError), (1.5, TypeError),
                                     (True, TypeError), (b"x", TypeError)])
@pytest.mark.parametrize("cls", [convt.ConvTranspose1d, convt.quantized.ConvTranspose1d])
def test_bad_rng_names_it(cls, rng, exc):
    with pytest.raises(exc, match="rng"):
        cls(2, 2, 3, rng=rng)


@pytest.mark.parametrize("value", [np.array(["zeros", "zeros"]), np.array(["zeros"]), ["zeros"]])
def test_padding_mode_must_be_a_string(value):
    with pytest.raises(ValueError, match="padding_mode"):
        convt.ConvTranspose1d(2, 2, 3, padding_mode=value)


@pytest.mark.parametrize("value", [np.array(["fbgemm", "qnnpack"]), np.array(["fbgemm"])])
def test_requant_must_be_a_string(value):
    with pytest.raises(ValueError, match="requant"):
        QF.conv_transpose1d(_q((1, 2, 3)), _q((2, 2, 3), np.int8), scale=0.1, zero_point=0,
                            requant=value)


@pytest.mark.parametrize("call", [
    lambda: convt.QTensor(np.zeros(3, np.uint8), 2**1024, 0),
    lambda: convt.quantize_per_tensor(np.zeros(3, np.float32), 2**1024, 0),
    lambda: QF.conv_transpose1d(_q((1, 2, 3)), _q((2, 2, 3), np.int8), scale=2**1024,
                                zero_point=0),
])
def test_int_scale_beyond_float64_is_a_value_error(call):
    with pytest.raises(ValueError, match="scale"):
        call()
