#!/usr/bin/env bash
# Cross-compile the NEON micro-kernel test for AArch64 and run it under qemu-user (Debian's
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user).  Skips when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    echo "check_neon: aarch64-linux-gnu-gcc or qemu-aarch64 missing; skipped"
    exit 0
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -O3 -std=c11 -Wall -Wno-unused-function -Iinclude tools/neon_kernel_test.c -o "$out/neon_test" -lm
qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/neon_test"
