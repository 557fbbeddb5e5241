"""Comparison with PyTorch (this whole file is skipped when torch is not importable)."""

import math
import zlib

import numpy as np
import pytest
from conftest import assert_close
from hypothesis import given
from hypothesis import strategies as st

import convt

torch = pytest.importorskip("torch")

TF = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
      3: torch.nn.functional.conv_transpose3d}
FN = {1: convt.conv_transpose1d, 2: convt.conv_transpose2d, 3: convt.conv_transpose3d}
TM = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}
CM = {1: convt.ConvTranspose1d, 2: convt.ConvTranspose2d, 3: convt.ConvTranspose3d}

CASES = [  # (C_in, C_out, groups, kernel, stride, padding, output_padding, dilation)
    (4, 6, 1, 3, 1, 0, 0, 1), (4, 6, 2, 4, 2, 1, 1, 1), (6, 6, 6, 3, 2, 1, 1, 1),
    (3, 8, 1, 2, 2, 0, 0, 1), (8, 4, 4, 3, 3, 2, 2, 2), (5, 5, 1, 1, 3, 0, 2, 1),
    (16, 33, 1, 3, 2, 1, 0, 3), (12, 6, 3, 5, 4, 2, 3, 1), (4, 8, 4, 2, 1, 1, 1, 2),
    (6, 18, 3, 5, 2, 3, 1, 1), (2, 4, 1, 1, 1, 0, 0, 1), (40, 70, 1, 3, 2, 1, 1, 1),
]


def _t(a):
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def assert_matches_torch(y, x, w, b, nd, s, p, op, g, d):
    """Compare with torch in float64, bound as the reference comparison: 1e-5 * torch's
    transposed convolution of |x|, |w|, |b| + 1e-6."""
    with torch.no_grad():
        ref = TF[nd](_t(x), _t(w), _t(b), s, p, op, g, d).numpy()
        mag = TF[nd](_t(np.abs(x)), _t(np.abs(w)), _t(None if b is None else np.abs(b)),
                     s, p, op, g, d).numpy()
        ref32 = TF[nd](torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(w),
                       None if b is None else torch.from_numpy(b), s, p, op, g, d).numpy()
    assert y.shape == ref32.shape  # torch's own float32 shape
    assert y.dtype == np.float32
    assert_close(y, ref, 1e-5 * mag + 1e-6)
    assert_close(y, ref32.astype(np.float64), 3e-5 * mag + 3e-6)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("variant", ["batched", "unbatched", "noncontig-nobias"])
def test_functional_matches_torch(nd, case, variant):
    cin, cout, g, k, s, p, op, d = case
    rng = np.random.default_rng(zlib.crc32(repr((nd, variant, case)).encode()))
    sp = (5, 6, 4)[:nd]
    if variant == "noncontig-nobias":
        x = rng.standard_normal((2, cin) + sp[:-1] + (2 * sp[-1],)).astype(np.float32)[..., ::2]
    else:
        x = rng.standard_normal(((2,) if variant == "batched" else ()) + (cin,) + sp
                                ).astype(np.float32)
    w = rng.standard_normal((cin, cout // g) + (k,) * nd).astype(np.float32)
    b = None if variant.endswith("nobias") else rng.standard_normal(cout).astype(np.float32)
    y = FN[nd](x, w, b, s, p, op, g, d)
    assert_matches_torch(y, x, w, b, nd, s, p, op, g, d)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_per_dimension_parameters_match_torch(nd):
    rng = np.random.default_rng(nd)
    k, s, p, op, d = (2, 3, 4)[:nd], (3, 1, 2)[:nd], (1, 0, 2)[:nd], (2, 0, 1)[:nd], (1, 2, 1)[:nd]
    x = rng.standard_normal((2, 6) + (4, 5, 3)[:nd]).astype(np.float32)
    w = rng.standard_normal((6, 2) + k).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    y = FN[nd](x, w, b, s, p, op, 3, d)
    assert_matches_torch(y, x, w, b, nd, s, p, op, 3, d)


@pytest.mark.parametrize("nd,xshape,wshape,groups,s,p", [
    (1, (1, 300, 37), (300, 70, 2), 1, 2, 0),
    (2, (2, 32, 19, 23), (32, 20, 4, 4), 1, 2, 1),
    (2, (1, 300, 9, 11), (300, 200, 2, 2), 1, 2, 0),
    (3, (1, 24, 9, 10, 11), (24, 13, 3, 3, 3), 1, 2, 1),
    (2, (2, 64, 20, 20), (64, 1, 5, 5), 64, 3, 2),
])
def test_larger_problems_match_torch(nd, xshape, wshape, groups, s, p):
    rng = np.random.default_rng(sum(xshape))
    x = rng.standard_normal(xshape).astype(np.float32)
    w = rng.standard_normal(wshape).astype(np.float32)
    b = rng.standard_normal(wshape[1] * groups).astype(np.float32)
    y = FN[nd](x, w, b, s, p, 0, groups, 1)
    assert_matches_torch(y, x, w, b, nd, s, p, 0, groups, 1)


@st.composite
def torch_configs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 4))
    cig, cog = draw(st.integers(1, 5)), draw(st.integers(1, 9))
    k = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d))
    sp = tuple(draw(st.integers(1, 5 if nd == 3 else 10)) for _ in range(nd))
    p = tuple(draw(st.integers(0, ((i - 1) * ss + dd * (kk - 1) + o) // 2))
              for i, ss, dd, kk, o in zip(sp, s, d, k, op))
    return dict(nd=nd, groups=groups, cig=cig, cog=cog, k=k, s=s, d=d, op=op, sp=sp, p=p,
                batch=draw(st.sampled_from([None, 1, 3])), bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)))


