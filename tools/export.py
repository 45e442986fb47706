#!/usr/bin/python3
"""Export the epoch table of rlmpi runs (run.h5 files) as CSV and as Spinning Up's progress.txt."""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import rlmpi_runs as rr  # noqa: E402

PROG = "export.py"

DESCRIPTION = """\
Write the /epochs table of rlmpi runs as text files, one set per run:
  progress.txt  Spinning Up's logger format (spinup.utils.logx): tab-separated, a header line of
                column names, one line per epoch, with Spinning Up's columns for the algorithm in
                its order (Epoch, AverageEpRet, StdEpRet, MaxEpRet, MinEpRet, EpLen, AverageVVals,
                StdVVals, MaxVVals, MinVVals, TotalEnvInteracts, LossPi, LossV, DeltaLossPi,
                DeltaLossV, then ppo: Entropy KL ClipFrac StopIter, vpg: Entropy KL, trpo: KL
                BacktrackIters; then Time); --all-columns appends every other rlmpi column
  config.json   with progress.txt: {"exp_name": ..., the run's options}; exp_name names the
                group as plot.py does among the runs exported together ("ppo CartPole-v1
                hid=32,32"), so Spinning Up's plotter (python -m spinup.run plot DIR) averages
                the seeds of a configuration and keeps configurations apart
  progress.csv  every /epochs column, comma-separated, with a header line
RUN_OR_DIR is a run file or a directory searched recursively for run.h5 files. Files go next to
each run.h5 (so `spinup.run plot runs/` works), or under --out-dir mirroring the run
directories; existing files of these names are replaced. Counts (Epoch, TotalEnvInteracts,
Episodes, StopIter, BacktrackIters, Diverged) are written as integers, everything else at full precision (Python repr: the
shortest text that reads back as the same float64); NaN (an epoch without a finished episode)
is written as nan. Duplicate runs (same configuration and seed) are reported and written once.
"""

EPILOG = """\
exit codes: 0 written, 2 bad input (no run files, unknown option, nothing selected, --stdout
with more than one run, a directory that cannot be written).

examples:
  tools/export.py runs/                            # runs/*/progress.txt, config.json, progress.csv
  tools/export.py runs/ --out-dir spinup/ --format spinup && python -m spinup.run plot spinup/
  tools/export.py runs/a --format csv --stdout > a.csv
"""

# Spinning Up's logger columns per algorithm, in its order (spinup/algos/*/{ppo,vpg,trpo}.py)
_SPINUP_HEAD = ["Epoch", "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "EpLen", "AverageVVals",
                "StdVVals", "MaxVVals", "MinVVals", "TotalEnvInteracts", "LossPi", "LossV", "DeltaLossPi",
                "DeltaLossV"]
SPINUP_COLUMNS = {
    "ppo": _SPINUP_HEAD + ["Entropy", "KL", "ClipFrac", "StopIter", "Time"],
    "vpg": _SPINUP_HEAD + ["Entropy", "KL", "Time"],
    "trpo": _SPINUP_HEAD + ["KL", "BacktrackIters", "Time"],
}
COUNT_COLUMNS = {"Epoch", "TotalEnvInteracts", "Episodes", "StopIter", "BacktrackIters", "Diverged"}  # int64 in the file


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="RUN_OR_DIR", help="run.h5 files or directories")
    p.add_argument("--format", choices=("both", "spinup", "csv"), default="both",
                   help="spinup: progress.txt + config.json; csv: progress.csv; both (default)")
    p.add_argument("--out-dir", metavar="DIR",
                   help="write under DIR/<run directory> instead of next to each run.h5")
    p.add_argument("--stdout", action="store_true",
                   help="one run only, with --format spinup or csv: print the table instead")
    p.add_argument("--all-columns", action="store_true",
                   help="progress.txt: append every rlmpi column Spinning Up does not log")
    rr.add_selection_args(p)
    return p.parse_args(argv)


def warn(message, level="note"):
    print(f"{PROG}: {level}: {message}", file=sys.stderr)


def cell(name, v):
    v = float(v)
    if name in COUNT_COLUMNS and np.isfinite(v) and v.is_integer():
        return str(int(v))
    return repr(v)  # shortest round-trip text; 'nan', 'inf'


def spinup_columns(run, all_columns):
    want = SPINUP_COLUMNS.get(run.algorithm, _SPINUP_HEAD + ["Entropy", "KL", "Time"])
    cols = [c for c in want if c in run.epochs]
    if all_columns:
        cols += [c for c in run.epochs if c not in cols]
    return cols


def table(run, columns, sep):
    lines = [sep.join(columns)]
    for i in range(run.num_epochs):
        lines.append(sep.join(cell(c, run.epochs[c][i]) for c in columns))
    return "\n".join(lines) + "\n"


def spinup_config(run, group):
    cfg = {"exp_name": group.name()}
    for k, v in run.config.items():
        if isinstance(v, float) and not np.isfinite(v):
            v = None
        cfg[k] = v
    return json.dumps(cfg, indent=4, sort_keys=False) + "\n"


def destinations(runs, out_dir):
    """run -> directory for its files."""
    dirs = [os.path.dirname(os.path.abspath(r.path)) for r in runs]
    if out_dir:
        base = os.path.commonpath(dirs) if len(set(dirs)) > 1 else os.path.dirname(dirs[0])
    out = {}
    for r, d in zip(runs, dirs):
        dest = os.path.join(out_dir, os.path.relpath(d, base)) if out_dir else d
        if os.path.basename(r.path) != rr.RUN_FILE_NAME:  # a run file of another name: a subdirectory
            dest = os.path.join(dest, os.path.splitext(os.path.basename(r.path))[0])
        out[r.path] = os.path.normpath(dest)
    return out


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    a = parse_args(argv)
    runs = rr.load_selected(a, warn)
    groups = rr.group_by_config(runs, ignore=a.ignore, warn=lambda m: warn(m, "warning"))
    todo = [(r, g) for g in groups for r in g.runs]
    if a.stdout:
        if a.format == "both":
            raise rr.RunError("--stdout needs --format spinup or --format csv")
        if len(todo) != 1:
            raise rr.RunError(f"--stdout needs exactly one run, got {len(todo)} (use --select or name one run)")
        r, _ = todo[0]
        cols = spinup_columns(r, a.all_columns) if a.format == "spinup" else list(r.epochs)
        sys.stdout.write(table(r, cols, "\t" if a.format == "spinup" else ","))
        return 0
    dest = destinations([r for r, _ in todo], a.out_dir)
    for r, g in todo:
        d = dest[r.path]
        written = []
        try:
            os.makedirs(d, exist_ok=True)
            if a.format in ("both", "spinup"):
                write_atomic(os.path.join(d, "progress.txt"), table(r, spinup_columns(r, a.all_columns), "\t"))
                write_atomic(os.path.join(d, "config.json"), spinup_config(r, g))
                written += ["progress.txt", "config.json"]
            if a.format in ("both", "csv"):
                write_atomic(os.path.join(d, "progress.csv"), table(r, list(r.epochs), ","))
                written.append("progress.csv")
        except OSError as e:
            raise rr.RunError(f"cannot write into '{d}': {e.strerror or e} (--out-dir DIR writes elsewhere)") from None
        print(f"{d}: {', '.join(written)} ({r.num_epochs} epochs, {g.name()} seed {r.seed})")
    return 0


if __name__ == "__main__":
    rr.run_main(main, PROG)
