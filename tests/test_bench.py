"""The benchmark module: a quick end-to-end run without peers, the table code with absent or
failing peers, the output checks, and (when installed) each peer runner on a small shape."""

import dataclasses
import json

import numpy as np
import pytest

from convt import _bench

SEED = next(s for s in _bench.SHAPES if s.name == "1d_seed")
FAST = dataclasses.replace(_bench.QUICK, pause=0.0, budget=0.01, cap=0.05)


@pytest.fixture
def torch_engine_restored():
    """The torch-q runner sets torch's global quantized engine: restore it for later tests."""
    torch = pytest.importorskip("torch")
    engine = torch.backends.quantized.engine
    yield
    torch.backends.quantized.engine = engine


def test_quick_run_without_peers(capsys, tmp_path):
    path = tmp_path / "bench.json"
    result = _bench.main(["--quick", "--no-peers", "--shapes", "1d_seed", "--json", str(path)])
    out = capsys.readouterr().out
    assert "1d_seed" in out
    assert "% peak" in out and "GF/s" in out and "GOP/s" in out
    assert "threads" in out and "ISA" in out
    assert "convt/best" not in out  # no peer columns at all with --no-peers
    assert "thread scaling" not in out  # not part of --quick
    saved = json.loads(path.read_text())
    assert [r["shape"] for r in saved["float"]["rows"]] == ["1d_seed"]
    assert [r["shape"] for r in saved["int8"]["rows"]] == ["1d_seed"]
    assert saved["float"]["rows"][0]["rate"] > 0
    assert result["threads"] >= 1


def test_scaling_section(capsys):
    _bench.main(["--quick", "--no-peers", "--shapes", "1d_seed", "--section", "float",
                 "--threads", "2", "--scaling"])
    out = capsys.readouterr().out
    assert "thread scaling" in out and "speedup" in out
    assert "int8 (" not in out


def test_row_and_table_leave_out_absent_peers():
    row = _bench.make_row(SEED, 0.001, {"torch": 0.002}, peak=100.0)
    assert row["best"] == "torch" and row["ratio"] == pytest.approx(2.0)
    assert set(row["peers"]) == {"torch"}

    header = _bench.format_header("GF/s", ["torch"])
    line = _bench.format_row(row, ["torch"])
    assert "torch" in header and "ort" not in header and "ov" not in header
    assert "convt/best" in header and "% peak" in header
    torch_rate = f"{row['peers']['torch']['rate']:.1f}"
    assert line.split()[4:] == [torch_rate, "torch", "2.00x"]

    # an installed peer with no valid time on this shape gets "-", not nan
    cells = _bench.format_row(row, ["torch", "ort"]).split()
    assert cells[4:] == [torch_rate, "-", "torch", "2.00x"]

    # no peers at all: no peer, best or ratio columns
    bare = _bench.make_row(SEED, 0.001, {}, peak=100.0)
    assert "best" not in bare and "ratio" not in bare
    assert len(_bench.format_row(bare, []).split()) == 4
    assert "convt/best" not in _bench.format_header("GF/s", [])
    assert _bench.format_summary([bare]) == []


def test_summary_geomean_and_min():
    rows = [dict(shape="a", ratio=2.0), dict(shape="b", ratio=0.5), dict(shape="c")]
    (line,) = _bench.format_summary(rows)
    assert "1.00x over 2 shapes" in line and "min 0.50x (b)" in line


def test_labelled_variant_is_marked():
    row = _bench.make_row(SEED, 0.001, {"torch-q": 0.003}, 100.0, {"torch-q": "torch-q/qnnpack"})
    assert row["best"] == "torch-q/qnnpack"
    assert "*" in _bench.format_row(row, ["torch-q"])


def _fake_section(*peers):
    return dataclasses.replace(_bench.FLOAT, peers=peers)


