"""What a user porting a model off PyTorch relies on (issue 10): pickling and copying used
layers, state_dict round trips (through .npz without torch, and with torch both ways), torch's
constructor signatures, clear errors for wrong objects, no silent conversions.  The torch
parts skip without torch."""

import concurrent.futures
import copy
import multiprocessing as mp
import pickle
import warnings

import numpy as np
import pytest

import convt
from reference import conv_transpose_naive

NDS = [1, 2, 3]
FLOAT = {1: convt.ConvTranspose1d, 2: convt.ConvTranspose2d, 3: convt.ConvTranspose3d}
QUANT = {1: convt.quantized.ConvTranspose1d, 2: convt.quantized.ConvTranspose2d,
         3: convt.quantized.ConvTranspose3d}


def _x(nd, rng, n=2, c=4):
    return rng.standard_normal((n, c) + (5, 4, 3)[:nd]).astype(np.float32)


def _qx(nd, rng, n=2, c=4):
    return convt.QTensor(rng.integers(0, 128, (n, c) + (5, 4, 3)[:nd], dtype=np.uint8), 0.02, 3)


def _used_layers(nd, rng):
    """A float and a quantized layer that have run (so they hold packed weights and plans)."""
    f = FLOAT[nd](4, 6, 3, stride=2, padding=1, groups=2, rng=1)
    q = QUANT[nd](4, 6, 3, stride=2, padding=1, groups=2, rng=1)
    q.scale, q.zero_point = 0.05, 100
    f(_x(nd, rng))
    q(_qx(nd, rng))
    return f, q


def _apply(layer, x):  # module level: picklable for the process pool
    y = layer(x)
    return y if isinstance(y, np.ndarray) else y.int_repr()


# ------------------------------------------------------------------ pickling and copying
@pytest.mark.parametrize("nd", NDS)
@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_used_layers_pickle_and_copy(rng, nd, how):
    """A layer that has run pickles and copies (its packed weights hold compiled plans,
    rebuilt after loading); the copy computes the same bytes and keeps weights read-only."""
    f, q = _used_layers(nd, rng)
    x, qx = _x(nd, rng), _qx(nd, rng)
    do = {"pickle": lambda m: pickle.loads(pickle.dumps(m)), "deepcopy": copy.deepcopy,
          "copy": copy.copy}[how]
    f2, q2 = do(f), do(q)
    np.testing.assert_array_equal(f2(x), f(x))
    np.testing.assert_array_equal(q2(qx).int_repr(), q(qx).int_repr())
    assert not f2.weight.flags.writeable
    assert repr(f2) == repr(f) and repr(q2) == repr(q)


def test_used_layer_in_a_spawned_process_pool(rng):
    """The README's advice for processes (spawn): a used layer goes to a worker whole."""
    f, q = _used_layers(2, rng)
    x, qx = _x(2, rng), _qx(2, rng)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
        yf, yq = ex.submit(_apply, f, x).result(), ex.submit(_apply, q, qx).result()
    np.testing.assert_array_equal(yf, f(x))
    np.testing.assert_array_equal(yq, q(qx).int_repr())


# ------------------------------------------------------------------ state_dict without torch
@pytest.mark.parametrize("nd", NDS)
@pytest.mark.parametrize("bias", [True, False])
def test_float_state_dict_round_trip_through_npz(tmp_path, rng, nd, bias):
    f = FLOAT[nd](4, 6, 3, stride=2, bias=bias, rng=1)
    sd = f.state_dict()
    assert list(sd) == (["weight", "bias"] if bias else ["weight"])
    np.savez(tmp_path / "m.npz", **sd)
    g = FLOAT[nd](4, 6, 3, stride=2, bias=bias, rng=2)
    assert not np.array_equal(g.weight, f.weight)
    g.load_state_dict(np.load(tmp_path / "m.npz"))
    x = _x(nd, rng)
    np.testing.assert_array_equal(g(x), f(x))


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_quantized_state_dict_round_trip_through_npz(tmp_path, rng, nd, per_channel, bias):
    q = QUANT[nd](4, 6, 3, stride=2, groups=2, bias=bias, rng=1)
    w = rng.integers(-128, 128, (4, 3) + (3,) * nd, dtype=np.int8)
    wq = (convt.QTensor(w, [0.01, 0.02, 0.03], [0, 0, 0], axis=1) if per_channel
          else convt.QTensor(w, 0.01, 0))
    q.set_weight_bias(wq, rng.standard_normal(6).astype(np.float32) if bias else None)
    q.scale, q.zero_point = 0.07, 9
    np.savez(tmp_path / "q.npz", **q.state_dict(format="npz"))
    r = QUANT[nd](4, 6, 3, stride=2, groups=2, bias=bias, rng=2)
    r.load_state_dict(np.load(tmp_path / "q.npz"))
    assert repr(r.weight()) == repr(wq)
    assert np.float32(r.scale) == np.float32(0.07) and r.zero_point == 9  # float32, as torch
    qx = _qx(nd, rng)
    np.testing.assert_array_equal(r(qx).int_repr(), q(qx).int_repr())
    with pytest.raises(ValueError, match="format"):
        q.state_dict(format="pickle")


