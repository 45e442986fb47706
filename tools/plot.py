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
recursively for run.h5 files (e.g. a whole runs/ tree). Runs with the same algorithm and
environment (usually different seeds) form one group, drawn as the mean over seeds with a shaded
band of +-1 standard deviation (population std, ddof=0) and labelled "algo env (n seeds)".
Works on runs that are still being written or were killed (each file is read once and closed).
"""

EPILOG = """\
smoothing: --smooth K is Spinning Up's centred moving average over K epochs, normalised at the
  edges: conv(y, ones(K), 'same') / conv(ones_like(y), ones(K), 'same'); epochs with NaN (no
  episode finished) are left out of both sums. Each run is smoothed before averaging over seeds.
runs of different lengths: the curves of a group are cut to the common x range, i.e. to the
  shortest run of the group (a run still going or killed early shortens its whole group); if
  the x values differ inside that range (e.g. different --steps-per-epoch), the runs are
  linearly interpolated onto the x values of the run that ends first.
printed: the output file, then per group and metric the final smoothed mean +- std.
exit codes: 0 written, 2 bad input (no run files, unknown metric or x, bad output name).

example: tools/plot.py runs/ --metric AverageEpRet --metric LossV --smooth 5 --out curves.png
"""


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="RUN_OR_DIR", help="run.h5 files or directories")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help="/epochs column to plot (default AverageEpRet); repeat for one subplot each")
    p.add_argument("--x", default="TotalEnvInteracts", metavar="NAME",
                   help="/epochs column for the x axis (default TotalEnvInteracts; also Epoch, Time)")
    p.add_argument("--smooth", type=int, default=1, metavar="K",
                   help="moving-window width in epochs (default 1 = no smoothing)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="output figure, .png or .svg (.pdf also works)")
    p.add_argument("--title", default=None, metavar="T", help="figure title")
    p.add_argument("--dpi", type=int, default=120, help="PNG resolution (default 120)")
    a = p.parse_args(argv)
    a.metric = a.metric or ["AverageEpRet"]
    return a


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

    runs = rr.load_runs(a.paths, warn=lambda m: print(f"{PROG}: note: {m}", file=sys.stderr))
    rr.check_column(runs, a.x, "x column")
    for m in a.metric:
        rr.check_column(runs, m, "metric")
    groups = rr.group_runs(runs)

    n = len(a.metric)
    fig, axes = plt.subplots(n, 1, figsize=(7.5, 3.6 * n + 0.6), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    report = []
    for ax, metric in zip(axes[:, 0], a.metric):
        for gi, (key, members) in enumerate(groups.items()):
            usable = [r for r in members if metric in r.epochs and a.x in r.epochs]
            if len(usable) < len(members):
                print(f"{PROG}: note: {len(members) - len(usable)} run(s) of {key[0]} {key[1]} have "
                      f"no column '{metric}' or '{a.x}'; left out of that plot", file=sys.stderr)
            if not usable:
                continue
            x, Y, cut = rr.aligned(usable, a.x, metric, a.smooth)
            mean, std = rr.mean_std(Y)
            color = colors[gi % len(colors)]
            label = rr.group_label(key, len(usable))
            ax.plot(x, mean, color=color, label=label, linewidth=1.6,
                    marker="o" if len(x) == 1 else None)
            if len(usable) > 1:
                ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
            report.append((label, metric, mean[-1] if len(mean) else np.nan,
                           std[-1] if len(std) else np.nan, x[-1] if len(x) else np.nan, len(x), cut))
        ax.set_xlabel(a.x)
        ax.set_ylabel(metric + (f" (smoothed, K={a.smooth})" if a.smooth > 1 else ""))
        ax.grid(True, alpha=0.3)
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
    try:
        sys.exit(main(sys.argv[1:]))
    except rr.RunError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # report piped into head: the figure is already written
        sys.exit(0)
