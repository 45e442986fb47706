#!/usr/bin/env bash
# MuJoCo learning-curve benchmark (issue 9): PPO and TRPO with default hyperparameters
# (Spinning Up's, 4000 steps/epoch, 64x64 tanh) on the -v4 tasks, 2 ranks.
#   tools/bench/mujoco_curves.sh [OUT_DIR] [EPOCHS] [SEEDS] [ENVS] [EXTRA...]
# EPOCHS 750 = 3M steps (Spinning Up's protocol). Resumable: rerun the same command after an
# interruption and every run continues from its checkpoint (--resume auto). Summary at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench-runs/mujoco}
epochs=${2:-750}
seeds=${3:-"0 1 2"}
envs=${4:-"Hopper-v4 HalfCheetah-v4 Walker2d-v4 Swimmer-v4 Ant-v4"}
shift $(( $# < 4 ? $# : 4 ))
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
bin=${RLMPI:-build/rlmpi}
for seed in $seeds; do
  for env in $envs; do
    for algo in ppo trpo; do
      dir="$out/$algo-$env-s$seed"
      echo "== $algo $env seed $seed ($epochs epochs)"
      mpirun -q -np "${NP:-2}" --oversubscribe "$bin" --algo "$algo" --env "$env" --seed "$seed" \
        --epochs "$epochs" --out "$dir" --resume auto --quiet "$@"
    done
  done
done
/usr/bin/python3 tools/summary.py "$out"
/usr/bin/python3 tools/bench/mujoco_table.py "$out"
