#!/usr/bin/python3
"""Table of the final performance of rlmpi runs (run.h5 files), one row per configuration."""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import rlmpi_runs as rr  # noqa: E402

PROG = "summary.py"

DESCRIPTION = """\
Print the final performance of rlmpi runs, one row per group: runs whose configuration is the
same except for the seed (every config.<option> of the run file and the rank count count;
--epochs, --out, --resume, --checkpoint-every, --stall-timeout, --quiet do not). The config
column names, per environment, the options that differ between the groups (e.g. hid=32,32). Two
runs of one group with the same seed are duplicates (a copied or repeated run): the longer is
used, the others are reported on stderr and counted in the dup column, never as seeds.
RUN_OR_DIR is a run file or a directory searched recursively for run.h5 files. Works on runs
that are still being written or were killed (each file is read once and closed); such runs
count with the epochs they have.
"""

EPILOG = """\
columns:
  config             the options in which this group differs from others of its environment
                     (shown only when some group differs; '-' when it does not)
  seeds, seed list   number of runs in the group and their seeds
  epochs             epochs written (min-max over the runs when they differ)
  finished           runs that reached their --epochs (config.epochs) / runs
  TotalEnvInteracts  at each run's last epoch (min-max when they differ)
  METRIC (last K)    per run: the mean of METRIC over its last K epochs (K = --last, or all
                     epochs of a shorter run; NaN epochs left out); then mean +- std
                     (population, ddof=0) of those per-run values over the group. Runs are NOT
                     cut to a common length here: each contributes its own last K epochs (a
                     warning says when the runs of a group differ in length).
  best (seed)        the highest per-run value and its seed
  wall s             Time (wall seconds) at the last epoch, mean over the runs (--csv: also max)
  dup                duplicate run files left out (shown only when there are any)
exit codes: 0 printed, 2 bad input (no run files, unknown metric or option, nothing selected).

examples:
  tools/summary.py runs/ --metric AverageEpRet --last 10
  tools/summary.py runs/ --select env=Hopper-v4 --exclude seed=0 --csv
"""

CSV_FIELDS = ["algorithm", "environment", "config", "n_seeds", "seeds", "epochs_min", "epochs_max",
              "finished", "total_env_interacts_min", "total_env_interacts_max", "metric", "last_k", "mean",
              "std", "best", "best_seed", "wall_time_s_mean", "wall_time_s_max", "duplicates"]


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="RUN_OR_DIR", help="run.h5 files or directories")
    p.add_argument("--metric", default="AverageEpRet", metavar="NAME",
                   help="/epochs column to summarise (default AverageEpRet)")
    p.add_argument("--last", type=int, default=10, metavar="K",
                   help="average each run's metric over its last K epochs (default 10)")
    rr.add_selection_args(p)
    p.add_argument("--csv", action="store_true", help="machine-readable CSV (full precision) instead")
    return p.parse_args(argv)


def warn(message, level="note"):
    print(f"{PROG}: {level}: {message}", file=sys.stderr)


def summarise(group, metric, k):
    usable = [r for r in group.runs if metric in r.epochs]
    if not usable:
        return None
    per_run = [rr.last_k_mean(r.epochs[metric], k) for r in usable]
    vals = np.array(per_run, dtype=np.float64)
    mean, std = rr.mean_std(vals[:, None])
    finite = [i for i, v in enumerate(per_run) if np.isfinite(v)]
    best_i = max(finite, key=lambda i: per_run[i]) if finite else None
    epochs = [r.num_epochs for r in usable]
    steps = [float(r.epochs["TotalEnvInteracts"][-1]) for r in usable if "TotalEnvInteracts" in r.epochs]
    wall = [float(r.epochs["Time"][-1]) for r in usable if "Time" in r.epochs]
    finished = sum(1 for r in usable if r.planned_epochs is not None and r.num_epochs >= r.planned_epochs)
    if min(epochs) != max(epochs):
        warn(f"{group.label(len(usable))}: runs differ in length ("
             + ", ".join(f"seed {r.seed}: {r.num_epochs}" for r in usable)
             + f" epochs); each contributes its own last {k} epochs, they are not cut to a common length",
             "WARNING")
    return {
        "algorithm": group.algorithm, "environment": group.environment, "config": group.config_text(),
        "n_seeds": len(usable), "seeds": [r.seed for r in usable],
        "epochs_min": min(epochs), "epochs_max": max(epochs), "finished": finished,
        "total_env_interacts_min": min(steps) if steps else np.nan,
        "total_env_interacts_max": max(steps) if steps else np.nan,
        "metric": metric, "last_k": k, "mean": float(mean[0]), "std": float(std[0]),
        "best": per_run[best_i] if best_i is not None else np.nan,
        "best_seed": usable[best_i].seed if best_i is not None else "",
        "wall_time_s_mean": float(np.mean(wall)) if wall else np.nan,
        "wall_time_s_max": max(wall) if wall else np.nan,
        "duplicates": sum(len(others) for _, others in group.duplicates),
    }


