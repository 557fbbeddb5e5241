"""convt.dask (issue 12): chunked convolution of dask arrays, bitwise equal to one in-memory
call for every geometry and chunking; checks at graph construction; the num_threads rule;
the layers' apply_dask; a distributed cluster."""

import doctest
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import convt  # noqa: E402
import convt.dask  # noqa: E402
import convt.dask.quantized  # noqa: E402
from convt import _args, functional  # noqa: E402
from convt.dask import _threads  # noqa: E402
from convt.quantized import functional as qfunctional  # noqa: E402

# 40 examples a property (the file stays within a few seconds); more under a profile asking
# for more (HYPOTHESIS_PROFILE=long, see conftest.py)
_EXAMPLES = settings.default.max_examples
PROPERTY = settings(max_examples=40 if _EXAMPLES <= 50 else _EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(autouse=True)
def synchronous():
    """The synchronous scheduler wherever a test does not choose: threads are irrelevant to
    the results."""
    with dask.config.set(scheduler="synchronous"):
        yield


def assert_bitwise(actual, expected):
    """Equal bits: -0.0 differs from +0.0 and NaN payloads count."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    view = np.uint32 if expected.dtype == np.float32 else expected.dtype
    np.testing.assert_array_equal(actual.view(view), expected.view(view))


# ----------------------------------------------------------------------------- cases
@st.composite
def chunking(draw, n):
    """Chunk sizes summing to n: whole, all ones, or cut at random places."""
    kind = draw(st.sampled_from(["whole", "ones", "cuts"]))
    if kind == "whole" or n == 1:
        return (n,)
    if kind == "ones":
        return (1,) * n
    cuts = sorted(draw(st.lists(st.integers(1, n - 1), unique=True, max_size=4)))
    bounds = [0] + cuts + [n]
    return tuple(b - a for a, b in zip(bounds, bounds[1:]))


@st.composite
def geometry(draw, transposed):
    """(nd, geometry arguments as keywords, kernel, spatial size, groups, C_in, C_out),
    with a positive output."""
    nd = draw(st.integers(1, 3))
    ints = lambda lo, hi: tuple(draw(st.integers(lo, hi)) for _ in range(nd))  # noqa: E731
    kernel, stride, dilation = ints(1, 4), ints(1, 3), ints(1, 3)
    spatial = ints(1, {1: 13, 2: 7, 3: 5}[nd])
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    if transposed:
        output_padding = tuple(draw(st.integers(0, max(s, d) - 1))
                               for s, d in zip(stride, dilation))
        kw = dict(stride=stride, padding=ints(0, 3), output_padding=output_padding,
                  groups=groups, dilation=dilation)
        geom = _args.make_geometry(nd, stride, kw["padding"], output_padding, dilation, groups)
    else:
        padding = draw(st.one_of(st.sampled_from(["valid", "same"]), st.just(ints(0, 4))))
        if padding == "same":
            stride = (1,) * nd
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        geom = _args.make_conv_geometry(nd, stride, padding, dilation, groups)
    assume(all(o > 0 for o in geom.output_spatial_unchecked(spatial, kernel,
                                                            geom.output_padding)))
    return nd, kw, kernel, spatial, groups, cin, cout


def sprinkle(rng, a, fraction=0.1):
    """Put -0.0, inf, -inf and NaN in a few places of a float32 array."""
    flat = a.reshape(-1)
    where = rng.random(flat.size) < fraction
    flat[where] = rng.choice(np.array([-0.0, np.inf, -np.inf, np.nan], np.float32),
                             int(where.sum()))
    return a


def input_shape(spatial, cin, batch):
    return ((batch,) if batch else ()) + (cin,) + tuple(spatial)


def float_data(seed, nd, kernel, spatial, groups, cin, cout, transposed, batch, specials,
               bias):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(input_shape(spatial, cin, batch)).astype(np.float32)
    wshape = (cin, cout // groups) if transposed else (cout, cin // groups)
    w = rng.standard_normal(wshape + tuple(kernel)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    if specials:
        sprinkle(rng, x)
        sprinkle(rng, w, 0.05)
        if b is not None:
            b[0] = -0.0
    return x, w, b


def float_call(transposed, nd, dask_x, x, w, b, kw, num_threads=1):
    """(chunked result computed, the in-memory call's)."""
    name = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"
    y = getattr(convt.dask, name)(dask_x, w, b, **kw, num_threads=num_threads)
    return y, getattr(convt, name)(x, w, b, **kw)


# ----------------------------------------------------------------------------- float
@PROPERTY
@given(st.booleans(), st.data())
def test_float_bitwise_equal_to_one_call(transposed, data):
    nd, kw, kernel, spatial, groups, cin, cout = data.draw(geometry(transposed))
    batch = data.draw(st.sampled_from([None, 1, 2, 3]))
    x, w, b = float_data(data.draw(st.integers(0, 2**32 - 1)), nd, kernel, spatial, groups,
                         cin, cout, transposed, batch, data.draw(st.booleans()),
                         data.draw(st.booleans()))
    chunks = tuple(data.draw(chunking(n)) for n in x.shape)
    y, ref = float_call(transposed, nd, da.from_array(x, chunks=chunks), x, w, b, kw)
    assert y.shape == ref.shape and y.dtype == np.float32
    assert y.chunks[-nd - 1] == (ref.shape[-nd - 1],)  # channels whole
    assert_bitwise(y.compute(), ref)


# (kind, nd, x shape, chunks, weight shape, keywords): what random draws reach rarely
EXPLICIT = [
    # DCGAN upsampling: output chunks twice the input's
    ("t", 2, (2, 6, 8, 8), (1, 3, 3, 3), (6, 4, 4, 4), dict(stride=2, padding=1)),
    # chunks of 1 and smaller than the kernel's extent, dilation, output_padding
    ("t", 1, (1, 3, 11), (1, 1, 1), (3, 2, 5), dict(stride=3, padding=4, output_padding=2,
                                                     dilation=2)),
    # stride larger than the kernel: outputs no input reaches (bias only)
    ("t", 2, (1, 2, 5, 4), (1, 2, 2, 1), (2, 3, 1, 2), dict(stride=(4, 3), output_padding=(3, 2))),
    # padding cropping most of the output
    ("t", 3, (1, 2, 4, 4, 4), (1, 1, 1, 2, 3), (2, 2, 3, 3, 3), dict(stride=2, padding=2)),
    # grouped, MegEngine's weight layout (groups, C_in/g, C_out/g, *k)
    ("t", 1, (2, 4, 9), (2, 1, 4), (2, 2, 3, 3), dict(groups=2, stride=2)),
    # forward: padding larger than the kernel (outputs reading only zeros), chunks of 1
    ("f", 1, (1, 2, 6), (1, 2, 1), (3, 2, 2), dict(padding=5)),
    # forward 'same' with an even kernel and dilation (the odd padding after)
    ("f", 2, (1, 2, 7, 6), (1, 1, 2, 5), (2, 2, 4, 2), dict(padding="same", dilation=(1, 3))),
    # forward strided, 'valid', 3-D
    ("f", 3, (2, 2, 6, 5, 7), (1, 2, 2, 3, 1), (4, 1, 3, 2, 3), dict(stride=(2, 1, 3),
                                                                      groups=2)),
]


@pytest.mark.parametrize("kind,nd,shape,chunks,wshape,kw", EXPLICIT)
@pytest.mark.parametrize("specials", [False, True])
def test_float_explicit_cases(kind, nd, shape, chunks, wshape, kw, specials):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(wshape).astype(np.float32)
    b = rng.standard_normal(w.shape[0] if kind == "f" else
                            w.shape[-nd - 1] * kw.get("groups", 1)).astype(np.float32)
    if specials:  # non-finite weights meeting the forward zero padding give NaN there
        sprinkle(rng, x)
        sprinkle(rng, w, 0.2)
        b[0] = -0.0
    y, ref = float_call(kind == "t", nd, da.from_array(x, chunks=chunks), x, w, b, kw)
    assert_bitwise(y.compute(), ref)


def test_output_chunks_follow_input_chunks():
    w = np.ones((2, 2, 4, 4), np.float32)
    x = da.ones((3, 2, 12, 10), dtype=np.float32, chunks=(2, 1, (4, 8), 5))
    y = convt.dask.conv_transpose2d(x, w, stride=2, padding=1)
    assert y.chunks == ((2, 1), (2,), (8, 16), (10, 10))  # times the stride
    y = convt.dask.conv2d(x, w, stride=2, padding=1)
    assert y.chunks == ((2, 1), (2,), (2, 4), (3, 2))  # divided by it
    y = convt.dask.conv_transpose2d(x, np.ones((2, 2, 3, 3), np.float32), stride=2)
    assert y.chunks[2:] == ((8, 17), (10, 11))  # the last grown to the output's size
    unbatched = convt.dask.conv_transpose2d(x[0], w, stride=2, padding=1)
    assert unbatched.chunks == ((2,), (8, 16), (10, 10))


def test_channel_chunks_are_rechunked():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 9)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3)).astype(np.float32)
    y = convt.dask.conv_transpose1d(da.from_array(x, chunks=(1, 2, 4)), w, groups=3)
    assert y.chunks[1] == (6,)
    assert_bitwise(y.compute(), convt.conv_transpose1d(x, w, groups=3))