def test_float_load_state_dict_checks_keys():
    f = convt.ConvTranspose1d(2, 3, 3, bias=False)
    w = np.zeros((2, 3, 3), np.float32)
    with pytest.raises(KeyError, match="unexpected"):
        f.load_state_dict({"weight": w, "bias": np.zeros(3, np.float32)})
    with pytest.raises(KeyError, match="missing"):
        convt.ConvTranspose1d(2, 3, 3).load_state_dict({"weight": w})
    with pytest.raises(ValueError, match="weight must have shape"):
        f.load_state_dict({"weight": np.zeros((2, 3, 4), np.float32)})
    f.load_state_dict({"weight": w, "extra": 1}, strict=False)
    np.testing.assert_array_equal(f.weight, w)


# ------------------------------------------------------------------ torch's signatures
@pytest.mark.parametrize("cls", [convt.ConvTranspose3d, convt.quantized.ConvTranspose3d])
def test_seed_signature_with_device_and_dtype(cls):
    m = cls(16, 33, 3, 2, 1, 1, 1, True, 1, "zeros", None, None)
    assert m.kernel_size == (3, 3, 3)
    cls(16, 33, 3, padding_mode="zeros", device="cpu", dtype=np.float32)
    with pytest.raises(ValueError, match="device"):
        cls(16, 33, 3, device="cuda")
    with pytest.raises(ValueError, match="dtype"):
        cls(16, 33, 3, dtype=np.int64)


@pytest.mark.parametrize("arg", ["stride", "padding", "dilation", "kernel_size"])
def test_one_element_tuples_expand_like_torch(rng, arg):
    """torch expands a 1-element tuple for a 2-D/3-D parameter to every dimension."""
    kw = dict(kernel_size=3, stride=2, padding=1, dilation=1)
    kw[arg] = (kw[arg],)
    m = convt.ConvTranspose3d(4, 6, **kw)
    assert getattr(m, arg) == (kw[arg][0],) * 3
    x = _x(3, rng)
    y = convt.conv_transpose3d(x, m.weight, m.bias, **{k: v for k, v in kw.items()
                                                       if k != "kernel_size"})
    np.testing.assert_array_equal(y, m(x))


# ------------------------------------------------------------------ no silent conversions
def test_masked_arrays_with_masked_elements_are_refused(rng):
    x = _x(1, rng)
    w = rng.standard_normal((4, 2, 3)).astype(np.float32)
    with pytest.raises(TypeError, match="masked"):
        convt.conv_transpose1d(np.ma.masked_array(x, mask=x > 1), w)
    # a masked array without masked elements is its data
    np.testing.assert_array_equal(convt.conv_transpose1d(np.ma.masked_array(x), w),
                                  convt.conv_transpose1d(x, w))


def test_qtensor_has_no_plain_array_form():
    q = convt.QTensor(np.zeros(3, np.uint8), 0.1, 0)
    with pytest.raises(TypeError, match="int_repr"):
        np.asarray(q)
    with pytest.raises(TypeError, match="QTensor"):
        convt.conv_transpose1d(q, np.zeros((1, 1, 1), np.float32))


# ------------------------------------------------------------------ with torch
@pytest.fixture
def torch():
    t = pytest.importorskip("torch")
    warnings.filterwarnings("ignore", message=".*quantized.*deprecated", category=UserWarning)
    t.backends.quantized.engine = "fbgemm"
    return t


@pytest.mark.parametrize("nd", NDS)
def test_float_state_dict_both_ways_with_torch(torch, rng, nd):
    f = FLOAT[nd](4, 6, 3, stride=2, padding=1, groups=2, rng=1)
    tm = getattr(torch.nn, f"ConvTranspose{nd}d")(4, 6, 3, stride=2, padding=1, groups=2)
    tm.load_state_dict(f.state_dict(format="torch"))
    x = _x(nd, rng)
    ref = conv_transpose_naive(x, f.weight, f.bias, stride=2, padding=1, groups=2)
    np.testing.assert_allclose(tm(torch.from_numpy(x)).detach().numpy(), ref, atol=1e-5)
    g = FLOAT[nd](4, 6, 3, stride=2, padding=1, groups=2, rng=2)
    g.load_state_dict(tm.state_dict())  # torch Parameters with requires_grad
    np.testing.assert_array_equal(g(x), f(x))
    np.testing.assert_array_equal(f.to_torch().weight.detach().numpy(), f.weight)


