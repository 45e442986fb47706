#!/usr/bin/env bash
# The main job: install what is missing, build, and train PPO on CartPole-v1 with 2 MPI ranks.
# Extra arguments go to rlmpi, e.g. tools/run.sh --algo trpo --epochs 20
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
exec mpirun -np "${RLMPI_NP:-2}" --oversubscribe "${RLMPI_BUILD_DIR:-build}/rlmpi" --algo ppo --env CartPole-v1 "$@"
