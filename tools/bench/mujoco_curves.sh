#!/usr/bin/env bash
# MuJoCo learning-curve benchmark (issues 9 and 19): on the -v4 tasks, default hyperparameters
# (Spinning Up's, 4000 steps/epoch, 64x64 tanh) and the presets.
#   tools/bench/mujoco_curves.sh [OUT_DIR] [EPOCHS] [SEEDS] [ENVS] [EXTRA...]
#   VARIANTS="ppo trpo ppo-preset" (default "ppo trpo"): ppo / trpo with defaults, <algo>-preset
#   with --preset <algo>/<env>; NP=2 ranks per run (default 2).
# EPOCHS 750 = 3M steps (Spinning Up's protocol; presets with other batch sizes get the same
# number of steps: EPOCHS x 4000). Resumable: rerun the same command after an interruption and
# every run continues from its checkpoint (--resume auto); a run whose CSV (below) is complete and
# whose evaluation is written (here or on another machine) is skipped. Each finished run's per-epoch table is
# written to tools/bench/results/mujoco/<variant>-<env>-s<seed>.csv and its deterministic
# evaluation (10 episodes) to ...eval.txt (commit them: a machine may be replaced), then a summary.
set -euo pipefail
# Started with nice (and setsid, as a background queue), the runs should yield to other work; with
# the kernel's autogroup scheduling a session's nice value only counts once its group has it too.
if [[ $(nice) -gt 0 && -w /proc/self/autogroup ]]; then echo "$(nice)" > /proc/self/autogroup 2>/dev/null || true; fi
cd "${RLMPI_REPO:-$(dirname "$0")/../..}"  # RLMPI_REPO: when this script runs from a copy
out=${1:-bench-runs/mujoco}
epochs=${2:-750}
seeds=${3:-"0 1 2"}
envs=${4:-"Hopper-v4 HalfCheetah-v4 Walker2d-v4 Swimmer-v4 Ant-v4"}
shift $(( $# < 4 ? $# : 4 ))
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
bin=${RLMPI:-build/rlmpi}
csv_dir=tools/bench/results/mujoco
mkdir -p "$csv_dir"
for seed in $seeds; do
  for env in $envs; do
    for variant in ${VARIANTS:-ppo trpo}; do
      algo=${variant%-preset}
      opts=(--algo "$algo")
      steps=$((epochs * 4000))
      if [[ $variant == *-preset ]]; then
        [[ -f configs/$algo/$env.ini ]] || { echo "== no preset $algo/$env: skipped"; continue; }
        if ! grep -Ev '^ *(#|$|algo *=|env *=|epochs *=)' "configs/$algo/$env.ini" > /dev/null; then
          echo "== preset $algo/$env is the defaults: see $algo $env"; continue
        fi
        opts=(--preset "$algo/$env")
        batch=$(sed -n 's/^ *steps-per-epoch *= *\([0-9]*\).*/\1/p' "configs/$algo/$env.ini" | tail -1)
        per_epoch=${batch:-4000}
        opts+=(--epochs $(( (steps + per_epoch - 1) / per_epoch )))
      else
        opts+=(--epochs "$epochs")
      fi
      dir="$out/$variant-$env-s$seed"
      csv="$csv_dir/$variant-$env-s$seed.csv"
      want=${opts[-1]}  # the epoch target
      if [[ -f $csv && $(( $(wc -l < "$csv") - 1 )) -ge $want && -f ${csv%.csv}.eval.txt ]]; then
        echo "== $variant $env seed $seed: done ($csv)"; continue  # finished here or on another machine
      fi
      echo "== $variant $env seed $seed: ${opts[*]}"
      mpirun -q -np "${NP:-2}" --oversubscribe "$bin" "${opts[@]}" --env "$env" --seed "$seed" \
        --out "$dir" --resume auto --quiet "$@"
      # Deterministic evaluation of the final policy (10 episodes, the policy's mode).
      "$bin" eval "$dir" --deterministic --episodes 10 > "${csv%.csv}.eval.txt"
      /usr/bin/python3 tools/export.py "$dir" --format csv --stdout > "$csv"
    done
  done
done
/usr/bin/python3 tools/summary.py "$out"
/usr/bin/python3 tools/bench/mujoco_table.py "$out"
