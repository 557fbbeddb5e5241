"""One source of truth for the version: ``src/convt/_version.py``, which ``convt.__version__``
imports and pyproject.toml reads (``dynamic = ["version"]``), so the installed metadata
(``importlib.metadata``), ``python -m convt --version`` and the package agree."""

import importlib.metadata
import os
import re

import pytest

import convt
from convt import _version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYPROJECT = os.path.join(ROOT, "pyproject.toml")


def pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    if not os.path.exists(PYPROJECT):
        pytest.skip("no pyproject.toml beside the tests")
    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)


def test_version_is_defined_once():
    assert convt.__version__ == _version.__version__
    # PEP 440 (public versions)
    assert re.fullmatch(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", convt.__version__)


def test_pyproject_reads_the_version_from_the_package():
    meta = pyproject()
    assert "version" not in meta["project"]
    assert "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "convt._version.__version__"}


def test_installed_metadata_agrees():
    try:
        installed = importlib.metadata.version("convt")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("convt is not installed (in-place build): no metadata to compare")
    assert installed == convt.__version__


def test_project_metadata():
    """Licence file, authors and URLs are declared (tools/check_wheel.sh checks the built
    wheel and sdist carry them)."""
    project = pyproject()["project"]
    assert project["license"] == "BSD-3-Clause"
    assert project["license-files"] == ["LICENSE"]
    assert {"name": "convt developers"} in project["authors"]
    assert set(project["urls"]) >= {"Homepage", "Source", "Issues"}
    for url in project["urls"].values():
        assert url.startswith("https://github.com/convt/convt")
    with open(os.path.join(ROOT, "LICENSE")) as f:
        text = f.read()
    assert "BSD 3-Clause License" in text and "convt developers" in text
    assert "Neither the name of the copyright holder" in text