def test_missing_failing_and_disagreeing_peers_are_dropped():
    def failing(shape, threads):
        raise RuntimeError("cannot build\nsecond line")

    def wrong(shape, threads):
        y = np.zeros(shape.output_shape(), np.float32)
        return _bench.Runner(lambda: y)

    def right(shape, threads):
        return _bench.FLOAT.convt(shape, threads)

    section = _fake_section(
        _bench.Peer("absent", ("no_such_module_for_convt_bench",), right),
        _bench.Peer("failing", ("numpy",), failing),
        _bench.Peer("wrong", ("numpy",), wrong),
        _bench.Peer("twin", ("numpy",), right))
    lines = []
    res = _bench.run_section(section, [SEED], 1, FAST, {"f32": 100.0}, printer=lines.append)
    text = "\n".join(lines)
    header = next(line for line in lines if line.startswith("shape"))
    assert "absent" not in header and "failing" in header and "twin" in header
    assert "not installed" in text and "no_such_module_for_convt_bench" in text
    assert "failing dropped on 1d_seed: RuntimeError: cannot build" in text
    assert "wrong dropped on 1d_seed: disagrees with convt" in text
    (row,) = res["rows"]
    assert set(row["peers"]) == {"twin"} and row["best"] == "twin"


def test_agreement_checks():
    ref = np.linspace(-1, 1, 1000, dtype=np.float32)
    assert _bench.agree_float(ref + 1e-5, ref) is None
    assert "disagrees" in _bench.agree_float(ref + 0.1, ref)
    assert "shape" in _bench.agree_float(ref[:10], ref)
    q = np.arange(1000).astype(np.uint8)
    assert _bench.agree_uint8(q, q) is None
    off = q.copy()
    off[:5] += 3  # 0.5% off by more than 2: still agrees
    assert _bench.agree_uint8(off, q) is None
    off[:50] += 3  # 5%: disagrees
    assert "95.0% of outputs within 2" in _bench.agree_uint8(off, q)


def test_output_shape_matches_convt():
    for shape in _bench.SHAPES[:6]:
        assert _bench.convt_runner(shape, 1)().shape == shape.output_shape()


def test_time_block_returns_first_result():
    calls = []
    seconds, first = _bench.time_block(lambda: calls.append(1) or len(calls), FAST)
    assert first == 1 and seconds >= 0 and len(calls) >= 1 + FAST.min_reps


def test_peaks_helper():
    peaks = _bench._peaks(1, 0.02)
    assert peaks["f32"] > 0 and peaks["int8"] > 0 and isinstance(peaks["int8_label"], str)


@pytest.mark.parametrize("section,peer", [(s, p) for s in (_bench.FLOAT, _bench.INT8)
                                          for p in s.peers], ids=lambda v: getattr(v, "name", ""))
def test_installed_peer_agrees_on_a_small_shape(section, peer, request):
    if peer.missing():
        pytest.skip(f"{peer.name} needs {', '.join(peer.missing())}")
    if "torch" in peer.modules:
        request.getfixturevalue("torch_engine_restored")
    convt = section.convt(SEED, 1)
    ref = convt.output(convt.call())
    runner = peer.factory(SEED, 1)
    assert section.agree(runner.output(runner.call()), ref) is None


def test_torch_q_falls_back_to_qnnpack_when_fbgemm_refuses(monkeypatch, torch_engine_restored):
    import torch
    if "qnnpack" not in torch.backends.quantized.supported_engines:
        pytest.skip("no qnnpack in this torch build")
    real = _bench._torch_q8_module

    def refusing(shape, engine):
        if engine == "fbgemm":
            raise RuntimeError("fbgemm refuses")
        return real(shape, engine)

    monkeypatch.setattr(_bench, "_torch_q8_module", refusing)
    runner = _bench.torch_q8_runner(SEED, 1)
    assert runner.label == "torch-q/qnnpack" and "fbgemm refuses" in runner.note
    convt = _bench.INT8.convt(SEED, 1)
    assert _bench.agree_uint8(runner.output(runner.call()), convt.output(convt.call())) is None
