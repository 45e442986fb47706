#!/usr/bin/python3
"""Plot learning curves of rlmpi runs (run.h5 files) into a PNG or SVG file."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import rlmpi_runs as rr  # noqa: E402

PROG = "plot.py"
FORMATS = ("png", "svg", "pdf")

DESCRIPTION = """\
Plot learning curves of rlmpi runs. RUN_OR_DIR is a run file or a directory searched
recursively for run.h5 files (e.g. a whole runs/ tree). Runs whose configuration is the same
except for the seed form one group (every config.<option> of the run file and the rank count
count; --epochs, --out, --resume, --checkpoint-every, --stall-timeout, --quiet do not), drawn
as the mean over seeds with a shaded band of +-1 standard deviation (population std, ddof=0).
Legends name the algorithm and the options that differ between the runs of an environment, e.g.
"ppo hid=32,32 (3 seeds)". Each environment and --metric gets a subplot: a row per metric and a
column per environment (one metric: up to 3 environments per row). Two runs of one group with the same seed are duplicates (a copied or repeated run): the
longer is used, the others are reported on stderr, never counted as seeds. Works on runs that
are still being written or were killed (each file is read once and closed).
"""

EPILOG = """\
smoothing: --smooth K is Spinning Up's centred moving average over K epochs, normalised at the
  edges: conv(y, ones(K), 'same') / conv(ones_like(y), ones(K), 'same'); epochs with NaN (no
  episode finished) are left out of both sums. Each run is smoothed before averaging over seeds.
runs of different lengths: the mean and band of a group are cut to the common x range, i.e. to
  the shortest run of the group (a run still going or killed early shortens its whole group);
  if the x values differ inside that range, the runs are linearly interpolated onto the x values
  of the run that ends first. This prints a WARNING on stderr and marks the legend entry;
  --per-seed shows every run in full.
printed: the output file, then per group and metric the final smoothed mean +- std.
exit codes: 0 written, 2 bad input (no run files, unknown metric, x or option, nothing
  selected, bad output name).

examples:
  tools/plot.py runs/ --metric AverageEpRet --metric LossV --smooth 5 --out curves.png
  tools/plot.py runs/ --select algo=ppo --exclude hid=8 --per-seed --out ppo.svg
  tools/plot.py runs/ --ignore ranks --out curves.png     # average over rank counts too
