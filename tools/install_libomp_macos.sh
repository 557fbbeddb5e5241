#!/usr/bin/env bash
# macOS wheel builds: LLVM's OpenMP runtime from conda-forge (built for old macOS versions, so
# MACOSX_DEPLOYMENT_TARGET can stay low; Homebrew's libomp targets the runner's macOS and
# delocate would reject it).  Installs into $CONVT_LIBOMP_PREFIX (default /tmp/libomp).
set -euo pipefail
prefix="${CONVT_LIBOMP_PREFIX:-/tmp/libomp}"
arch="$(uname -m)"; [ "$arch" = "x86_64" ] && plat=osx-64 || plat=osx-arm64
curl -Ls "https://micro.mamba.pm/api/micromamba/${plat}/latest" | tar -xvj -C /tmp bin/micromamba
/tmp/bin/micromamba create -y -p "$prefix" -c conda-forge llvm-openmp
ls "$prefix/lib/libomp.dylib" "$prefix/include/omp.h"