def pm():
    enc = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "±".encode(enc)
        return " ± "
    except (UnicodeEncodeError, LookupError):
        return " +- "


def print_table(rows, metric, k, n_runs):
    sep = pm()
    with_config = any(s["config"] for s in rows)
    with_dups = any(s["duplicates"] for s in rows)
    header = (["algorithm", "env"] + (["config"] if with_config else [])
              + ["seeds", "seed list", "epochs", "finished", "TotalEnvInteracts",
                 f"{metric} (last {k})", "best (seed)", "wall s"] + (["dup"] if with_dups else []))
    left = {"algorithm", "env", "config", "seed list"}
    lines = []
    for s in rows:
        epochs = str(s["epochs_min"]) if s["epochs_min"] == s["epochs_max"] else f"{s['epochs_min']}-{s['epochs_max']}"
        steps = (rr.fmt(s["total_env_interacts_min"]) if s["total_env_interacts_min"] == s["total_env_interacts_max"]
                 else f"{rr.fmt(s['total_env_interacts_min'])}-{rr.fmt(s['total_env_interacts_max'])}")
        cells = ([s["algorithm"], s["environment"]] + ([s["config"] or "-"] if with_config else [])
                 + [str(s["n_seeds"]), ",".join(str(x) for x in s["seeds"]), epochs,
                    f"{s['finished']}/{s['n_seeds']}", steps, f"{rr.fmt(s['mean'])}{sep}{rr.fmt(s['std'])}",
                    f"{rr.fmt(s['best'])} ({s['best_seed']})", f"{s['wall_time_s_mean']:.1f}"]
                 + ([str(s["duplicates"])] if with_dups else []))
        lines.append(cells)
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(header)]

    def row(cells):
        return "  ".join(c.ljust(w) if header[i] in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    print(row(header))
    print("  ".join("-" * w for w in widths))
    for l in lines:
        print(row(l))
    dups = sum(s["duplicates"] for s in rows)
    print(f"({n_runs} run(s){f', {dups} duplicate(s) left out' if dups else ''}; {metric}: per run the mean of its last {k} epochs or all of a shorter run, "
          f"then mean{sep.strip()}std over the runs of a group)")


def main(argv):
    a = parse_args(argv)
    if a.last < 1:
        raise rr.RunError(f"--last must be an integer >= 1, got {a.last}")
    runs = rr.load_selected(a, warn)
    rr.check_column(runs, a.metric, "metric")
    rows = []
    for g in rr.group_by_config(runs, ignore=a.ignore, warn=lambda m: warn(m, "warning")):
        s = summarise(g, a.metric, a.last)
        if s is None:
            warn(f"{g.name()} has no column '{a.metric}'; left out")
            continue
        rows.append(s)
    if a.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        for s in rows:
            s = dict(s, seeds=" ".join(str(x) for x in s["seeds"]))
            w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in s.items()})
    else:
        print_table(rows, a.metric, a.last, len(runs))
    return 0


if __name__ == "__main__":
    rr.run_main(main, PROG)
