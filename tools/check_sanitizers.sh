#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer, once per ISA tier this
# CPU can run (CONVT_ISA), so every kernel variant (main tile and _alt) runs instrumented.
#
# Out of tree: the sources are copied to a temp dir and built in place there with
# CONVT_SANITIZE=1 (setup.py: -fsanitize=address,undefined -fno-sanitize-recover=undefined
# -fno-omit-frame-pointer -fno-wrapv -O1 -g, after Python's own -fwrapv -O3), so the developer's
# in-tree build and installed package are untouched.  Python itself is not instrumented, so
# libasan is LD_PRELOADed, with libstdc++ (else ASan's __cxa_throw interceptor has no real
# function when a C++ library such as torch throws: "CHECK failed ... real___cxa_throw").
# ASan reports go to log files (log_path), one per process, so one from a subprocess whose
# stderr a test captures (fork, CONVT_ISA, thread-count tests) is still seen.  UBSan reports
# ignore log_path under the ASan runtime and go to stderr: pytest runs with --capture=sys so
# the main process's reach its output, and a subprocess's ends that process (halt_on_error),
# failing the test's returncode check with the report in its message.  Any log file, report
# text in pytest's output or a failing test fails the script.  Canaries first prove both kinds
# of report are caught.
#
# Every test runs, subprocess tests included (they inherit LD_PRELOAD and the options), except
# the OpenVINO benchmark peers: OpenVINO dlopens its TBB plugin with RTLD_DEEPBIND, which the
# sanitizer runtime refuses (google/sanitizers#611).  torch and onnxruntime run fine.
# CONVT_SANITIZE_SIMDE=1 (opt in, ~4 min more) also checks the x86 tiers this CPU lacks
# through a SIMDe build (as tools/check_x86_tiers.sh does), on the per-tier tests.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
if [ "$(uname -s)" != Linux ]; then echo "check_sanitizers: not Linux; skipped"; exit 0; fi
libasan="$(gcc -print-file-name=libasan.so)"
libstdcxx="$(gcc -print-file-name=libstdc++.so.6)"
if [ ! -f "$libasan" ]; then echo "check_sanitizers: gcc has no libasan; skipped"; exit 0; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
logs="$work/sanitizer-logs"
mkdir -p "$logs"

# build_tree DIR [ENV...]: copy the sources to DIR and build the sanitized extensions there.
build_tree() {
    local dir="$1"; shift
    mkdir -p "$dir"
    git ls-files -z 2>/dev/null | tar --null -T - -cf - | tar -xf - -C "$dir" \
        || cp -r include setup.py pyproject.toml src tests "$dir"/
    (cd "$dir" && env CONVT_SANITIZE=1 "$@" python setup.py -q build_ext --inplace \
        >build.log 2>&1) || { cat "$dir/build.log"; exit 1; }
    # instrumented, and -fno-wrapv won: signed-overflow checks are in the engine
    local syms
    syms="$(nm -D "$dir"/src/convt/_engine*.so)"
    for sym in __asan_report_load __ubsan_handle_add_overflow; do
        grep -q "$sym" <<<"$syms" || { echo "FAIL: no $sym in the sanitized engine"; exit 1; }
    done
}

export LD_PRELOAD="$libasan $libstdcxx"
# detect_leaks=0: Python leaks by design.  allocator_may_return_null=1: a malloc too big for
# memory returns NULL (a MemoryError, which tests expect, e.g. test_reliability's unallocatable
# output) instead of ASan's "allocation-size-too-big" abort.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:verify_asan_link_order=0:log_path=$logs/san"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/san"
# no __pycache__ in the copied tree
export PYTHONDONTWRITEBYTECODE=1

# Canary: a heap overflow and a signed overflow must each be reported, and end the process.
cat >"$work/canary.c" <<'EOF'
#include <stdlib.h>
int heap(int n, int i) { volatile char *p = malloc(n); int v = p[i]; free((void *)p); return v; }
int add(int a, int b) { return a + b; }
EOF
gcc -shared -fPIC -fwrapv -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -fno-wrapv "$work/canary.c" -o "$work/canary.so"
for call in "heap(4, 4)" "add(2**31 - 1, 1)"; do
    if python -c "import ctypes; ctypes.CDLL('$work/canary.so').$call" 2>>"$work/canary.log"; then
        echo "FAIL: the canary $call ran without a sanitizer report"; exit 1
    fi
