#!/usr/bin/python3
"""Markdown table of MuJoCo learning runs next to Spinning Up's published curves (issue 9).

    /usr/bin/python3 tools/bench/mujoco_table.py DIR [DIR ...] [--at-steps 1000000]
    /usr/bin/python3 tools/bench/mujoco_table.py --csv-dir tools/bench/results/mujoco [--plot-dir DIR]

With --csv-dir the runs are the per-run tables that tools/bench/mujoco_curves.sh commits
(<variant>-<env>-s<seed>.csv, variant ppo / trpo / ppo-preset, and the final policy's
deterministic evaluation in <...>.eval.txt), so the table survives the machine that ran them;
--plot-dir draws one PNG per task (mean over seeds, each seed thin).

Groups the run files found under each DIR by (algorithm, environment, --normalize-obs) and
prints, per group: the seeds, the environment steps reached (min over the seeds), AverageEpRet
as mean ± population std over the seeds of
  final   each run's mean over its last 10 epochs,
  tail    each run's mean over the last 10 % of its epochs (Spinning Up's "tail" at 3M steps:
          2.7M–3.0M),
  at N    each run's mean over the 10 epochs ending at or just before N steps (--at-steps; shorter runs: -),
and Spinning Up's PyTorch PPO / tf1 TRPO figures for the same task (../shared/reference/
algorithms.md §5.2: v3 tasks, (64,32) tanh nets, 10 seeds, smoothed final / tail at 3M steps).
Runs still going count with the epochs they have, unless --finished-only (then a run counts
only once it reached its --epochs, and the others are listed below the table).
"""
import argparse
import csv
import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import rlmpi_runs as rr  # noqa: E402  (the tools' shared run-file reader)

# Spinning Up, read off its benchmark SVGs (final / tail at 3M steps): PPO PyTorch, TRPO tf1.
SPINUP = {
    ("ppo", "HalfCheetah"): (3262, 3144), ("ppo", "Hopper"): (2477, 2216), ("ppo", "Walker2d"): (2595, 2436),
    ("ppo", "Swimmer"): (117, 117), ("ppo", "Ant"): (2963, 2845),
    ("trpo", "HalfCheetah"): (1984, 1938), ("trpo", "Hopper"): (1887, 1767), ("trpo", "Walker2d"): (1501, 1389),
    ("trpo", "Swimmer"): (92, 91), ("trpo", "Ant"): (1433, 1350),
}


# RL Baselines3 Zoo, one tuned agent per task, deterministic evaluation, 1M steps, MuJoCo v3
# (../shared/reference/algorithms.md §5.4 b).
ZOO = {("ppo", "HalfCheetah"): 5819, ("ppo", "Hopper"): 2410, ("ppo", "Walker2d"): 3479, ("ppo", "Swimmer"): 282,
       ("ppo", "Ant"): 1327, ("trpo", "HalfCheetah"): 1785, ("trpo", "Hopper"): 3618, ("trpo", "Walker2d"): 4933,
       ("trpo", "Swimmer"): 366, ("trpo", "Ant"): 4982}


def read_csv_runs(csv_dir):
    """{(env, variant): [(seed, AverageEpRet, TotalEnvInteracts, eval mean or None)]} from the CSVs."""
    groups = {}
    for path in sorted(glob.glob(os.path.join(csv_dir, "*.csv"))):
        m = re.fullmatch(r"(\w+(?:-preset)?)-(\w+-v\d+)-s(\d+)\.csv", os.path.basename(path))
        if not m:
            continue
        variant, env, seed = m.group(1), m.group(2), int(m.group(3))
        with open(path) as f:
            rows = list(csv.DictReader(f))
        if not rows:
            continue
        ret = np.array([float(r["AverageEpRet"]) for r in rows])
        steps = np.array([float(r["TotalEnvInteracts"]) for r in rows])
        ev = None
        if os.path.exists(path[:-4] + ".eval.txt"):
            with open(path[:-4] + ".eval.txt") as f:
                e = re.search(r"return mean (\S+)", f.read())
            ev = float(e.group(1)) if e else None
        groups.setdefault((env, variant), []).append((seed, ret, steps, ev))
    return groups


