"""``python -m convt``: argparse sub-commands (``bench``, ``info``), ``--version``, and the
benchmark's argument handling (unknown shape names are an error that lists the valid ones; the
names are listed in ``bench --help``; no peer installed gives a table without ``nan``)."""

import os
import subprocess
import sys
import textwrap

import pytest

import convt
from convt import _bench

SHAPE_NAMES = [s.name for s in _bench.SHAPES]


def run_cli(*args, code=None, env=None):
    """``python -m convt *args`` (or ``python -c code``) from outside the source tree."""
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "convt", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          cwd=os.path.expanduser("~"), env=env)


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"convt {convt.__version__}"


def test_bare_command_prints_usage_not_rst():
    r = run_cli()
    assert r.returncode == 0, r.stderr
    assert "``" not in r.stdout
    assert r.stdout.startswith("usage:")
    for word in ("bench", "info", "--version"):
        assert word in r.stdout


def test_help_lists_sub_commands():
    r = run_cli("--help")
    assert r.returncode == 0
    assert "bench" in r.stdout and "info" in r.stdout and "--version" in r.stdout


def test_info_help_is_help():
    r = run_cli("info", "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage:")
    assert "ISA tier:" not in r.stdout and "OpenMP:" not in r.stdout  # the help, not the report


def test_info_runs():
    r = run_cli("info")
    assert r.returncode == 0, r.stderr
    assert f"convt {convt.__version__}" in r.stdout and "ISA tier" in r.stdout


def test_info_rejects_arguments():
    r = run_cli("info", "--bogus")
    assert r.returncode == 2
    assert "--bogus" in r.stderr


def test_unknown_command():
    r = run_cli("nosuch")
    assert r.returncode == 2
    assert "nosuch" in r.stderr and "bench" in r.stderr and "info" in r.stderr


def test_bench_help_lists_every_shape_name():
    r = run_cli("bench", "--help")
    assert r.returncode == 0, r.stderr
    assert "--shapes" in r.stdout and "--no-peers" in r.stdout
    for name in SHAPE_NAMES:
        assert name in r.stdout


def test_bench_unknown_shape_is_an_error_listing_the_names():
    r = run_cli("bench", "--quick", "--no-peers", "--shapes", "1d_seed", "nosuch")
    assert r.returncode == 2
    assert "nosuch" in r.stderr
    for name in SHAPE_NAMES:
        assert name in r.stderr
    assert "GF/s" not in r.stdout  # nothing was measured


def test_bench_run_rejects_unknown_shape_names():
    with pytest.raises(ValueError, match="nosuch") as e:
        _bench.run(shapes=["1d_seed", "nosuch"], quick=True, peers=False)
    for name in SHAPE_NAMES:
        assert name in str(e.value)
    with pytest.raises(ValueError, match="no shape"):
        _bench.run(shapes=[], quick=True, peers=False)


def test_bench_main_api_rejects_unknown_shape():
    with pytest.raises(SystemExit) as e:
        _bench.main(["--shapes", "nosuch"])
    assert e.value.code == 2


PEER_MODULES = ("torch", "onnxruntime", "onnx", "openvino")


def test_bench_without_any_peer_prints_no_nan():
    """No peer importable (each blocked with ``sys.modules[name] = None``): the benchmark
    names them as not installed and prints no ``nan`` anywhere, scaling section included."""
    code = textwrap.dedent(f"""
        import sys
        for name in {PEER_MODULES!r}:
            sys.modules[name] = None
        from convt.__main__ import main
        rc = main(["bench", "--quick", "--shapes", "1d_seed", "2d_dcgan", "--threads", "2",
                   "--scaling"])
        assert not any(sys.modules.get(n) for n in {PEER_MODULES!r})
        sys.exit(rc)
    """)
    r = run_cli(code=code)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "not installed, left out" in out
    for peer in ("torch", "ort", "ov", "torch-q", "ort-qdq", "ov-qdq"):
        assert f"{peer} (needs" in out
    assert "1d_seed" in out and "2d_dcgan" in out and "thread scaling" in out
    assert "nan" not in out.lower(), out
    assert "inf" not in out.lower().replace("info", ""), out