done
grep -q "ERROR: AddressSanitizer: heap-buffer-overflow" "$logs"/san.* \
    && grep -q "runtime error: signed integer overflow" "$work/canary.log" \
    || { echo "FAIL: the canaries were not reported"; cat "$logs"/san.* "$work/canary.log"; exit 1; }
rm -f "$logs"/san.*

echo "== building the sanitized extensions (CONVT_SANITIZE=1) out of tree"
build_tree "$work/native"
cd "$work/native"
export PYTHONPATH="$work/native/src"
python -c "
import convt
from convt import _engine
assert convt.__file__.startswith('$work/'), convt.__file__
assert '-fsanitize=address,undefined' in _engine.build_info()['flags'], _engine.build_info()
"

# --capture=sys: UBSan writes to fd 2 (it ignores log_path under the ASan runtime, GCC 12),
# which pytest's default fd capture would lose when halt_on_error ends the process.
pytest_args=(-q -p no:cacheprovider --capture=sys
    --deselect "tests/test_bench.py::test_installed_peer_agrees_on_a_small_shape[float-ov]"
    --deselect "tests/test_bench.py::test_installed_peer_agrees_on_a_small_shape[int8-ov-qdq]")
failed=()

# run LABEL ARGS...: pytest under the sanitizers; the output is kept for the report grep.
run() {
    local label="$1"; shift
    echo "== $label"
    if ! python -m pytest "${pytest_args[@]}" "$@" 2>&1 | tee "$work/pytest-${label// /_}.log"; then
        failed+=("$label")
    fi
}

# The re-entry use-after-free (issue 9): the scratch buffer replaced by a call made from
# inside another.  In every tier's full run below too; here on its own, and it must pass.
run "reentry regression" -rs tests/test_reliability.py::test_reentrant_call_during_a_call
grep -q "1 passed" "$work/pytest-reentry_regression.log" || failed+=("reentry regression (not run)")

tiers="$(python -c "from convt import _engine; print(' '.join(t['name'] for t in _engine.tiers() if t['available']))")"
for tier in $tiers; do
    CONVT_ISA="$tier" run "tests with CONVT_ISA=$tier"
done

if [ "${CONVT_SANITIZE_SIMDE:-0}" = 1 ]; then
    if [ -f /usr/include/simde/x86/avx512.h ] && [ "$(uname -m)" = x86_64 ]; then
        echo "== building the sanitized SIMDe engine (CONVT_SIMDE=1) out of tree"
        build_tree "$work/simde" CONVT_SIMDE=1
        cd "$work/simde"
        export PYTHONPATH="$work/simde/src"
        for tier in $(python -c "from convt import _engine; print(' '.join(t['name'] for t in _engine.tiers()))"); do
            case " $tiers " in *" $tier "*) continue ;; esac  # natively checked above
            CONVT_ISA="$tier" run "SIMDe tests with CONVT_ISA=$tier" \
                tests/test_dispatch.py tests/test_quantized.py
        done
    else
        echo "check_sanitizers: SIMDe headers missing or not x86-64; SIMDe tiers skipped"
    fi
fi

# Any report fails the run, whichever process made it and whatever pytest made of it.  The
# one expected line: allocator_may_return_null's warning for the MemoryError tests.
benign='^==[0-9]+==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]+ bytes$'
reports=0
for f in "$logs"/san.*; do
    [ -e "$f" ] || continue
    if grep -q -v -E "$benign" "$f"; then
        echo "--- sanitizer report $(basename "$f")"; cat "$f"; reports=1
    fi
done
if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:|Sanitizer: CHECK failed" \
        "$work"/pytest-*.log; then
    echo "sanitizer report text in the pytest output above"
    reports=1
fi
elapsed=$((SECONDS - start))
if [ "$reports" = 1 ] || [ "${#failed[@]}" -gt 0 ]; then
    for f in "${failed[@]}"; do echo "FAILED: $f"; done
    echo "check_sanitizers: FAILED (${elapsed}s)"
    exit 1
fi
echo "check_sanitizers: passed, tiers: $tiers (${elapsed}s)"
