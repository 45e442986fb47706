#!/usr/bin/env bash
# Builds bench_gemm_engines and its engine plugins in their own build directory and runs the
# comparison recorded in tools/bench/results/gemm-engines.md.
#   tools/bench/gemm_engines/run.sh [TAG] [-- extra bench_gemm_engines options]
# TAG names the CSV: tools/bench/results/gemm-engines-TAG.csv (default: epyc-znver3-loaded).
# BUILD_DIR (default /work/build-gemm, or <repo>/build-gemm if /work does not exist) is
# configured with the project's CMake (Release, -Werror) if it is not yet.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
tag="${1:-epyc-znver3-loaded}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
if [[ -z "${BUILD_DIR:-}" ]]; then
  if [[ -d /work ]]; then BUILD_DIR=/work/build-gemm; else BUILD_DIR="$repo/build-gemm"; fi
fi
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S "$repo" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRLMPI_WERROR=ON >/dev/null
fi
nice -n 10 cmake --build "$BUILD_DIR" --target bench_gemm_engines
mkdir -p "$repo/tools/bench/results"
csv="$repo/tools/bench/results/gemm-engines-$tag.csv"
echo "## lscpu"; lscpu | grep -E "^(Model name|CPU\(s\)|Thread|Core|L1d|L2|L3|Hypervisor)" | sed 's/^/    /'
exec "$BUILD_DIR/tools/bench/gemm_engines/bench_gemm_engines" --rounds 90 --csv "$csv" "$@"
