#!/usr/bin/env bash
# Configures (once) and builds rlmpi in build/ (Release, warnings as errors). Incremental.
# Extra arguments go to the CMake configure step, e.g. tools/build.sh -DRLMPI_ARCH=native
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RLMPI_BUILD_DIR:-build}
if [[ ! -f "$build/build.ninja" || $# -gt 0 ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRLMPI_WERROR=ON "$@"
fi
cmake --build "$build" --parallel "$(nproc)"