@pytest.mark.parametrize("nd", NDS)
def test_quantized_state_dict_both_ways_with_torch(torch, rng, nd):
    """convt -> torch and torch -> convt, bit-identical weights, bias, scale, zero point and
    outputs (torch's FBGEMM engine, activations <= 127)."""
    tm = getattr(torch.ao.nn.quantized, f"ConvTranspose{nd}d")(4, 6, 3, stride=2, padding=1)
    wf = torch.from_numpy(rng.standard_normal((4, 6) + (3,) * nd).astype(np.float32)) * 0.1
    tm.set_weight_bias(torch.quantize_per_tensor(wf, 0.002, 0, torch.qint8),
                       torch.from_numpy(rng.standard_normal(6).astype(np.float32)))
    tm.scale, tm.zero_point = 0.05, 100
    qx = _qx(nd, rng)
    ref = tm(qx.to_torch()).int_repr().numpy()
    q = QUANT[nd](4, 6, 3, stride=2, padding=1)
    q.load_state_dict(tm.state_dict())
    np.testing.assert_array_equal(q(qx).int_repr(), ref)
    np.testing.assert_array_equal(q(qx.to_torch()).int_repr(), ref)  # torch input accepted
    back = getattr(torch.ao.nn.quantized, f"ConvTranspose{nd}d")(4, 6, 3, stride=2, padding=1)
    back.load_state_dict(q.state_dict(format="torch"))
    assert torch.equal(back.weight().int_repr(), tm.weight().int_repr())
    assert torch.equal(back.bias(), tm.bias())
    # torch's own state_dict keeps the scale as a float32 tensor, so float32 is what survives
    assert np.float32(back.scale) == np.float32(tm.scale) and back.zero_point == tm.zero_point
    np.testing.assert_array_equal(back(qx.to_torch()).int_repr().numpy(), ref)
    np.testing.assert_array_equal(q.to_torch()(qx.to_torch()).int_repr().numpy(), ref)


def test_qtensor_to_and_from_torch(torch, rng):
    for q in (convt.QTensor(rng.integers(0, 256, (2, 3), dtype=np.uint8), 0.1, 7),
              convt.QTensor(rng.integers(-128, 128, (2, 3), dtype=np.int8),
                            [0.1, 0.2, 0.3], [0, 0, 0], axis=1)):
        t = q.to_torch()
        back = convt.QTensor.from_torch(t)
        np.testing.assert_array_equal(back.int_repr(), q.int_repr())
        assert repr(back) == repr(q)
    with pytest.raises(TypeError, match="quantized torch tensor"):
        convt.QTensor.from_torch(torch.ones(3))


@pytest.mark.parametrize("nd", NDS)
def test_from_torch_with_the_wrong_object_names_it(torch, nd):
    good = getattr(torch.nn, f"ConvTranspose{nd}d")(2, 2, 2)
    for bad in (len, torch.nn.Parameter(torch.ones(2)), torch.nn.Conv2d(2, 2, 2),
                getattr(torch.nn, f"ConvTranspose{nd % 3 + 1}d")(2, 2, 2), good.weight):
        with pytest.raises(TypeError, match=f"module must be a torch.nn.ConvTranspose{nd}d"):
            FLOAT[nd].from_torch(bad)
        with pytest.raises(TypeError, match="module must be a torch.ao.nn.quantized"):
            QUANT[nd].from_torch(bad)
    with pytest.raises(TypeError, match="mod must be"):
        QUANT[nd].from_float(len, input_scale=0.1, input_zero_point=0, output_scale=0.1,
                             output_zero_point=0)


@pytest.mark.parametrize("dtype", ["bfloat16", "float64", "float16"])
def test_from_torch_any_float_dtype_and_trainable(torch, rng, dtype):
    """bfloat16/float64 modules with requires_grad weights convert (to float32); a torch
    float module goes to the quantized from_float too."""
    tm = torch.nn.ConvTranspose2d(4, 6, 3, stride=2).to(getattr(torch, dtype))
    m = convt.ConvTranspose2d.from_torch(tm)
    np.testing.assert_array_equal(m.weight, tm.weight.detach().float().numpy())
    q = convt.quantized.ConvTranspose2d.from_float(
        tm, input_scale=0.02, input_zero_point=0, output_scale=0.05, output_zero_point=100)
    assert q.weight().shape == (4, 6, 3, 3)
    x = torch.from_numpy(_x(2, rng)).requires_grad_()
    np.testing.assert_array_equal(m(x), m(x.detach().numpy()))
