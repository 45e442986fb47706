"""Shared helpers of tools/plot.py and tools/summary.py: find, load and group rlmpi run files.

A run directory holds run.h5 (schema: include/rlmpi/io/run_file.hpp, README "Output"). The
writer replaces run.h5 atomically at every epoch end, so a plain h5py.File(path, "r") always
sees a complete file: of a running, a finished or a killed run. load_run() opens the file,
copies everything into memory and closes it at once (retrying once on OSError), so it never
holds a running run's file open.

Runs of one group (same algorithm and environment, usually different seeds) may have different
lengths (a run still going, a killed run). aligned() makes them comparable for a mean +- std:
every run is cut to the common x range, i.e. to the shortest run; if the runs' x values differ
inside that range (e.g. different --steps-per-epoch with x = TotalEnvInteracts) the other runs
are linearly interpolated onto the x values of the run whose x range ends first.

Needs h5py and numpy (Debian: /usr/bin/python3 with python3-h5py).
"""
import math
import os
import time
import warnings
from collections import OrderedDict

import h5py
import numpy as np

RUN_FILE_NAME = "run.h5"
FILE_FORMAT = "rlmpi-run-1"


class RunError(Exception):
    """Bad input (missing path, no run files, not a run file, unknown metric): exit code 2."""


class Run:
    """One run file read into memory.

    path      the run.h5 path
    attrs     dict of root attributes (str / int / float; numpy scalars converted)
    epochs    OrderedDict name -> float64 numpy array, in dataset order (all the same length)
    episodes  dict name -> numpy array ('return', 'length', 'rank', 'epoch'); may be empty
    """

    def __init__(self, path, attrs, epochs, episodes):
        self.path = path
        self.attrs = attrs
        self.epochs = epochs
        self.episodes = episodes

    @property
    def algorithm(self):
        return str(self.attrs.get("algorithm", "?"))

    @property
    def environment(self):
        return str(self.attrs.get("environment", "?"))

    @property
    def seed(self):
        s = self.attrs.get("seed")
        return int(s) if isinstance(s, (int, float)) and not isinstance(s, bool) else s

    @property
    def key(self):
        return (self.algorithm, self.environment)

    @property
    def num_epochs(self):
        for v in self.epochs.values():
            return len(v)
        return 0

    @property
    def planned_epochs(self):
        """config.epochs (the run's --epochs) or None."""
        v = self.attrs.get("config.epochs")
        return int(v) if isinstance(v, (int, float)) else None

    def column(self, name):
        return self.epochs[name]

    def __repr__(self):
        return (f"Run({self.path!r}, {self.algorithm} {self.environment} seed={self.seed}, "
                f"{self.num_epochs} epochs)")


