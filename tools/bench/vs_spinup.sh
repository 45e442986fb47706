#!/usr/bin/env bash
# Spinning Up PPO CartPole-v1 (its PyTorch code, 1 process, 1 torch thread) vs rlmpi PPO CartPole-v1
# (1 rank, default build, float), 50 epochs each, seeds 1-3, alternated; steps/s over epochs 1..49
# (epoch 0 = warm-up) from each run's own Time column; AverageEpRet per epoch for the curves.
#   tools/bench/vs_spinup.sh [OUT_DIR] [RLMPI]   (SPINUP_RUN: Spinning Up's runner, default
#   ../shared/anchors/spinup/run.sh; needs Debian's python3-torch, python3-mpi4py, python3-scipy and
#   python3-joblib). Writes OUT_DIR/curves.csv. ~10 min.
set -u
cd "$(dirname "$0")/../.."
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
R=$(realpath -m "${1:-bench-runs/vs-spinup}"); B=$(realpath "${2:-build/rlmpi}"); mkdir -p "$R"
for rep in 1 2 3; do
  rm -rf $R/spinup-$rep; OUT=$R/spinup-$rep bash "$(realpath "${SPINUP_RUN:-../shared/anchors/spinup/run.sh}")" ppo CartPole-v1 1 50 $rep > $R/spinup-$rep.log 2>&1
  rm -rf $R/rlmpi-$rep; $B --epochs 50 --seed $rep --out $R/rlmpi-$rep --quiet > /dev/null
done
/usr/bin/python3 - $R <<'PY'
import sys, statistics, h5py
R = sys.argv[1]
def su(p):
    rows = [l.rstrip('\n').split('\t') for l in open(p)]; h = rows[0]
    t = [float(r[h.index('Time')]) for r in rows[1:]]; ret = [float(r[h.index('AverageEpRet')]) for r in rows[1:]]
    return 49 * 4000 / (t[49] - t[0]), ret
def rl(p):
    f = h5py.File(p, 'r'); t = f['epochs/Time'][()]; return 49 * 4000 / (t[49] - t[0]), list(f['epochs/AverageEpRet'][()])
s = [su(f'{R}/spinup-{i}/progress.txt') for i in (1, 2, 3)]
r = [rl(f'{R}/rlmpi-{i}/run.h5') for i in (1, 2, 3)]
print('steps/s over epochs 1-49: spinup', [round(x[0]) for x in s], 'rlmpi', [round(x[0]) for x in r])
ms, mr = statistics.median(x[0] for x in s), statistics.median(x[0] for x in r)
print(f'median: spinup {ms:.0f}  rlmpi {mr:.0f}  ratio {mr / ms:.1f}x')
def first(ret, thr=475):
    return next((i for i, v in enumerate(ret) if v >= thr), None)
print('first epoch with AverageEpRet >= 475: spinup', [first(x[1]) for x in s], 'rlmpi', [first(x[1]) for x in r])
print('mean AverageEpRet of epochs 40-49: spinup', [round(sum(x[1][40:50]) / 10) for x in s], 'rlmpi', [round(sum(x[1][40:50]) / 10) for x in r])
with open(f'{R}/curves.csv', 'w') as f:
    f.write('epoch,' + ','.join(f'spinup_s{i}' for i in (1, 2, 3)) + ',' + ','.join(f'rlmpi_s{i}' for i in (1, 2, 3)) + '\n')
    for e in range(50):
        f.write(f'{e},' + ','.join(f'{x[1][e]:.2f}' for x in s) + ',' + ','.join(f'{x[1][e]:.2f}' for x in r) + '\n')
PY
