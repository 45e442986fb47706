#!/usr/bin/env bash
# Learning-curve benchmark (issue 6): default hyperparameters, 3 seeds, 2 ranks.
#   tools/bench/learning_curves.sh [OUT_DIR] [NP]
# Runs PPO, TRPO, VPG on CartPole-v1 and PPO, TRPO on Pendulum-v1 (50 epochs x 4000 steps),
# resumable (--resume auto: rerun the script after an interruption), then prints the summary:
# final AverageEpRet, first epoch reaching 475 on CartPole and its wall-clock time.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench-runs/learning}
np=${2:-2}
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
bin=${RLMPI:-build/rlmpi}
for env in CartPole-v1 Pendulum-v1; do
  for algo in ppo trpo vpg; do
    [[ $env == Pendulum-v1 && $algo == vpg ]] && continue
    for seed in 0 1 2; do
      dir="$out/$algo-$env-s$seed"
      [[ -f "$dir/checkpoint.h5" ]] && /usr/bin/python3 -c "import h5py,sys; sys.exit(0 if len(h5py.File('$dir/run.h5','r')['epochs/Epoch'])>=50 else 1)" 2>/dev/null && continue
      echo "== $algo $env seed $seed"
      mpirun -q -np "$np" --oversubscribe "$bin" --algo "$algo" --env "$env" --seed "$seed" --epochs 50 \
        --out "$dir" --resume auto --quiet
    done
  done
done
/usr/bin/python3 - "$out" <<'PY'
import glob, sys, h5py, numpy as np
rows = {}
for f in sorted(glob.glob(sys.argv[1] + "/*/run.h5")):
    with h5py.File(f, "r") as h:
        a, e, s = h.attrs["algorithm"], h.attrs["environment"], int(h.attrs["seed"])
        ret = h["epochs/AverageEpRet"][:]; t = h["epochs/Time"][:]; sps = h["epochs/StepsPerSecond"][:]
    hit = np.nonzero(ret >= 475)[0] if e == "CartPole-v1" else []
    rows.setdefault((a, e), []).append((s, ret, t, sps, hit[0] if len(hit) else None))
print(f"{'algo':5} {'env':12} {'seeds':5} {'final10 mean±std':>18} {'first epoch>=475 (s)':>28} {'steps/s median':>14}")
for (a, e), rs in sorted(rows.items()):
    final = [np.nanmean(r[1][-10:]) for r in rs]
    hits = ", ".join(f"{r[4]} ({r[2][r[4]]:.0f}s)" if r[4] is not None else "-" for r in rs) if e == "CartPole-v1" else ""
    sps = np.median(np.concatenate([r[3] for r in rs]))
    print(f"{a:5} {e:12} {len(rs):5} {np.mean(final):9.1f} ± {np.std(final):6.1f} {hits:>28} {sps:14.0f}")
PY
