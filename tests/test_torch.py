"""Comparison with PyTorch (skipped when torch is not importable)."""

import numpy as np
import pytest

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
    (16, 33, 1, 3, 2, 1, 0, 3), (12, 6, 3, 5, 4, 2, 3, 1),
]


def _close(a, b):
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * scale)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_functional_matches_torch(nd, case, batched):
    cin, cout, g, k, s, p, op, d = case
    rng = np.random.default_rng(hash((nd,) + case) % 2**32)
    x = rng.standard_normal(((2,) if batched else ()) + (cin,) + (5, 6, 4)[:nd]).astype(np.float32)
    w = rng.standard_normal((cin, cout // g) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    ref = TF[nd](torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), s, p, op, g, d)
    y = FN[nd](x, w, b, s, p, op, g, d)
    assert y.shape == tuple(ref.shape)
    _close(y, ref.numpy())


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_module_from_torch_and_output_size(nd):
    torch.manual_seed(nd)
    tm = TM[nd](6, 4, 3, stride=2, padding=1, groups=2, dilation=1)
    cm = CM[nd].from_torch(tm)
    assert repr(cm) == repr(tm)
    x = np.random.default_rng(nd).standard_normal((2, 6) + (5,) * nd).astype(np.float32)
    for size in [(9,) * nd, (10,) * nd, (2, 4) + (10,) * nd]:
        with torch.no_grad():
            ref = tm(torch.from_numpy(x), output_size=list(size)).numpy()
        _close(cm(x, output_size=size), ref)
    with pytest.raises(ValueError):
        tm(torch.from_numpy(x), output_size=[12] * nd)
    with pytest.raises(ValueError):
        cm(x, output_size=(12,) * nd)


def test_init_statistics_match_torch():
    torch.manual_seed(0)
    tm = torch.nn.ConvTranspose2d(32, 64, 3, groups=2)
    cm = convt.ConvTranspose2d(32, 64, 3, groups=2, rng=0)
    tw, tbias = tm.weight.detach().numpy(), tm.bias.detach().numpy()
    tb = float(np.abs(tw).max())
    cb = float(np.abs(cm.weight).max())
    assert abs(tb - cb) / tb < 0.02  # same uniform bound
    assert abs(float(tw.std()) - float(cm.weight.std())) / float(tw.std()) < 0.05
    assert abs(float(np.abs(tbias).max()) - float(np.abs(cm.bias).max())) < 0.05 * tb