"""


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="RUN_OR_DIR", help="run.h5 files or directories")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help="/epochs column to plot (default AverageEpRet); repeat for one row of subplots each")
    p.add_argument("--x", default="TotalEnvInteracts", metavar="NAME",
                   help="/epochs column for the x axis (default TotalEnvInteracts; also Epoch, Time)")
    p.add_argument("--smooth", type=int, default=1, metavar="K",
                   help="moving-window width in epochs (default 1 = no smoothing)")
    p.add_argument("--per-seed", action="store_true",
                   help="also draw every run (seed) as a thin line, in full, in its group's colour")
    p.add_argument("--envs-together", action="store_true",
                   help="one subplot per metric for all environments (default: a subplot per environment)")
    rr.add_selection_args(p)
    p.add_argument("--out", required=True, metavar="FILE",
                   help="output figure, .png or .svg (.pdf also works)")
    p.add_argument("--title", default=None, metavar="T", help="figure title")
    p.add_argument("--dpi", type=int, default=120, help="PNG resolution (default 120)")
    a = p.parse_args(argv)
    a.metric = a.metric or ["AverageEpRet"]
    return a


def warn(message, level="note"):
    print(f"{PROG}: {level}: {message}", file=sys.stderr)


def cut_warning(group, usable, x_name, x, metric):
    lengths = ", ".join(f"seed {r.seed}: {r.num_epochs}" for r in usable)
    xe = rr.fmt(x[-1]) if len(x) else "nan"
    warn(f"{group.label(len(usable))}: its runs differ in length (epochs {lengths}); the mean and band "
         f"of {metric} are cut to the common range, {len(x)} points up to {x_name} = {xe} "
         f"(--per-seed draws every run in full)", "WARNING")


def main(argv):
    a = parse_args(argv)
    if a.smooth < 1:
        raise rr.RunError(f"--smooth must be an integer >= 1, got {a.smooth}")
    ext = os.path.splitext(a.out)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise rr.RunError(f"--out '{a.out}': unsupported extension (use .png or .svg)")
    out_dir = os.path.dirname(os.path.abspath(a.out))
    if not os.path.isdir(out_dir):
        raise rr.RunError(f"--out '{a.out}': directory '{out_dir}' does not exist")

    runs = rr.load_selected(a, warn)
    rr.check_column(runs, a.x, "x column")
    for m in a.metric:
        rr.check_column(runs, m, "metric")
    groups = rr.group_by_config(runs, ignore=a.ignore, warn=lambda m: warn(m, "warning"))

    envs = [None] if a.envs_together else list(dict.fromkeys(g.environment for g in groups))
    panels = [(metric, env) for metric in a.metric for env in envs]
    if len(a.metric) == 1:  # one metric: the environments wrap, at most 3 per row
        ncol = min(3, len(envs))
        nrow = -(-len(envs) // ncol)
    else:                   # a row per metric, a column per environment
        nrow, ncol = len(a.metric), len(envs)
    fig, axes = plt.subplots(nrow, ncol, figsize=(7.5 if ncol == 1 else 5.6 * ncol, 3.6 * nrow + 0.6),
                             squeeze=False)
    for ax in axes.flat[len(panels):]:
        fig.delaxes(ax)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    report, warned_cut = [], set()
    for ax, (metric, env) in zip(axes.flat, panels):
        for gi, g in enumerate(groups):
            if env is not None and g.environment != env:
                continue
            usable = [r for r in g.runs if metric in r.epochs and a.x in r.epochs]
            if len(usable) < len(g.runs):
                warn(f"{len(g.runs) - len(usable)} run(s) of {g.name()} have no column '{metric}' "
                     f"or '{a.x}'; left out of that plot")
            if not usable:
                continue
            color = colors[gi % len(colors)]
            if a.per_seed:
                for r in usable:
                    ys = rr.smooth(r.epochs[metric], a.smooth)
                    ax.plot(r.epochs[a.x], ys, color=color, linewidth=0.7, alpha=0.55,
                            marker="." if len(ys) == 1 else None)
            x, Y, cut = rr.aligned(usable, a.x, metric, a.smooth)
            mean, std = rr.mean_std(Y)
            if cut and g.key not in warned_cut:
                cut_warning(g, usable, a.x, x, metric)
                warned_cut.add(g.key)
            label = g.label(len(usable), with_env=env is None)
            full_label = g.label(len(usable))
            if not np.isfinite(mean).any():
                # nothing to draw: no legend entry without a curve
                warn(f"{full_label}: no finite value of {metric} in the common range "
                     f"({len(x)} points); not drawn")
                report.append((full_label, metric, np.nan, np.nan, np.nan, len(x), cut))
                continue
            if cut:
                label += ", cut to the shortest run"
            ax.plot(x, mean, color=color, label=label, linewidth=1.6,
                    marker="o" if np.isfinite(mean).sum() == 1 else None)
            if len(usable) > 1:
                ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
            report.append((full_label, metric, mean[-1], std[-1], x[-1], len(x), cut))
        ax.set_xlabel(rr.axis_label(a.x, runs))
        ax.set_ylabel(rr.axis_label(metric, runs) + (f", smoothed over {a.smooth} epochs" if a.smooth > 1 else ""))
        if env is not None:
            ax.set_title(env, fontsize="medium")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small", frameon=False)
        if a.x == "TotalEnvInteracts":
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.out, dpi=a.dpi)
    plt.close(fig)

    print(f"wrote {a.out} ({len(runs)} run(s) in {len(groups)} group(s))")
    for label, metric, m, s, xe, npts, cut in report:
        note = f"; cut to the shortest run, {npts} epochs" if cut else ""
        print(f"  {label}: final {metric} = {rr.fmt(m)} +- {rr.fmt(s)} at {a.x} = {rr.fmt(xe)}"
              f" (smooth {a.smooth}{note})")
    return 0


if __name__ == "__main__":
    rr.run_main(main, PROG)