def test_graph_keeps_the_weights_it_was_built_with():
    x = np.ones((1, 2, 5), np.float32)
    w = np.ones((2, 2, 3), np.float32)
    y = convt.dask.conv1d(da.from_array(x, chunks=(1, 2, 2)), w, padding=1)
    expected = convt.conv1d(x, w, padding=1)
    w[:] = 5
    assert_bitwise(y.compute(), expected)


# ----------------------------------------------------------------------------- quantized
def quantized_data(seed, nd, kernel, spatial, groups, cin, cout, transposed, batch,
                   per_channel, bias):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, input_shape(spatial, cin, batch), dtype=np.uint8)
    wshape = ((cin, cout // groups) if transposed else (cout, cin // groups)) + tuple(kernel)
    wi = rng.integers(-128, 128, wshape, dtype=np.int8)
    if per_channel:
        axis = 1 if transposed else 0
        n = wshape[axis]
        w = convt.QTensor(wi, rng.uniform(0.001, 0.01, n), rng.integers(-5, 5, n), axis=axis)
    else:
        w = convt.QTensor(wi, 0.004, int(rng.integers(-5, 5)))
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, w, b


def quantized_call(transposed, nd, dask_x, x, w, b, kw, q, num_threads=1):
    name = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"
    sx, zx, sy, zy, requant = q
    y = getattr(convt.dask.quantized, name)(dask_x, w, b, **kw, input_scale=sx,
                                            input_zero_point=zx, scale=sy, zero_point=zy,
                                            requant=requant, num_threads=num_threads)
    ref = getattr(qfunctional, name)(convt.QTensor(x, sx, zx), w, b, **kw, scale=sy,
                                     zero_point=zy, requant=requant)
    return y, ref.int_repr()


@PROPERTY
@given(st.booleans(), st.data())
def test_quantized_bitwise_equal_to_one_call(transposed, data):
    nd, kw, kernel, spatial, groups, cin, cout = data.draw(geometry(transposed))
    batch = data.draw(st.sampled_from([None, 1, 2]))
    x, w, b = quantized_data(data.draw(st.integers(0, 2**32 - 1)), nd, kernel, spatial, groups,
                             cin, cout, transposed, batch, data.draw(st.booleans()),
                             data.draw(st.booleans()))
    q = (data.draw(st.sampled_from([0.02, 0.1])), data.draw(st.integers(0, 255)),
         data.draw(st.sampled_from([0.05, 0.5])), data.draw(st.integers(0, 255)),
         data.draw(st.sampled_from(["fbgemm", "qnnpack"])))
    chunks = tuple(data.draw(chunking(n)) for n in x.shape)
    y, ref = quantized_call(transposed, nd, da.from_array(x, chunks=chunks), x, w, b, kw, q)
    assert y.dtype == np.uint8
    assert_bitwise(y.compute(), ref)


@pytest.mark.parametrize("kind,nd,shape,chunks,wshape,kw", EXPLICIT)
def test_quantized_explicit_cases(kind, nd, shape, chunks, wshape, kw):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    w = convt.QTensor(rng.integers(-128, 128, wshape, dtype=np.int8), 0.003, 2)
    if len(wshape) == nd + 3:  # the grouped layout is a float-only convenience
        w = convt.QTensor(w.int_repr().reshape((-1,) + wshape[2:]), 0.003, 2)
    y, ref = quantized_call(kind == "t", nd, da.from_array(x, chunks=chunks), x, w, None, kw,
                            (0.05, 7, 0.1, 100, "fbgemm"))
    assert_bitwise(y.compute(), ref)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_quantized_padding_mode(mode):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (1, 2, 7, 6), dtype=np.uint8)
    w = convt.QTensor(rng.integers(-128, 128, (3, 2, 3, 2), dtype=np.int8), 0.003, 0)
    kw = dict(stride=(1, 2), padding=(2, 1))
    y = convt.dask.quantized.conv2d(da.from_array(x, chunks=(1, 1, 3, 2)), w, None,
                                    padding_mode=mode, input_scale=0.05, input_zero_point=3,
                                    scale=0.1, zero_point=9, **kw)
    ref = qfunctional.conv2d(convt.QTensor(x, 0.05, 3), w, None, padding_mode=mode, scale=0.1,
                             zero_point=9, **kw)
    assert_bitwise(y.compute(), ref.int_repr())


# ----------------------------------------------------------------------------- layers
FLOAT_LAYERS = [
    (convt.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, rng=0),
     (2, 4, 11), (1, 4, 3)),
    (convt.ConvTranspose2d(3, 2, (4, 3), stride=(2, 1), dilation=(1, 2), rng=1),
     (3, 6, 5), (3, 2, 1)),
    (convt.ConvTranspose3d(2, 2, 2, stride=2, padding=1, rng=2), (1, 2, 4, 3, 5),
     (1, 2, 2, 1, 3)),
    (convt.Conv1d(2, 3, 3, padding="same", padding_mode="reflect", rng=3), (2, 2, 9),
     (1, 2, 4)),
    (convt.Conv2d(2, 4, 3, stride=2, padding=2, padding_mode="circular", groups=2, rng=4),
     (1, 2, 7, 6), (1, 2, 3, 2)),
    (convt.Conv2d(2, 2, (2, 3), padding=(1, 2), padding_mode="replicate", rng=5),
     (2, 5, 6), (1, 2, 5)),
    (convt.Conv3d(2, 2, 3, padding=1, rng=6), (1, 2, 4, 5, 3), (1, 1, 1, 2, 3)),
]


