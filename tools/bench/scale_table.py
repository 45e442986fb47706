#!/usr/bin/python3
"""Tables, per-epoch CSVs and plots of the learning-at-scale benchmark (tools/bench/scale_learning.sh).

    /usr/bin/python3 tools/bench/scale_table.py DIR [--csv-dir tools/bench/results/scale] [--plot FILE]

For every run file under DIR: algorithm, ranks, batch form (--steps-per-epoch or
--steps-per-rank), --epoch-end, the first epoch whose AverageEpRet reaches --target (475,
CartPole's "solved") and the environment steps by then, the final return (mean AverageEpRet of
the last 5 epochs), and the number of epochs after epoch 3 with no finished episode (NaN return).
Runs of several seeds with the same settings (Hopper) are also summarised as mean ± population
std over seeds of the mean AverageEpRet over the last 10 epochs before --at-steps (default 1M).
--csv-dir writes each run's per-epoch table (Epoch, TotalEnvInteracts, AverageEpRet, EpLen,
Episodes, Time) as <run dir name>.csv, small enough to commit.
"""
import argparse
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import rlmpi_runs as rr  # noqa: E402  (the tools' shared run-file reader)

CSV_COLUMNS = ["Epoch", "TotalEnvInteracts", "AverageEpRet", "EpLen", "Episodes", "Time"]


def settings(run):
    a = run.attrs
    per_rank = int(a.get("config.steps-per-rank", 0) or 0)
    batch = f"{per_rank}/rank" if per_rank else f"{int(a.get('config.steps-per-epoch', 0))}/epoch"
    return (run.algorithm, run.environment, int(a.get("num_ranks", 0)), batch, str(a.get("config.epoch-end", "reset")))


def first_reach(run, target):
    ret = run.column("AverageEpRet")
    hit = np.nonzero(ret >= target)[0]
    if len(hit) == 0:
        return None, None
    i = int(hit[0])
    return i, int(run.column("TotalEnvInteracts")[i])


def window_mean(run, at_steps, k=10):
    steps = run.column("TotalEnvInteracts")
    ret = run.column("AverageEpRet")
    end = int(np.searchsorted(steps, at_steps, side="right"))
    if end == 0 or steps[end - 1] < at_steps * 0.999:
        return None
    return float(np.nanmean(ret[max(0, end - k):end]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--target", type=float, default=475)
    ap.add_argument("--at-steps", type=float, default=1e6)
    ap.add_argument("--csv-dir")
    ap.add_argument("--plot")
    args = ap.parse_args()
    try:
        runs = rr.load_runs([args.dir], warn=lambda m: print("warning:", m, file=sys.stderr))
    except rr.RunError as e:
        sys.exit(f"scale_table.py: error: {e}")
    runs.sort(key=lambda r: (settings(r), r.seed))

    print(f"| algo | env | ranks | batch | epoch end | seed | epochs | epoch to {args.target:g} | steps to "
          f"{args.target:g} | final (last 5) | NaN epochs after 3 |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        algo, env, np_, batch, mode = settings(r)
        ep, steps = first_reach(r, args.target)
        ret = r.column("AverageEpRet")
        nan_after = int(np.sum(np.isnan(ret[4:])))
        final = float(np.nanmean(ret[-5:])) if np.any(np.isfinite(ret[-5:])) else float("nan")
        print(f"| {algo} | {env} | {np_} | {batch} | {mode} | {r.seed} | {r.num_epochs} | "
              f"{'-' if ep is None else ep} | {'-' if steps is None else f'{steps:,}'} | {final:.1f} | {nan_after} |")

    groups = {}
    for r in runs:
        groups.setdefault(settings(r), []).append(r)
    multi = {k: v for k, v in groups.items() if len(v) > 1}
    if multi:
        print(f"\nMean ± std over seeds of AverageEpRet over the 10 epochs up to {args.at_steps:,.0f} steps:\n")
        print("| algo | env | ranks | batch | epoch end | seeds | at steps | per seed |")
        print("|---|---|---:|---|---|---|---:|---|")
        for (algo, env, np_, batch, mode), rs in multi.items():
            vals = [window_mean(r, args.at_steps) for r in rs]
            done = [v for v in vals if v is not None]
            cell = f"{np.mean(done):.0f} ± {np.std(done):.0f}" if done else "-"
            per = ", ".join("-" if v is None else f"{v:.0f}" for v in vals)
            print(f"| {algo} | {env} | {np_} | {batch} | {mode} | {','.join(str(r.seed) for r in rs)} | {cell} | {per} |")

    if args.csv_dir:
        os.makedirs(args.csv_dir, exist_ok=True)
        for r in runs:
            name = os.path.basename(os.path.dirname(os.path.abspath(r.path)))
            with open(os.path.join(args.csv_dir, name + ".csv"), "w", newline="") as f:
                w = csv.writer(f)
                cols = [c for c in CSV_COLUMNS if c in r.epochs]
                w.writerow(cols)
                for i in range(r.num_epochs):
                    w.writerow([f"{r.column(c)[i]:.6g}" for c in cols])

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        keys = sorted({(s[0], s[1], s[3].split("/")[1], s[4]) for s in groups})
        ncols = min(2, len(keys))
        nrows = (len(keys) + ncols - 1) // ncols
        fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 4 * nrows), squeeze=False)
        for ax in axes.flat[len(keys):]:
            ax.set_visible(False)
        for ax, (algo, env, form, mode) in zip(axes.flat, keys):
            for (a, e, np_, batch, m), rs in sorted(groups.items(), key=lambda kv: kv[0][2]):
                if (a, e, batch.split("/")[1], m) != (algo, env, form, mode):
                    continue
                for j, r in enumerate(rs):
                    ax.plot(r.column("TotalEnvInteracts"), r.column("AverageEpRet"), lw=1,
                            color=f"C{[1, 2, 4, 8, 16].index(np_) if np_ in (1, 2, 4, 8, 16) else 5}",
                            label=f"{np_} ranks" if j == 0 else None)
            ax.set_title(f"{algo} {env}, --steps-per-{form}, epoch end {mode}", fontsize=9)
            ax.set_xlabel("Environment steps")
            ax.set_ylabel("Average episode return")
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=90)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
