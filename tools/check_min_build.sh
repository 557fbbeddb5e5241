#!/usr/bin/env bash
# The oldest setuptools pyproject.toml admits (77: the SPDX `license` string) builds convt
# without build isolation, as distributions and conda builds do.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
min="$(sed -n 's/.*"setuptools>=\([0-9.]*\)".*/\1/p' pyproject.toml)"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "setuptools==${min}.*" "Cython>=3.0" "numpy>=2.0" wheel
"$work/venv/bin/pip" wheel --quiet --no-build-isolation --no-deps -w "$work/dist" "$root"
ls "$work/dist"
echo "minimum build check passed: setuptools $("$work/venv/bin/python" -c 'import setuptools; print(setuptools.__version__)')"