@given(torch_configs())
def test_property_matches_torch(c):
    rng = np.random.default_rng(c["seed"])
    cin, cout = c["cig"] * c["groups"], c["cog"] * c["groups"]
    x = rng.standard_normal(((c["batch"],) if c["batch"] else ()) + (cin,) + c["sp"]
                            ).astype(np.float32)
    w = rng.standard_normal((cin, c["cog"]) + c["k"]).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if c["bias"] else None
    y = FN[c["nd"]](x, w, b, c["s"], c["p"], c["op"], c["groups"], c["d"])
    assert_matches_torch(y, x, w, b, c["nd"], c["s"], c["p"], c["op"], c["groups"], c["d"])


# ------------------------------------------------------------------ modules
MODULE_CASES = [  # kwargs for both constructors
    dict(in_channels=6, out_channels=4, kernel_size=3, stride=2, padding=1, groups=2),
    dict(in_channels=3, out_channels=5, kernel_size=2, stride=3, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=3, stride=2, padding=2, groups=4,
         dilation=2, output_padding=1),
    dict(in_channels=8, out_channels=12, kernel_size=4, stride=2, padding=1),
]


def _kw_nd(kw, nd):
    kw = dict(kw)
    if nd > 1 and kw["kernel_size"] > 2:  # a non-square kernel for 2-d / 3-d
        kw["kernel_size"] = (kw["kernel_size"], kw["kernel_size"] - 1, kw["kernel_size"])[:nd]
    return kw


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", MODULE_CASES)
def test_module_from_torch(nd, kw):
    kw = _kw_nd(kw, nd)
    torch.manual_seed(nd)
    tm = TM[nd](**kw)
    cm = CM[nd].from_torch(tm)
    assert type(cm) is CM[nd]
    assert repr(cm) == repr(tm)
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                 "output_padding", "groups", "dilation", "padding_mode"):
        assert getattr(cm, attr) == getattr(tm, attr), attr
    np.testing.assert_array_equal(cm.weight, tm.weight.detach().numpy())
    if tm.bias is None:
        assert cm.bias is None
    else:
        np.testing.assert_array_equal(cm.bias, tm.bias.detach().numpy())
    x = np.random.default_rng(nd).standard_normal((2, kw["in_channels"]) + (5, 4, 3)[:nd]
                                                  ).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x)).numpy()
        refu = tm(torch.from_numpy(x[1])).numpy()
    y = cm(x)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cm(x[1]), refu, rtol=1e-5, atol=1e-5)
    # from_torch copies: changing the torch module afterwards does not affect the layer
    with torch.no_grad():
        tm.weight.add_(1.0)
    np.testing.assert_array_equal(cm(x), y)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_module_output_size_matches_torch(nd):
    torch.manual_seed(nd)
    tm = TM[nd](6, 4, 3, stride=3, padding=1, groups=2)
    cm = CM[nd].from_torch(tm)
    x = np.random.default_rng(nd).standard_normal((2, 6) + (4,) * nd).astype(np.float32)
    base = (4 - 1) * 3 - 2 + 3  # output_padding 0
    for extra in range(3):
        size = tuple(base + (extra + a) % 3 for a in range(nd))  # differs per dimension
        for spec, xin in [(size, x), ((2, 4) + size, x), ((4,) + size, x[0]), (size, x[0])]:
            with torch.no_grad():
                ref = tm(torch.from_numpy(np.ascontiguousarray(xin)),
                         output_size=list(spec)).numpy()
            y = cm(xin, output_size=spec)
            assert y.shape == ref.shape
            np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    for bad in (base - 1, base + 3):
        with pytest.raises(ValueError):
            tm(torch.from_numpy(x), output_size=[bad] * nd)
        with pytest.raises(ValueError, match="valid sizes"):
            cm(x, output_size=(bad,) * nd)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_torch_module_with_convt_weights(nd):
    """The other direction: a torch module given convt's initial weights agrees."""
    cm = CM[nd](4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, rng=11)
    tm = TM[nd](4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(cm.weight))
        tm.bias.copy_(torch.tensor(cm.bias))
    x = np.random.default_rng(0).standard_normal((3, 4) + (6,) * nd).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(cm(x), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("nd,cin,cout,groups,k", [(1, 16, 64, 1, 5), (2, 32, 64, 2, 3),
                                                  (3, 8, 16, 4, (2, 3, 3))])
def test_init_statistics_match_torch(nd, cin, cout, groups, k):
    torch.manual_seed(0)
    tm = TM[nd](cin, cout, k, groups=groups)
    cm = CM[nd](cin, cout, k, groups=groups, rng=0)
    tw, tbias = tm.weight.detach().numpy().astype(np.float64), tm.bias.detach().numpy()
    cw, cbias = cm.weight.astype(np.float64), cm.bias
    assert cw.shape == tw.shape and cbias.shape == tbias.shape
    kernel = (k,) * nd if isinstance(k, int) else k
    bound = 1 / math.sqrt(cout // groups * math.prod(kernel))
    # both are U(-bound, bound): same support, same spread, centred
    for a in (tw, cw):
        assert np.abs(a).max() <= bound * (1 + 1e-6)
        assert np.abs(a).max() > 0.95 * bound
    assert abs(np.abs(tbias).max() - np.abs(cbias).max()) < 0.35 * bound  # few samples
    assert np.abs(cbias).max() <= bound * (1 + 1e-6)
    assert abs(cw.std() - tw.std()) < 0.06 * tw.std()
    assert abs(cw.mean()) < 0.1 * bound and abs(tw.mean()) < 0.1 * bound
