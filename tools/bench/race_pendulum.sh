#!/usr/bin/env bash
# The race (issue 18): PPO on Pendulum-v1 with RLtools' example settings, until a deterministic
# 100-episode evaluation every 8,192 steps reaches -400; wall time of training (evaluation
# excluded) and env steps/s, 5 seeds, median.
#   tools/bench/race_pendulum.sh [OUT_DIR] [SEEDS] [EXTRA rlmpi options, e.g. --isa sse2]
# Writes OUT_DIR/race.csv (seed, steps to -400, training seconds, env steps/s).
# RLtools' settings, in rlmpi's options: 4 envs x 1024 steps per iteration (--envs-per-rank 4
# --steps-per-epoch 4096 on 1 rank), 2 epochs x 16 minibatches of 256, the critic stepped on the
# same minibatches, per-minibatch advantage normalisation, gamma 0.9, lambda 0.95, clip 0.2, Adam
# lr 1e-3 for both, no KL early stop (--target-kl 0), 64x64 ReLU in float, initial std 2.0 in [-1, 1] action units = 4.0 torque units
# (log 4 = 1.386), at most 75 iterations. Evaluation: --eval-every 2 epochs (8,192 steps),
# --eval-episodes 100, --target-return -400.
# Training time = the sum of TimeRollout + TimeUpdate + TimeComm + TimeIO over the epochs up to
# the one whose evaluation reached -400 (evaluations and start-up excluded).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench-runs/race-pendulum}
seeds=${2:-0 1 2 3 4}
shift $(( $# < 2 ? $# : 2 ))
bin=${RLMPI:-build/rlmpi}
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
mkdir -p "$out"
for s in $seeds; do
  rm -rf "$out/s$s"
  "$bin" --algo ppo --env Pendulum-v1 --seed "$s" --epochs 75 --envs-per-rank 4 --steps-per-epoch 4096 \
    --update-epochs 2 --minibatch-size 256 --vf-update minibatch --norm-adv minibatch --gamma 0.9 --lam 0.95 \
    --clip-ratio 0.2 --target-kl 0 --pi-lr 1e-3 --vf-lr 1e-3 --hid 64,64 --activation relu --precision float \
    --init-log-std 1.386 --eval-every 2 --eval-episodes 100 --target-return -400 --out "$out/s$s" --quiet "$@" \
    > "$out/s$s.log" 2>&1 || { echo "seed $s: exit $? (see $out/s$s.log)"; }
done
/usr/bin/python3 - "$out" $seeds <<'PY'
import statistics, sys
import h5py
import numpy as np
out, seeds = sys.argv[1], sys.argv[2:]
rows = []
for s in seeds:
    with h5py.File(f"{out}/s{s}/run.h5", "r") as f:
        e = {k: f["epochs"][k][:] for k in ("TimeRollout", "TimeUpdate", "TimeComm", "TimeIO", "TotalEnvInteracts")}
        ev = {k: f["eval"][k][:] for k in ("epoch", "env_steps", "return_mean")} if "eval" in f else None
        status = f.attrs["exit_status"]
    hit = np.nonzero(ev["return_mean"] >= -400)[0] if ev is not None else []
    if len(hit) == 0:
        print(f"seed {s}: did not reach -400 ({status}); best eval {ev['return_mean'].max():.1f}")
        continue
    last = int(ev["epoch"][hit[0]])
    t = float(sum(e[k][: last + 1].sum() for k in ("TimeRollout", "TimeUpdate", "TimeComm", "TimeIO")))
    steps = float(e["TotalEnvInteracts"][last])
    rows.append((s, steps, t, steps / t))
    print(f"seed {s}: -400 reached after {steps:.0f} steps, training {t:.3f} s, {steps / t:,.0f} env steps/s "
          f"(evaluation {ev['return_mean'][hit[0]]:.1f})")
with open(f"{out}/race.csv", "w") as f:
    f.write("seed,steps_to_minus400,training_seconds,env_steps_per_second\n")
    for r in rows:
        f.write(f"{r[0]},{r[1]:.0f},{r[2]:.4f},{r[3]:.0f}\n")
if rows:
    print(f"median of {len(rows)}/{len(seeds)} seeds: {statistics.median(r[1] for r in rows):.0f} steps, "
          f"{statistics.median(r[2] for r in rows):.3f} s training, {statistics.median(r[3] for r in rows):,.0f} steps/s")
PY
