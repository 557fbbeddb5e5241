"""``python -m convt upsample`` (issue 12): a zarr volume through a float transposed
convolution chunk by chunk, written to zarr; bitwise equal to the in-memory call; every option
has help; bad input is one ``error:`` line with exit status 2, never a traceback."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("dask")
zarr = pytest.importorskip("zarr")

import convt  # noqa: E402
from convt import _upsample  # noqa: E402
from convt.__main__ import main, parser  # noqa: E402

PREFIX = "python -m convt upsample: error: "


def volume(path, shape, chunks, dtype="float32", seed=0, component=None):
    """A zarr array of random values at ``path`` (inside a group when ``component``)."""
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if component is None:  # calls that zarr 2 and 3 both have
        z = zarr.open_array(str(path), mode="w", shape=shape, chunks=chunks, dtype=dtype)
    else:
        z = zarr.open_group(str(path), mode="a").zeros(name=component, shape=shape,
                                                       chunks=chunks, dtype=dtype)
    z[:] = data
    return data


def save(path, a):
    np.save(str(path), a)
    return str(path)


def upsample(*args):
    return main(["upsample", *map(str, args)])


def test_3d_matches_the_in_memory_call(tmp_path, capsys):
    # zarr chunks split the channels and do not divide the volume: read in 8^3 chunks
    x = volume(tmp_path / "in.zarr", (1, 3, 20, 18, 16), (1, 1, 7, 7, 7))
    rng = np.random.default_rng(1)
    w = save(tmp_path / "w.npy", rng.standard_normal((3, 2, 3, 3, 3), dtype=np.float32))
    b = save(tmp_path / "b.npy", rng.standard_normal(2, dtype=np.float32))
    assert upsample(tmp_path / "in.zarr", tmp_path / "out.zarr", "--weight", w, "--bias", b,
                    "--stride", 2, "--padding", 1, "--output-padding", 1, "--chunks", 8,
                    "--no-progress") == 0
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    ref = convt.conv_transpose3d(x, np.load(w), np.load(b), stride=2, padding=1,
                                 output_padding=1)
    np.testing.assert_array_equal(out[:], ref)
    assert out.chunks == (1, 2, 16, 16, 16)
    text = capsys.readouterr().out
    assert "ConvTranspose3d(3, 2" in text and "wrote" in text


def test_2d_groups_components_and_per_axis_values(tmp_path):
    # float64 input in a group beside another array; the output as a component of a group
    # that keeps its other array
    x = volume(tmp_path / "in.zarr", (2, 4, 13, 11), (1, 4, 5, 5), "float64",
               component="vol")
    volume(tmp_path / "in.zarr", (3,), (3,), component="other")
    volume(tmp_path / "out.zarr", (3,), (3,), component="keep")
    w = save(tmp_path / "w.npy",
             np.random.default_rng(2).standard_normal((4, 3, 3, 2), dtype=np.float32))
    hyper = ["--stride", 2, 3, "--padding", 1, 0, "--dilation", 2, 1, "--groups", 2]
    assert upsample(tmp_path / "in.zarr", tmp_path / "out.zarr", "--component", "vol",
                    "--output-component", "up", "--weight", w, *hyper, "--workers", 1,
                    "--num-threads", 1, "--no-progress") == 0
    group = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    assert sorted(group.array_keys()) == ["keep", "up"]
    ref = convt.conv_transpose2d(x.astype(np.float32), np.load(w), stride=(2, 3),
                                 padding=(1, 0), dilation=(2, 1), groups=2)
    np.testing.assert_array_equal(group["up"][:], ref)


def test_random_weights_are_the_seeded_layer(tmp_path):
    x = volume(tmp_path / "in.zarr", (1, 2, 30), (1, 2, 8))
    assert upsample(tmp_path / "in.zarr", tmp_path / "out.zarr", "--random-weights", 4, 5,
                    "--seed", 3, "--stride", 3, "--no-progress") == 0
    layer = convt.ConvTranspose1d(2, 4, 5, stride=3, rng=3)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "out.zarr"))[:], layer(x))


def test_overwrite(tmp_path, capsys):
    volume(tmp_path / "in.zarr", (1, 2, 12), (1, 2, 6))
    args = [tmp_path / "in.zarr", tmp_path / "out.zarr", "--random-weights", 2, 3,
            "--no-progress"]
    assert upsample(*args) == 0
    assert upsample(*args) == 2
    assert "already holds" in capsys.readouterr().err
    assert upsample(*args, "--stride", 2, "--overwrite") == 0
    assert zarr.open_array(str(tmp_path / "out.zarr")).shape == (1, 2, 25)


def _bad_inputs(tmp_path):
    """(arguments after ``upsample``, words the error must contain) for each bad call."""
    volume(tmp_path / "in.zarr", (1, 2, 6, 6), (1, 2, 3, 3))
    volume(tmp_path / "int.zarr", (1, 2, 6, 6), (1, 2, 3, 3), "uint8")
    volume(tmp_path / "flat.zarr", (6, 6), (3, 3))
    volume(tmp_path / "group.zarr", (1, 2, 4, 4), (1, 2, 4, 4), component="a")
    volume(tmp_path / "group.zarr", (1, 2, 4, 4), (1, 2, 4, 4), component="b")
    volume(tmp_path / "exists.zarr", (2,), (2,))
    w = save(tmp_path / "w.npy", np.ones((2, 1, 3, 3), np.float32))
    save(tmp_path / "w3.npy", np.ones((3, 1, 3, 3), np.float32))
    save(tmp_path / "wint.npy", np.ones((2, 1, 3, 3), np.int32))
    save(tmp_path / "w1d.npy", np.ones((2, 1, 3), np.float32))
    (tmp_path / "text.npy").write_text("not an array")
    inp, out = str(tmp_path / "in.zarr"), str(tmp_path / "out.zarr")
    return [
        ([str(tmp_path / "nope.zarr"), out, "--weight", w], ["INPUT", "does not exist"]),
        ([str(tmp_path / "int.zarr"), out, "--weight", w], ["dtype uint8", "float"]),
        ([str(tmp_path / "flat.zarr"), out, "--weight", w], ["(6, 6)", "(N, C, *spatial)"]),
        ([str(tmp_path / "group.zarr"), out, "--weight", w], ["['a', 'b']", "--component"]),
        ([str(tmp_path / "group.zarr"), out, "--component", "c", "--weight", w],
         ["'c'", "not a zarr array"]),
        ([inp, out, "--weight", str(tmp_path / "nope.npy")], ["--weight", "does not exist"]),
        ([inp, out, "--weight", str(tmp_path / "text.npy")], ["--weight", "not a .npy"]),
        ([inp, out, "--weight", str(tmp_path / "wint.npy")], ["--weight", "int32"]),
        ([inp, out, "--weight", str(tmp_path / "w1d.npy")], ["--weight", "(2, 1, 3)", "4"]),
        ([inp, out, "--weight", str(tmp_path / "w3.npy")], ["weight", "3"]),
        ([inp, out, "--weight", w, "--bias", str(tmp_path / "nope.npy")],
         ["--bias", "does not exist"]),
        ([inp, out, "--weight", w, "--stride", "2", "2", "2"], ["--stride", "1 or 2"]),
        ([inp, out, "--weight", w, "--stride", "0"], ["stride", "0"]),
        ([inp, out, "--random-weights", "3", "3", "--groups", "2"], ["groups", "2"]),
        ([inp, out, "--weight", w, "--chunks", "0"], ["--chunks", "0"]),
        ([inp, out, "--weight", w, "--workers", "0"], ["--workers", "0"]),
        ([inp, out, "--weight", w, "--num-threads", "0"], ["--num-threads", "0"]),
        ([inp, str(tmp_path / "exists.zarr"), "--weight", w], ["already holds", "--overwrite"]),
        ([inp, inp, "--weight", w, "--overwrite"], ["OUTPUT is INPUT"]),
    ]


def test_bad_input_is_one_error_line(tmp_path, capsys):
    for args, words in _bad_inputs(tmp_path):
        assert main(["upsample", *args, "--no-progress"]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith(PREFIX) and err.count("\n") == 1, (args, err)
        for word in words:
            assert word in err, (args, word, err)
    assert not (tmp_path / "out.zarr").exists()  # nothing written by a failed check


def test_missing_dask_or_zarr_says_how_to_install(tmp_path, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "zarr" else find_spec(name, *a))
    assert upsample(tmp_path / "in.zarr", tmp_path / "out.zarr", "--random-weights", 2, 3) == 2
    err = capsys.readouterr().err
    assert err.startswith(PREFIX) and "zarr" in err and "pip install 'convt[dask]'" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["upsample", "in.zarr", "out.zarr"])  # neither --weight nor --random-weights
    assert e.value.code == 2
    assert "--weight" in capsys.readouterr().err


def test_every_option_has_help():
    sub = next(a for a in parser()._actions if a.dest == "command")
    up = sub.choices["upsample"]
    for action in up._actions:
        assert action.help, action.option_strings or action.dest
    assert up.description and up.epilog


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "convt", "upsample", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          cwd=os.path.expanduser("~"))


def test_command_line_shows_progress_and_errors_without_traceback(tmp_path):
    x = volume(tmp_path / "in.zarr", (1, 2, 10, 10, 10), (1, 2, 5, 5, 5))
    r = run_cli(tmp_path / "in.zarr", tmp_path / "out.zarr", "--random-weights", 3, 2,
                "--stride", 2)
    assert r.returncode == 0, r.stderr
    assert "100% Completed" in r.stdout  # dask's ProgressBar
    layer = convt.ConvTranspose3d(2, 3, 2, stride=2, rng=0)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "out.zarr"))[:], layer(x))

    r = run_cli(tmp_path / "nope.zarr", tmp_path / "out2.zarr", "--random-weights", 3, 2)
    assert r.returncode == 2
    assert r.stderr.startswith(PREFIX) and "Traceback" not in r.stderr


def test_regular_chunks_keeps_regular_arrays():
    da = pytest.importorskip("dask.array")
    y = da.zeros((1, 2, 63 + 64 * 3 + 65), chunks=((1,), (2,), (63, 64, 64, 64, 65)))
    assert _upsample.regular_chunks(y).chunks[2] == (64,) * 5
    z = da.zeros((1, 2, 100), chunks=(1, 2, 32))
    assert _upsample.regular_chunks(z) is z