def csv_table(a):
    groups = read_csv_runs(a.csv_dir)
    if not groups:
        print(f"no <variant>-<env>-s<seed>.csv files in {a.csv_dir}", file=sys.stderr)
        return 2
    at = a.at_steps
    print(f"| env | variant | seeds | steps | final (last 10 epochs) | tail (last 10 %) | at {at / 1e6:g}M "
          "| deterministic eval (final policy, 10 ep.) | Spinning Up final / tail | Zoo (1M, 1 agent) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---:|")
    for (env, variant), runs in sorted(groups.items()):
        algo = variant.split("-")[0]
        seeds = ",".join(str(r[0]) for r in sorted(runs))
        steps = min(r[2][-1] for r in runs)
        final = [np.nanmean(r[1][-10:]) for r in runs]
        tail = [np.nanmean(r[1][-max(1, len(r[1]) // 10):]) for r in runs]
        at_n = []
        for _, ret, st, _ in runs:
            idx = np.nonzero(st <= at)[0]
            at_n.append(np.nanmean(ret[idx[-10:]]) if len(idx) and st[-1] >= at else None)  # reached: epochs up to it
        su = SPINUP.get((algo, env.split("-")[0]))
        zoo = ZOO.get((algo, env.split("-")[0]))
        print(f"| {env} | {variant} | {seeds} | {steps / 1e6:.2f}M | {fmt(final)} | {fmt(tail)} | {fmt(at_n)} | "
              f"{fmt([r[3] for r in runs])} | {f'{su[0]} / {su[1]}' if su else '-'} | {zoo if zoo else '-'} |")
    if a.plot_dir:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        os.makedirs(a.plot_dir, exist_ok=True)
        for env in sorted({e for e, _ in groups}):
            fig, ax = plt.subplots(figsize=(6, 4))
            for (e, variant), runs in sorted(groups.items()):
                if e != env:
                    continue
                line = None
                for _, ret, st, _ in runs:
                    line = ax.plot(st / 1e6, ret, lw=0.5, alpha=0.35, color=line[0].get_color() if line else None)
                n = min(len(r[1]) for r in runs)
                mean = np.nanmean([r[1][:n] for r in runs], axis=0)
                ax.plot(runs[0][2][:n] / 1e6, mean, lw=1.8, color=line[0].get_color(),
                        label=f"{variant} ({len(runs)} seeds)")
            ax.set_xlabel("environment steps (millions)")
            ax.set_ylabel("average episode return (training)")
            ax.set_title(env)
            ax.legend()
            fig.tight_layout()
            fig.savefig(os.path.join(a.plot_dir, f"{env}.png"), dpi=100)
            plt.close(fig)
    return 0


def is_on(value):
    return str(value).lower() in ("true", "1", "yes", "on")


def fmt(vals):
    vals = [v for v in vals if v is not None and np.isfinite(v)]
    if not vals:
        return "-"
    return f"{np.mean(vals):.0f} ± {np.std(vals):.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--csv-dir", help="read the committed per-run CSVs instead of run files")
    ap.add_argument("--plot-dir", help="with --csv-dir: one PNG per task here")
    ap.add_argument("--at-steps", type=float, default=1e6)
    ap.add_argument("--finished-only", action="store_true")
    a = ap.parse_args()
    if a.csv_dir:
        return csv_table(a)
    if not a.dirs:
        ap.error("give run directories or --csv-dir")
    groups = {}
    unfinished = []
    try:
        runs = rr.load_runs(a.dirs, warn=lambda m: print(m, file=sys.stderr))
    except rr.RunError as e:
        print(f"mujoco_table.py: error: {e}", file=sys.stderr)
        return 2
    for r in runs:
        algo, env, seed = r.algorithm, r.environment, r.seed
        norm = is_on(r.attrs.get("config.normalize-obs", "false"))
        ret, steps = r.column("AverageEpRet"), r.column("TotalEnvInteracts")
        if a.finished_only and r.num_epochs < (r.planned_epochs or 0):
            unfinished.append(f"{algo} {env} seed {seed}{' (normalize-obs)' if norm else ''}: "
                              f"{steps[-1] / 1e6:.2f}M steps so far")
            continue
        groups.setdefault((env, algo, norm), []).append((seed, ret, steps))
    if not groups:
        print("no run files found", file=sys.stderr)
        return 2
    at = a.at_steps
    print(f"| env | algo | obs norm | seeds | steps | final (last 10 epochs) | tail (last 10 %) | at {at / 1e6:g}M "
          "| Spinning Up final / tail |")
    print("|---|---|---|---|---:|---:|---:|---:|---|")
    for (env, algo, norm), runs in sorted(groups.items()):
        seeds = ",".join(str(s) for s, _, _ in sorted(runs))
        steps = min(st[-1] for _, _, st in runs)
        final = [np.nanmean(r[-10:]) for _, r, _ in runs]
        tail = [np.nanmean(r[-max(1, len(r) // 10):]) for _, r, _ in runs]
        at_n = []
        for _, r, st in runs:
            idx = np.nonzero(st <= at)[0]
            at_n.append(np.nanmean(r[idx[-10:]]) if len(idx) and st[-1] >= at else None)
        su = SPINUP.get((algo, env.split("-")[0]))
        su_s = f"{su[0]} / {su[1]}" if su else "-"
        print(f"| {env} | {algo} | {'on' if norm else 'off'} | {seeds} | {steps / 1e6:.2f}M | {fmt(final)} | "
              f"{fmt(tail)} | {fmt(at_n)} | {su_s} |")
    if unfinished:
        print()
        print("Not finished (left out): " + "; ".join(unfinished))
    return 0


if __name__ == "__main__":
    sys.exit(main())
