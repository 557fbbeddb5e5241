#!/usr/bin/env bash
# Check every x86 tier's kernels on any x86-64 CPU: build the engine with SIMDe's portable
# implementations of the AVX2/AVX-512/VNNI intrinsics (Debian's libsimde-dev; CONVT_SIMDE=1,
# see include/convt/cpu.h), where every tier is available, and run the per-tier tests
# (tests/test_dispatch.py: int8 bit-exact, float within bound, threads bitwise) and the
# quantized suite on it.  Skips when SIMDe or the platform is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(uname -m)" in x86_64|amd64) ;; *) echo "check_x86_tiers: not x86-64; skipped"; exit 0 ;; esac
if [ ! -f /usr/include/simde/x86/avx512.h ]; then
    echo "check_x86_tiers: SIMDe headers missing (apt-get install libsimde-dev); skipped"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git ls-files -z 2>/dev/null | tar --null -T - -cf - | tar -xf - -C "$work" \
    || cp -r include setup.py pyproject.toml src tests "$work"/
(cd "$work" && CONVT_SIMDE=1 python setup.py -q build_ext --inplace >build.log 2>&1) || { cat "$work/build.log"; exit 1; }
# No AVX instruction may be in this build: the tiers really ran through SIMDe.
so="$(ls "$work"/src/convt/_engine*.so)"
if objdump -d "$so" | grep -q -E '%[yz]mm'; then echo "FAIL: AVX registers in the SIMDe build"; exit 1; fi
cd "$work"
PYTHONPATH="$work/src" python -c "import convt; from convt import _engine; print('SIMDe build, tiers:', [t['name'] for t in _engine.tiers() if t['available']])"
for tier in avx512vnni avxvnni; do
    PYTHONPATH="$work/src" CONVT_ISA="$tier" python -m pytest -q -p no:cacheprovider \
        tests/test_dispatch.py tests/test_quantized.py
done
