#!/usr/bin/python3
"""End-to-end training throughput of the rlmpi binary (issue 10), default hyperparameters.

For every (env, algo, ranks, precision) it runs `rlmpi --epochs E` R times and reads the run
file: steps/s including the update (/epochs/StepsPerSecond), the wall-time shares of rollout /
update / MPI / file writes (TimeRollout, TimeUpdate, TimeComm, TimeIO), and the update's GEMM
rate when the env is one whose FLOP count we know. Per run, the median over epochs 1..E-1
(epoch 0 includes warm-up); per configuration, the median over the R runs. Then weak scaling:
the same per-rank work (4000 steps per rank, no KL early stop) with 1 and 2 ranks, efficiency = epoch time with
1 rank / epoch time with 2 ranks.

    /usr/bin/python3 tools/bench/speed.py [--bin build/rlmpi] [--reps 3] [--epochs 4]
        [--envs CartPole-v1,Pendulum-v1,Hopper-v5] [--algos ppo,trpo] [--ranks 1,2]
        [--precisions double,float] [--isas auto] [--out DIR] [--no-weak]
    Runs are interleaved: repetition r of every configuration runs before repetition r + 1 of any,
    so a machine's load hits every configuration alike and the ratios of one invocation compare.
    /usr/bin/python3 tools/bench/speed.py --time-to-475 [--seeds 0,1,2,3,4] [--bin ...]
        PPO CartPole-v1, 2 ranks, default hyperparameters, 30 epochs per seed and precision:
        the first epoch whose AverageEpRet >= 475 and the wall time (Time column) at its end.

Prints a markdown table (paste it into tools/bench/RESULTS.md with the machine and date).
Runs with 2 ranks use --oversubscribe; run on an otherwise idle machine.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import h5py
import numpy as np


def run_once(binary, out, env, algo, ranks, precision, epochs, steps, extra=(), isa="auto"):
    if os.path.exists(out):
        shutil.rmtree(out)
    cmd = [binary, "--env", env, "--algo", algo, "--precision", precision, "--epochs", str(epochs),
           "--steps-per-epoch", str(steps), "--quiet", "--out", out, "--isa", isa, *extra]
    if ranks > 1:
        cmd = ["mpiexec", "-q", "-n", str(ranks), "--oversubscribe"] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        e = {k: np.asarray(f["epochs"][k][()], dtype=float) for k in f["epochs"].keys()}
    sl = slice(1, None) if epochs > 1 else slice(0, None)
    med = {k: float(np.median(v[sl])) for k, v in e.items()}
    med["epoch_s"] = med["TimeRollout"] + med["TimeUpdate"] + med["TimeComm"]
    return med


def summarize(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def time_to_475(a, scratch):
    print("| precision | seed | first epoch >= 475 | wall s at that epoch | median steps/s |")
    print("|---|---:|---:|---:|---:|")
    for prec in a.precisions.split(","):
        hits = []
        for seed in map(int, a.seeds.split(",")):
            out = os.path.join(scratch, f"ttt-{prec}-{seed}")
            if os.path.exists(out):
                shutil.rmtree(out)
            subprocess.run(["mpiexec", "-q", "-n", "2", "--oversubscribe", a.bin, "--precision", prec, "--seed",
                            str(seed), "--epochs", "30", "--quiet", "--out", out], check=True,
                           stdout=subprocess.DEVNULL)
            with h5py.File(os.path.join(out, "run.h5"), "r") as f:
                ret = f["epochs/AverageEpRet"][()]
                t = f["epochs/Time"][()]
                sps = float(np.median(f["epochs/StepsPerSecond"][()]))
            hit = np.nonzero(ret >= 475)[0]
            e = int(hit[0]) if len(hit) else None
            hits.append((e, t[e] if e is not None else None))
            print(f"| {prec} | {seed} | {e if e is not None else '-'} | "
                  f"{t[e]:.1f} |" if e is not None else f"| {prec} | {seed} | - | - |", f" {sps:.0f} |", flush=True)
        es = [h[0] for h in hits if h[0] is not None]
        ts = [h[1] for h in hits if h[1] is not None]
        if es:
            print(f"| {prec} | median | {statistics.median(es)} | {statistics.median(ts):.1f} | |", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/rlmpi", help="rlmpi binary; a comma list compares builds (column binary: 1, 2, ...)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--envs", default="CartPole-v1,Pendulum-v1,Hopper-v5")
    ap.add_argument("--algos", default="ppo,trpo")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--precisions", default="double,float")
    ap.add_argument("--isas", default="auto", help="kernel instruction sets to compare (--isa), e.g. sse2,avx2")
    ap.add_argument("--out", default=None, help="scratch directory for the runs (default: a temp dir)")
    ap.add_argument("--no-weak", action="store_true")
    ap.add_argument("--time-to-475", action="store_true")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    a = ap.parse_args()
    if os.geteuid() == 0:
        os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    os.environ.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    scratch = a.out or tempfile.mkdtemp(prefix="rlmpi-speed-")
    print(f"binary {a.bin}, {a.reps} runs x {a.epochs} epochs each, medians; scratch {scratch}", flush=True)
    if a.time_to_475:
        return time_to_475(a, scratch)
    print()
    bins = a.bin.split(",")
    configs = [(env, algo, ranks, prec, isa, b) for env in a.envs.split(",") for algo in a.algos.split(",")
               for ranks in map(int, a.ranks.split(",")) for prec in a.precisions.split(",")
               for isa in a.isas.split(",") for b in range(len(bins))]
    runs = {c: [] for c in configs}
    for r in range(a.reps):  # interleaved: see the docstring
        for c in configs:
            env, algo, ranks, prec, isa, b = c
            runs[c].append(run_once(bins[b], os.path.join(scratch, f"{env}-{algo}-{ranks}-{prec}-{isa}-{b}-{r}"), env,
                                    algo, ranks, prec, a.epochs, 4000, isa=isa))
    print("| env | algo | ranks | precision | isa | binary | steps/s | rollout % | update % | MPI % | I/O % | epoch s |")
    print("|---|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
    for c in configs:
        env, algo, ranks, prec, isa, b = c
        m = summarize(runs[c])
        wall = m["epoch_s"] + m["TimeIO"]
        share = {k: 100 * m[k] / wall for k in ("TimeRollout", "TimeUpdate", "TimeComm", "TimeIO")}
        print(f"| {env} | {algo} | {ranks} | {prec} | {isa} | {b + 1} | {m['StepsPerSecond']:.0f} | "
              f"{share['TimeRollout']:.1f} | {share['TimeUpdate']:.1f} | {share['TimeComm']:.1f} | "
              f"{share['TimeIO']:.1f} | {m['epoch_s']:.3f} |", flush=True)
    if a.no_weak:
        return 0
    print()
    print("Weak scaling (4000 steps per rank, PPO CartPole-v1, --target-kl 1e9 so that every epoch runs all 80")
    print("policy iterations: the same work per rank): epoch time = rollout + update + MPI, medians")
    print()
    print("| precision | 1 rank epoch s | 2 ranks epoch s | efficiency |")
    print("|---|---:|---:|---:|")
    for prec in a.precisions.split(","):
        t = {}
        for ranks in (1, 2):
            runs = [run_once(a.bin, os.path.join(scratch, f"weak-{ranks}-{prec}-{r}"), "CartPole-v1", "ppo", ranks,
                             prec, a.epochs, 4000 * ranks, ("--target-kl", "1e9")) for r in range(a.reps)]
            t[ranks] = summarize(runs)["epoch_s"]
        print(f"| {prec} | {t[1]:.3f} | {t[2]:.3f} | {100 * t[1] / t[2]:.1f} % |", flush=True)
    if not a.out:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
