"""Every ISA tier this CPU can run, in process, against the independent references.

int8 must be bit-exact in every tier (the u8 x s8 VNNI kernels with their zero-point
compensation included); float within the usual bound; each tier bitwise identical for 1, 2 and
3 threads.  Tiers the CPU lacks are skipped here; tools/check_x86_tiers.sh runs this file on
SIMDe builds, where every x86 tier is available on any x86-64 CPU.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_matches_reference
from hypothesis import assume, given
from hypothesis import strategies as st
from reference import out_size
from reference_q import accumulate, requantize

import convt
from convt import _engine
from convt.quantized import functional as QF

TIERS = _engine.tiers()
NAMES = [t["name"] for t in TIERS]
FN = {1: convt.conv_transpose1d, 2: convt.conv_transpose2d, 3: convt.conv_transpose3d}
QFN = {1: QF.conv_transpose1d, 2: QF.conv_transpose2d, 3: QF.conv_transpose3d}


@pytest.fixture(params=NAMES)
def tier(request):
    """Pack (and so run) with one tier for the duration of a test."""
    info = TIERS[NAMES.index(request.param)]
    if not info["available"]:
        pytest.skip(f"CPU lacks {', '.join(info['features'])} for tier {info['name']}")
    prev = _engine._set_isa(info["name"])
    yield info
    _engine._set_isa(prev)


# nd, C_in, C_out, groups, kernel, stride, padding, output_padding, dilation, spatial
CASES = [
    (1, 3, 5, 1, 3, 1, 0, 0, 1, (9,)),            # C_in/groups = 3: not a multiple of 4
    (1, 16, 24, 1, 16, 8, 4, 0, 1, (11,)),        # vocoder-like: W phases share panels
    (1, 7, 9, 1, 4, 2, 1, 1, 1, (13,)),           # output_padding
    (2, 5, 12, 1, 4, 2, 1, 0, 1, (5, 6)),         # padding, C_in 5
    (2, 8, 20, 2, 3, 3, 2, 2, 2, (4, 5)),         # groups, dilation, output_padding
    (2, 6, 9, 3, 2, 2, 0, 0, 1, (6, 7)),          # k == s, 2 input channels a group
    (2, 1, 8, 1, 3, 1, 1, 0, 1, (6, 5)),          # one input channel, GEMM path
    (3, 4, 10, 1, 3, 2, 1, 1, 1, (3, 4, 5)),      # 3-D, output_padding
    (3, 9, 6, 3, (3, 1, 2), (2, 1, 1), (0, 0, 1), 0, (1, 1, 2), (3, 4, 4)),
    (2, 300, 20, 1, 2, 2, 0, 0, 1, (3, 5)),       # K blocks (long K)
    (2, 4, 70, 1, 2, 1, 0, 0, 1, (9, 40)),        # channel blocks, many columns
]


def _params(case):
    nd, cin, cout, groups, k, s, p, op, d, spatial = case
    return dict(stride=s, padding=p, output_padding=op, dilation=d, groups=groups)


def _qdata(rng, case, zx, zw, per_channel, extreme=False):
    nd, cin, cout, groups, k, s, p, op, d, spatial = case
    kernel = (k,) * nd if np.isscalar(k) else k
    cog = cout // groups
    if extreme:  # accumulators far beyond int16: x = 255, w in {-128, 127}
        xq = np.full((2, cin) + spatial, 255, np.uint8)
        wq = np.where(rng.random((cin, cog) + kernel) < 0.8, -128, 127).astype(np.int8)
    else:
        xq = rng.integers(0, 256, (2, cin) + spatial).astype(np.uint8)
        wq = rng.integers(-128, 128, (cin, cog) + kernel).astype(np.int8)
    if per_channel:
        sw = rng.uniform(0.002, 0.02, cog)
        zwv = np.zeros(cog, np.int64) if zw == 0 else rng.integers(-20, 20, cog)
        w = convt.QTensor(wq, sw, zwv, axis=1)
    else:
        sw, zwv = np.full(cog, 0.01), np.full(cog, zw)
        w = convt.QTensor(wq, 0.01, zw)
    b = rng.standard_normal(cout).astype(np.float32) * 3
    return convt.QTensor(xq, 0.04, zx), w, sw, zwv, b


def _q_expected(x, w, sw, zw, b, mode, sy, zy, params):
    acc = accumulate(x.int_repr(), x.q_zero_point(), w.int_repr(), zw, **params)
    return acc, requantize(acc, mode, x.q_scale(), np.tile(sw, params["groups"]), b, sy, zy)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("zx", [0, 128, 255])
@pytest.mark.parametrize("zw,per_channel", [(0, False), (0, True), (5, False), (1, True)])
def test_int8_bit_exact(tier, rng, case, zx, zw, per_channel):
    x, w, sw, zwv, b = _qdata(rng, case, zx, zw, per_channel)
    params = _params(case)
    for mode in ("fbgemm", "qnnpack"):
        y = QFN[case[0]](x, w, b, scale=0.7, zero_point=90, requant=mode, **params)
        _, ref = _q_expected(x, w, sw, zwv, b, mode, 0.7, 90, params)
        np.testing.assert_array_equal(y.int_repr(), ref)


@pytest.mark.parametrize("case", CASES[:6] + CASES[7:9])
@pytest.mark.parametrize("zx", [0, 128, 255])
def test_int8_accumulators_beyond_int16(tier, rng, case, zx):
    x, w, sw, zwv, _ = _qdata(rng, case, zx, 0, False, extreme=True)
    params = _params(case)
    acc, _ = _q_expected(x, w, sw, zwv, None, "fbgemm", 1.0, 0, params)
    if zx == 0:
        assert np.abs(acc).max() > 2**15  # the case really leaves int16 range
    for sy in (1.0, 900.0):  # saturating and in-range outputs
        y = QFN[case[0]](x, w, None, scale=sy, zero_point=128, **params)
        np.testing.assert_array_equal(
            y.int_repr(), requantize(acc, "fbgemm", x.q_scale(), np.tile(sw, params["groups"]),
                                     None, sy, 128))


@pytest.mark.parametrize("zw", [0, 3])
def test_int8_variant_follows_weight_zero_point(tier, zw):
    """Zero weight zero points take the tier's u8 x s8 kernel, others its int16 kernel."""
    wq = np.ones((8, 48, 3), np.int8)
    pw = QF.pack_weight(wq, np.full(48, zw), convt._args.make_geometry(1, 2, 0, 0, 1, 1))
    assert pw.variant == (tier["q8"] if zw == 0 else tier["q8_zw"])