def _plain(value):
    """h5py attribute value -> plain Python value."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.dtype.kind in "SO" else value.tolist()
    return value


def find_run_files(paths):
    """Run files named by `paths`: a file is taken as is; a directory is searched recursively for
    files named run.h5 (checkpoint.h5 and the writer's run.h5.tmp are not). Sorted, without
    duplicates. Raises RunError for a path that does not exist or when nothing is found."""
    found, seen = [], set()

    def add(p):
        real = os.path.realpath(p)
        if real not in seen:
            seen.add(real)
            found.append(p)

    for p in paths:
        if os.path.isdir(p):
            hits = []
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs.sort()
                if RUN_FILE_NAME in files:
                    hits.append(os.path.join(root, RUN_FILE_NAME))
            for h in sorted(hits):
                add(h)
        elif os.path.isfile(p):
            add(p)
        elif os.path.exists(p):
            raise RunError(f"'{p}' is neither a file nor a directory")
        else:
            raise RunError(f"'{p}' does not exist")
    if not found:
        raise RunError("no run files (run.h5) found in " + ", ".join(f"'{p}'" for p in paths))
    return found


def _read(path):
    with h5py.File(path, "r") as f:
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        epochs = OrderedDict()
        if "epochs" in f:
            g = f["epochs"]
            for name in g:  # h5py lists them in creation order (the writer tracks it)
                d = g[name]
                if isinstance(d, h5py.Dataset) and d.ndim == 1:
                    epochs[name] = np.asarray(d[()], dtype=np.float64)
        episodes = {}
        if "episodes" in f:
            for name, d in f["episodes"].items():
                if isinstance(d, h5py.Dataset):
                    episodes[name] = np.asarray(d[()])
    return attrs, epochs, episodes


def load_run(path):
    """Reads one run file into a Run (open, copy, close). Retries once after a short pause on
    OSError (an unreadable moment must not break a tool polling a live run). Raises RunError if
    the file is not an rlmpi run file or cannot be read twice in a row."""
    try:
        attrs, epochs, episodes = _read(path)
    except OSError:
        time.sleep(0.2)
        try:
            attrs, epochs, episodes = _read(path)
        except OSError as e:
            raise RunError(f"cannot read '{path}' as HDF5: {e}") from None
    if attrs.get("rlmpi_file_format") != FILE_FORMAT:
        raise RunError(f"'{path}' is not an rlmpi run file (root attribute rlmpi_file_format is "
                       f"{attrs.get('rlmpi_file_format')!r}, expected {FILE_FORMAT!r})")
    lengths = {len(v) for v in epochs.values()}
    if len(lengths) > 1:  # cannot happen with the atomic writer; be safe anyway
        n = min(lengths)
        epochs = OrderedDict((k, v[:n]) for k, v in epochs.items())
    return Run(path, attrs, epochs, episodes)


def load_runs(paths, warn=None):
    """find_run_files + load_run for each. Runs without any epoch yet (just started) are left
    out, reported through warn(message) if given. Raises RunError if no run has an epoch."""
    files = find_run_files(paths)
    runs = []
    for p in files:
        r = load_run(p)
        if r.num_epochs == 0:
            if warn:
                warn(f"skipping '{p}': no epoch written yet")
            continue
        runs.append(r)
    if not runs:
        raise RunError(f"none of the {len(files)} run file(s) found has an epoch yet")
    return runs


def group_runs(runs):
    """OrderedDict (algorithm, environment) -> list of runs sorted by seed (then path); groups
    in order of first appearance in `runs` (which find_run_files sorts by path)."""
    groups = OrderedDict()
    for r in runs:
        groups.setdefault(r.key, []).append(r)
    for k in groups:
        groups[k].sort(key=lambda r: (str(type(r.seed)), r.seed if r.seed is not None else 0, r.path))
    return groups


def available_columns(runs):
    """Names of /epochs columns present in at least one run, in first-seen order."""
    names = OrderedDict()
    for r in runs:
        for n in r.epochs:
            names[n] = None
    return list(names)


def check_column(runs, name, what="metric"):
    """Raises RunError listing the available columns if no run has column `name`."""
    cols = available_columns(runs)
    if name not in cols:
        raise RunError(f"unknown {what} '{name}' (available: {', '.join(cols)})")


def smooth(y, k):
    """Spinning Up's smoothing: a centred moving average over k epochs, normalised at the edges:
    conv(y, ones(k), 'same') / conv(ones_like(y), ones(k), 'same'). NaN entries (epochs in which
    no episode finished) count as missing: they are left out of both sums. k <= 1: unchanged."""
    y = np.asarray(y, dtype=np.float64)
    if k is None or k <= 1 or len(y) == 0:
        return y.copy()
    ok = np.isfinite(y)
    kernel = np.ones(int(k))
    num = np.convolve(np.where(ok, y, 0.0), kernel, "same")
    den = np.convolve(ok.astype(np.float64), kernel, "same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[den == 0] = np.nan
    return out


def aligned(runs, x_name, y_name, k=1):
    """Curves of `runs` on one x grid, for a mean +- std band (see the module docstring).

    Each run's y is smoothed with smooth(y, k) on its own full length first, then cut to the
    common x range. Returns (x, Y, cut) with x of length n, Y of shape (len(runs), n), and cut =
    True if any run lost epochs to the alignment. Runs lacking x_name or y_name must be filtered
    out by the caller."""
    xs = [np.asarray(r.epochs[x_name], dtype=np.float64) for r in runs]
    ys = [smooth(r.epochs[y_name], k) for r in runs]
    n = min(len(x) for x in xs)
    same = all(np.array_equal(x[:n], xs[0][:n]) for x in xs)
    if same:
        cut = any(len(x) > n for x in xs)
        return xs[0][:n].copy(), np.vstack([y[:n] for y in ys]), cut
    # different x values: common range, grid = x of the run whose range ends first
    lo = max(x[0] for x in xs)
    ends = [x[-1] for x in xs]
    ref = int(np.argmin(ends))
    hi = ends[ref]
    grid = xs[ref][(xs[ref] >= lo) & (xs[ref] <= hi)]
    Y = np.vstack([np.interp(grid, x, y) for x, y in zip(xs, ys)])
    return grid, Y, True


def mean_std(Y):
    """Mean and population std (ddof=0) over axis 0, ignoring NaN (NaN where all are NaN)."""
    Y = np.asarray(Y, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(Y, axis=0), np.nanstd(Y, axis=0)


def last_k_mean(y, k):
    """Mean of the last min(k, len(y)) values, ignoring NaN (NaN if all are NaN)."""
    y = np.asarray(y, dtype=np.float64)[-max(1, int(k)):]
    y = y[np.isfinite(y)]
    return float(y.mean()) if len(y) else math.nan


def group_label(key, n):
    algo, env = key
    return f"{algo} {env} ({n} seed{'s' if n != 1 else ''})"


def fmt(v):
    """Number formatting of the tables: 6 significant digits ('nan' for NaN/None)."""
    if v is None:
        return "nan"
    return f"{float(v):.6g}"