@pytest.mark.parametrize("layer,shape,chunks", FLOAT_LAYERS,
                         ids=[repr(m) for m, _, _ in FLOAT_LAYERS])
def test_float_layer_apply_dask(layer, shape, chunks):
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    y = layer.apply_dask(da.from_array(x, chunks=chunks), num_threads=1)
    assert_bitwise(y.compute(), layer(x))


def _quantized(float_layer):
    cls = getattr(convt.quantized, float_layer._class_name())
    return cls.from_float(float_layer, input_scale=0.05, input_zero_point=20, output_scale=0.1,
                          output_zero_point=128, weight_qscheme="per_channel")


@pytest.mark.parametrize("layer,shape,chunks", FLOAT_LAYERS,
                         ids=[repr(m) for m, _, _ in FLOAT_LAYERS])
def test_quantized_layer_apply_dask(layer, shape, chunks):
    qm = _quantized(layer)
    x = np.random.default_rng(10).integers(0, 256, shape, dtype=np.uint8)
    y = qm.apply_dask(da.from_array(x, chunks=chunks), input_scale=0.05, input_zero_point=20,
                      num_threads=1)
    assert_bitwise(y.compute(), qm(convt.QTensor(x, 0.05, 20)).int_repr())


def test_apply_dask_checks_eagerly():
    m = convt.Conv1d(2, 2, 3, padding=3, padding_mode="reflect", rng=0)
    with pytest.raises(ValueError, match="padding_mode='reflect' needs padding smaller"):
        m.apply_dask(da.ones((1, 2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="expected in_channels=2|input channels"):
        convt.ConvTranspose1d(2, 2, 3, rng=0).apply_dask(da.ones((1, 3, 5), dtype=np.float32))
    qm = _quantized(convt.Conv1d(2, 2, 3, rng=0))
    with pytest.raises(TypeError, match="input must hold uint8"):
        qm.apply_dask(da.ones((1, 2, 5), dtype=np.float32), input_scale=0.1,
                      input_zero_point=0)
    with pytest.raises(ValueError, match="input_zero_point"):
        qm.apply_dask(da.ones((1, 2, 5), dtype=np.uint8), input_scale=0.1,
                      input_zero_point=256)


def test_dynamic_layer_apply_dask_not_implemented():
    m = convt.quantized.dynamic.ConvTranspose1d.from_float(convt.ConvTranspose1d(2, 2, 3,
                                                                                 rng=0))
    with pytest.raises(NotImplementedError, match="whole input"):
        m.apply_dask(da.ones((1, 2, 5), dtype=np.uint8), input_scale=0.1, input_zero_point=0)


# ----------------------------------------------------------------------------- errors
X = da.ones((1, 2, 6, 6), dtype=np.float32, chunks=(1, 1, 3, 3))
W = np.ones((2, 3, 3, 3), np.float32)


def _same_error(lazy, eager, exc):
    """``lazy`` (building a graph) raises what the in-memory ``eager`` raises."""
    with pytest.raises(exc) as want:
        eager()
    with pytest.raises(exc) as got:
        lazy()
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("kw,exc", [
    (dict(weight=np.ones((3, 3, 3, 3), np.float32)), ValueError),  # input channels
    (dict(weight=np.ones((2, 3, 3), np.float32)), ValueError),  # kernel dimensions
    (dict(padding=-1), ValueError),
    (dict(padding=(1, 2, 3)), ValueError),
    (dict(stride=0), ValueError),
    (dict(output_padding=2), ValueError),
    (dict(groups=3), ValueError),
    (dict(padding=9), ValueError),  # no output left
    (dict(bias=np.ones(4, np.float32)), ValueError),
    (dict(stride=1.5), TypeError),
])
def test_transposed_errors_at_construction(kw, exc):
    kw = dict(dict(weight=W), **kw)
    _same_error(lambda: convt.dask.conv_transpose2d(X, **kw),
                lambda: convt.conv_transpose2d(np.ones(X.shape, np.float32), **kw), exc)


@pytest.mark.parametrize("kw,exc", [
    (dict(padding="full"), ValueError),
    (dict(padding="same", stride=2), ValueError),
    (dict(weight=np.ones((3, 1, 3, 3), np.float32)), ValueError),  # C_in/groups
    (dict(padding=(1, -1)), ValueError),
    (dict(dilation=4), ValueError),  # kernel extent past the padded input
])
def test_forward_errors_at_construction(kw, exc):
    kw = dict(dict(weight=W.swapaxes(0, 1).copy()), **kw)
    _same_error(lambda: convt.dask.conv2d(X, **kw),
                lambda: convt.conv2d(np.ones(X.shape, np.float32), **kw), exc)


def test_input_errors_at_construction():
    with pytest.raises(TypeError, match="input must hold float32"):
        convt.dask.conv_transpose2d(X.astype(np.float64), W)
    with pytest.raises(TypeError, match="input must be a dask.array.Array"):
        convt.dask.conv_transpose2d(np.ones((1, 2, 6, 6), np.float32), W)
    with pytest.raises(ValueError, match="input must have 3 .* or 4"):
        convt.dask.conv_transpose2d(X[0, 0], W)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        convt.dask.conv_transpose2d(X[X[:, :1, :1, :1].ravel() > 0], W)
    with pytest.raises(ValueError, match="num_threads"):
        convt.dask.conv_transpose2d(X, W, num_threads=0)


def test_quantized_errors_at_construction():
    xq = da.zeros((1, 2, 5), dtype=np.uint8)
    w = convt.QTensor(np.ones((2, 2, 3), np.int8), 0.01, 0)
    q = dict(input_scale=0.1, input_zero_point=0, scale=0.1, zero_point=0)
    with pytest.raises(TypeError, match="input must hold uint8"):
        convt.dask.quantized.conv_transpose1d(xq.astype(np.int8), w, **q)
    with pytest.raises(TypeError, match="weight must be a convt.QTensor"):
        convt.dask.quantized.conv_transpose1d(xq, np.ones((2, 2, 3), np.int8), **q)
    with pytest.raises(ValueError, match="input_scale"):
        convt.dask.quantized.conv1d(xq, w, **dict(q, input_scale=-1.0))
    with pytest.raises(ValueError, match="requant"):
        convt.dask.quantized.conv1d(xq, w, **q, requant="onednn")
    with pytest.raises(ValueError, match="padding_mode"):
        convt.dask.quantized.conv1d(xq, w, padding=1, padding_mode="mirror", **q)
    _same_error(lambda: convt.dask.quantized.conv_transpose1d(xq, w, padding=4, **q),
                lambda: qfunctional.conv_transpose1d(convt.QTensor(np.zeros(xq.shape, np.uint8),
                                                                   0.1, 0), w, padding=4,
                                                     scale=0.1, zero_point=0), ValueError)


# ----------------------------------------------------------------------------- threads
def _spy(monkeypatch, module, name="run"):
    """Record the num_threads each block's call of ``module.name`` gets (``run``: the engine
    call both an exact block and an in-memory call make)."""
    seen = []
    real = getattr(module, name)
    signature = inspect.signature(real)

    def spy(*args, **kwargs):
        seen.append(signature.bind(*args, **kwargs).arguments["num_threads"])
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def test_num_threads_rule(monkeypatch):
    seen = _spy(monkeypatch, functional)
    x = da.ones((2, 2, 8), dtype=np.float32, chunks=(1, 2, 4))
    y = convt.dask.conv_transpose1d(x, np.ones((2, 2, 3), np.float32))
    y.compute(scheduler="synchronous")  # the main thread: all cores, OpenMP's default
    assert seen == [None] * 4
    seen.clear()
    y.compute(scheduler="threads")  # one task per core already
    assert seen == [1] * 4
    seen.clear()
    convt.dask.conv_transpose1d(x, np.ones((2, 2, 3), np.float32), num_threads=3).compute(
        scheduler="threads")
    assert seen == [3] * 4  # an explicit count passes through
    qseen = _spy(monkeypatch, qfunctional)
    convt.dask.quantized.conv1d(x.astype(np.uint8), convt.QTensor(np.ones((2, 2, 3), np.int8),
                                                                  0.1, 0),
                                input_scale=0.1, input_zero_point=0, scale=1.0, zero_point=0
                                ).compute(scheduler="threads")
    assert qseen == [1] * 4


def test_host_cores():
    assert 1 <= _threads.host_cores() <= (os.cpu_count() or 1)


def test_num_threads_in_a_child_process(monkeypatch):
    """The multiprocessing scheduler's processes (one per core) get 1 thread each."""
    assert _threads.task_threads(None) is None  # the main thread of the main process
    monkeypatch.setattr(_threads.multiprocessing, "parent_process", lambda: object())
    assert _threads.task_threads(None) == 1
    assert _threads.task_threads(5) == 5


def test_worker_threads_fall_back_to_its_own(monkeypatch):
    """A worker whose scheduler cannot be asked counts its own threads (and caches them)."""
    class Worker:
        address = "tcp://10.1.2.3:4567"
        loop = None  # distributed's sync() fails on it
        scheduler = None

        class state:
            nthreads = 3

    pytest.importorskip("distributed")
    monkeypatch.setattr(_threads, "_host_threads", {})
    monkeypatch.setattr(_threads, "_distributed_worker", lambda: Worker())
    monkeypatch.setattr(_threads, "host_cores", lambda: 8)
    assert _threads.task_threads(None) == 2  # 8 // 3
    assert _threads._host_threads == {Worker.address: 3}


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_distributed_bitwise_and_threads(client, monkeypatch):
    """Through a Client: the same bits; each block gets cores // (dask threads on the host)
    (8 cores pretended, one worker of 2 threads: 4)."""
    monkeypatch.setattr(_threads, "host_cores", lambda: 8)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    w = rng.standard_normal((3, 2, 4, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    want = convt.conv_transpose2d(x, w, b, stride=2, padding=1)
    seen = _spy(monkeypatch, functional)  # the blocks' calls only
    y = convt.dask.conv_transpose2d(da.from_array(x, chunks=(1, 3, 4, 3)), w, b, stride=2,
                                    padding=1)
    assert_bitwise(client.compute(y).result(), want)
    assert seen and set(seen) == {4}
    xq = rng.integers(0, 256, (2, 3, 9, 7), dtype=np.uint8)
    wq = convt.QTensor(rng.integers(-128, 128, (2, 3, 3, 3), dtype=np.int8), 0.004, 1)
    yq = convt.dask.quantized.conv2d(da.from_array(xq, chunks=(2, 1, 2, 5)), wq, padding=1,
                                     input_scale=0.05, input_zero_point=3, scale=0.1,
                                     zero_point=50)
    ref = qfunctional.conv2d(convt.QTensor(xq, 0.05, 3), wq, padding=1, scale=0.1,
                             zero_point=50)
    assert_bitwise(client.compute(yq).result(), ref.int_repr())


# ----------------------------------------------------------------------------- packaging
def test_docstring_examples():
    for module in (convt.dask, convt.dask.quantized):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0


def test_dask_is_optional():
    """``import convt`` does not import dask; ``import convt.dask`` without dask says how to
    install it."""
    code = """if True:
        import sys
        import convt
        assert "dask" not in sys.modules, "import convt imported dask"
        sys.modules["dask"] = None  # as if not installed
        try:
            import convt.dask
        except ImportError as e:
            assert "pip install 'convt[dask]'" in str(e), str(e)
        else:
            raise AssertionError("no ImportError")
    """
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr
