#!/usr/bin/env bash
# Learning at scale (issue 15): does rlmpi learn as well with many ranks as with one?
#   tools/bench/scale_learning.sh cartpole [OUT_DIR]   PPO and TRPO on CartPole-v1, seed 0, at
#       1, 2, 4, 8 and 16 ranks, strong (--steps-per-epoch 4000, 50 epochs) and weak
#       (--steps-per-rank 4000, 20 epochs: 16x the batch at 16 ranks), and strong at 16 ranks
#       with --epoch-end reset (Spinning Up's behaviour) for comparison.
#   tools/bench/scale_learning.sh hopper [OUT_DIR] [SEEDS]   PPO on Hopper-v4 at 2 and 16 ranks,
#       1M steps (250 epochs of 4000), --epoch-end continue and reset (MODES="..."), seeds 0 1 2.
# Ranks beyond the cores are oversubscribed (sample efficiency does not depend on cores;
# mpi_yield_when_idle keeps waiting ranks from spinning). Extra rlmpi arguments: EXTRA="...".
# Resumable: rerun the same command; finished runs are skipped, others continue (--resume auto).
# Table: /usr/bin/python3 tools/bench/scale_table.py OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:?usage: scale_learning.sh cartpole|hopper [OUT_DIR] [SEEDS]}
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_mpi_yield_when_idle=1
bin=${RLMPI:-build/rlmpi}
read -r -a extra <<<"${EXTRA:-}"

one() {  # one() DIR NP ARGS...: a run, skipped when finished
  local dir=$1 np=$2
  shift 2
  echo "== $dir ($np ranks): $*"
  mpirun -q -np "$np" --oversubscribe "$bin" "$@" "${extra[@]}" --out "$dir" --resume auto --quiet
}

case $what in
  cartpole)
    out=${2:-bench-runs/scale-cartpole}
    for algo in ppo trpo; do
      for np in 1 2 4 8 16; do
        one "$out/$algo-strong-np$np" "$np" --algo "$algo" --env CartPole-v1 --seed 0 --epochs 50 --steps-per-epoch 4000
        one "$out/$algo-weak-np$np" "$np" --algo "$algo" --env CartPole-v1 --seed 0 --epochs 20 --steps-per-rank 4000
      done
      # Spinning Up's epoch end at 16 ranks, for comparison: episodes cut at 250 steps are lost.
      one "$out/$algo-strong-np16-reset" 16 --algo "$algo" --env CartPole-v1 --seed 0 --epochs 50 \
        --steps-per-epoch 4000 --epoch-end reset
    done ;;
  hopper)
    out=${2:-bench-runs/scale-hopper}
    for seed in ${3:-0 1 2}; do
      for mode in ${MODES:-continue reset}; do
        for np in 2 16; do
          one "$out/ppo-$mode-np$np-s$seed" "$np" --algo ppo --env Hopper-v4 --seed "$seed" --epochs 250 \
            --epoch-end "$mode"
        done
      done
    done ;;
  *) echo "scale_learning.sh: unknown benchmark '$what' (allowed: cartpole, hopper)" >&2; exit 2 ;;
esac
/usr/bin/python3 tools/bench/scale_table.py "$out"