@pytest.mark.parametrize("cog", [3, 16, 33, 48])
def test_variant_with_fewer_rows_for_few_channels(tier, cog):
    """A tier's alternative kernel is taken when the main one's tiles would pad the output
    channels by more than 15 % beyond it; results are exact either way (tests above)."""
    geom = convt._args.make_geometry(1, 2, 0, 0, 1, 1)
    pf = convt.functional.pack_weight(np.ones((4, cog, 3), np.float32), geom)
    pq = QF.pack_weight(np.ones((4, cog, 3), np.int8), np.zeros(cog), geom)
    for pw, main, alt in ((pf, tier["f32"], tier["f32_alt"]), (pq, tier["q8"], tier["q8_alt"])):
        if cog <= 2:
            continue  # direct kernel
        mr = lambda name: int(name.split("-")[2].split("x")[0])  # noqa: E731
        pad = lambda m: -(-cog // m) * m  # noqa: E731
        want = alt if alt and pad(mr(main)) * 100 > pad(mr(alt)) * 115 else main
        assert pw.variant == want


@pytest.mark.parametrize("case", CASES)
def test_float_within_bound(tier, rng, case):
    nd, cin, cout, groups, k, s, p, op, d, spatial = case
    kernel = (k,) * nd if np.isscalar(k) else k
    x = rng.standard_normal((2, cin) + spatial).astype(np.float32)
    w = rng.standard_normal((cin, cout // groups) + kernel).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = FN[nd](x, w, b, **_params(case))
    assert_matches_reference(y, x, w, b, **_params(case))


@pytest.mark.parametrize("case", [CASES[1], CASES[4], CASES[7], CASES[10]])
def test_threads_bitwise_within_tier(tier, rng, case):
    nd = case[0]
    x, w, _, _, b = _qdata(rng, case, 77, 0, True)
    xf = rng.standard_normal(x.shape).astype(np.float32)
    wf = rng.standard_normal(w.shape).astype(np.float32)
    params = _params(case)
    q = [QFN[nd](x, w, b, scale=0.5, zero_point=3, num_threads=n, **params).int_repr()
         for n in (1, 2, 3)]
    f = [FN[nd](xf, wf, b, num_threads=n, **params) for n in (1, 2, 3)]
    for n in (1, 2):
        assert np.array_equal(q[0], q[n])
        assert np.array_equal(f[0], f[n])


@given(st.data())
def test_int8_tiers_agree_property(data):
    """Random geometry: every available tier gives the bytes of the portable tier."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    nd = data.draw(st.integers(1, 3))
    groups = data.draw(st.integers(1, 3))
    cig, cog = data.draw(st.integers(1, 9)), data.draw(st.integers(3, 11))
    k = data.draw(st.integers(1, 4))
    s = data.draw(st.integers(1, 3))
    d = data.draw(st.integers(1, 2))
    p = data.draw(st.integers(0, (k - 1) * d))
    op = data.draw(st.integers(0, max(s, d) - 1))
    spatial = tuple(data.draw(st.integers(1, 6)) for _ in range(nd))
    assume(all(out_size(i, k, s, p, d, op) > 0 for i in spatial))
    case = (nd, cig * groups, cog * groups, groups, k, s, p, op, d, spatial)
    zx = data.draw(st.sampled_from([0, 1, 128, 255]))
    x, w, sw, zwv, b = _qdata(rng, case, zx, 0, data.draw(st.booleans()))
    params = _params(case)
    outs = {}
    for t in TIERS:
        if t["available"]:
            prev = _engine._set_isa(t["name"])
            try:
                outs[t["name"]] = QFN[nd](x, w, b, scale=0.3, zero_point=100, **params).int_repr()
            finally:
                _engine._set_isa(prev)
    _, ref = _q_expected(x, w, sw, zwv, b, "fbgemm", 0.3, 100, params)
    for name, y in outs.items():
        np.testing.assert_array_equal(y, ref, err_msg=name)


def test_tier_table_and_report():
    names = [t["name"] for t in TIERS]
    assert names[-1] == "portable" and TIERS[-1]["available"]
    assert len(set(names)) == len(names)
    name, why = convt.isa()
    assert name in names and why
    for t in TIERS:
        assert t["f32"].startswith("f32-gemm-") and t["q8_zw"].startswith("s16-gemm-")
    if os.environ.get("CONVT_ISA", "auto") in ("", "auto"):
        assert name == next(t["name"] for t in TIERS if t["available"])


@pytest.mark.parametrize("request_name", ["avx512vnni", "avxvnni", "avx512", "avx2", "neon"])
def test_forcing_a_tier(request_name):
    """CONVT_ISA=NAME gives that tier when the CPU has it, else a warning naming what is
    missing and the best available tier; never an error at import."""
    env = dict(os.environ, CONVT_ISA=request_name)
    res = subprocess.run([sys.executable, "-W", "always", "-c",
                          "import convt; print(convt.isa()[0])"],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    got = res.stdout.strip()
    info = next((t for t in TIERS if t["name"] == request_name), None)
    if info is not None and info["available"]:
        assert got == request_name and "CONVT_ISA" not in res.stderr
    else:
        assert "CONVT_ISA" in res.stderr and got == next(t["name"] for t in TIERS
                                                         if t["available"])
