#!/usr/bin/env bash
# The test command: install what is missing, build, run the whole test suite.
#   tools/test.sh              everything (unit, mpi, cli, ...)
#   tools/test.sh -L mpi       one label group (arguments go to ctest)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
cd "${RLMPI_BUILD_DIR:-build}"
if [[ $# -gt 0 ]]; then
  exec ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@"
fi
# The whole suite: the unit tests first, so a broken layer fails in a minute, then the rest.
ctest --output-on-failure --timeout 900 -j "$(nproc)" -L unit
# The AddressSanitizer build of the program (preset asan, build-asan/): "run: limits oom-runtime"
# runs it through an allocation failure inside training and fails on any sanitizer report.
(cd .. && cmake --preset asan >/dev/null && cmake --build build-asan --target rlmpi --parallel "$(nproc)")
export RLMPI_REQUIRE_ASAN=1
ctest --output-on-failure --timeout 900 -j "$(nproc)" -LE unit
