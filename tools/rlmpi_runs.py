"""Shared helpers of tools/plot.py, summary.py and export.py: find, load, select and group run files.

A run directory holds run.h5 (schema: include/rlmpi/io/run_file.hpp, README "Output"). The
writer replaces run.h5 atomically at every epoch end, so a plain h5py.File(path, "r") always
sees a complete file: of a running, a finished or a killed run. load_run() opens the file,
copies everything into memory and closes it at once (retrying once on OSError), so it never
holds a running run's file open.

Grouping (group_by_config): runs form one group when their whole configuration is equal except
the seed: every root attribute config.<option> (also algo and env) and the rank count (shown as
`ranks`), but not the options that only drive a run (OPERATIONAL: epochs, out, resume,
checkpoint-every, stall-timeout, quiet, ...) and not options the caller ignores (--ignore). Two
runs with the same seed and the same options are duplicates (a copied or repeated run): the one
with the most epochs is used, the others are reported, never counted as extra seeds. Labels name
the options whose values differ between the runs of an environment (Group.differs).
select_runs() implements --select/--exclude OPTION=VALUE.

Runs of one group (same configuration, usually different seeds) may have different
lengths (a run still going, a killed run). aligned() makes them comparable for a mean +- std:
every run is cut to the common x range, i.e. to the shortest run; if the runs' x values differ
inside that range (e.g. different --steps-per-epoch with x = TotalEnvInteracts) the other runs
are linearly interpolated onto the x values of the run whose x range ends first.

Needs h5py and numpy (Debian: /usr/bin/python3 with python3-h5py).
"""
import fnmatch
import math
import os
import sys
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

    def __init__(self, path, attrs, epochs, episodes, column_attrs=None):
        self.path = path
        self.attrs = attrs
        self.epochs = epochs
        self.episodes = episodes
        self.column_attrs = column_attrs or {}  # name -> {'description': ..., 'units': ...}
        self._config = None

    @property
    def config(self):
        """OrderedDict option -> value: 'algo' and 'env' (config.algo / config.env, else the
        algorithm / environment attributes), every other config.<option> attribute in file order
        (OLD_DEFAULTS for options an older rlmpi did not store), 'seed' if there was no
        config.seed, and 'ranks' (the num_ranks attribute) last."""
        if self._config is None:
            a = self.attrs
            cfg = OrderedDict()
            cfg["algo"] = a.get("config.algo", a.get("algorithm"))
            cfg["env"] = a.get("config.env", a.get("environment"))
            stored = False
            for k, v in a.items():
                if k.startswith("config.") and k[7:] not in cfg:
                    cfg[k[7:]] = v
                    stored = True
            if stored:  # a run file of an older rlmpi: what it did for options it does not store
                for k, v in OLD_DEFAULTS.items():
                    cfg.setdefault(k, v)
            if "seed" not in cfg and "seed" in a:
                cfg["seed"] = a["seed"]
            if "num_ranks" in a:
                cfg["ranks"] = a["num_ranks"]
            self._config = cfg
        return self._config

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
        epochs, column_attrs = OrderedDict(), {}
        if "epochs" in f:
            g = f["epochs"]
            for name in g:  # h5py lists them in creation order (the writer tracks it)
                d = g[name]
                if isinstance(d, h5py.Dataset) and d.ndim == 1:
                    epochs[name] = np.asarray(d[()], dtype=np.float64)
                    column_attrs[name] = {k: _plain(v) for k, v in d.attrs.items()}
        episodes = {}
        if "episodes" in f:
            for name, d in f["episodes"].items():
                if isinstance(d, h5py.Dataset):
                    episodes[name] = np.asarray(d[()])
    return attrs, epochs, episodes, column_attrs


def load_run(path):
    """Reads one run file into a Run (open, copy, close). Retries once after a short pause on
    OSError (an unreadable moment must not break a tool polling a live run). Raises RunError if
    the file is not an rlmpi run file or cannot be read twice in a row."""
    try:
        attrs, epochs, episodes, column_attrs = _read(path)
    except OSError:
        time.sleep(0.2)
        try:
            attrs, epochs, episodes, column_attrs = _read(path)
        except OSError as e:
            raise RunError(f"cannot read '{path}' as HDF5: {e}") from None
    if attrs.get("rlmpi_file_format") != FILE_FORMAT:
        raise RunError(f"'{path}' is not an rlmpi run file (root attribute rlmpi_file_format is "
                       f"{attrs.get('rlmpi_file_format')!r}, expected {FILE_FORMAT!r})")
    lengths = {len(v) for v in epochs.values()}
    if len(lengths) > 1:  # cannot happen with the atomic writer; be safe anyway
        n = min(lengths)
        epochs = OrderedDict((k, v[:n]) for k, v in epochs.items())
    return Run(path, attrs, epochs, episodes, column_attrs)


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
    """By (algorithm, environment) only (the tools group with group_by_config): OrderedDict
    (algorithm, environment) -> list of runs sorted by seed (then path); groups
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


# ---------------------------------------------------------------------------------------------
# Configuration: selection (--select/--exclude) and grouping by every difference but the seed

# Options that only drive a run, not what it learns (rlmpi's kOperational in src/cli/config.cpp:
# free to change on resume), and command-line-only ones: they never split a group.
OPERATIONAL = frozenset({"epochs", "out", "resume", "checkpoint-every", "stall-timeout", "quiet",
                         "eval-every", "eval-episodes", "target-return", "time-limit", "skip-memory-check",
                         "force", "allow-change", "config", "preset", "help", "version"})
# Options a run file of an older rlmpi may lack, and what those runs did (kOldDefaults there).
OLD_DEFAULTS = {"epoch-end": "reset", "precision": "double", "steps-per-rank": 0, "vf-update": "full",
                "norm-adv": "batch", "init-log-std": -0.5, "scale-actions": 0}
_MISSING = "(unset)"


def _norm(v):
    """A configuration value as a hashable, comparable key (1 == 1.0; NaN equal to NaN)."""
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return v


def format_value(v):
    """A configuration value as written in labels and tables: 64,64  0.0003  1e-08  4000."""
    if v is None:
        return _MISSING
    if isinstance(v, (list, tuple)):
        return ",".join(format_value(x) for x in v)
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v)


class Group:
    """Runs with the same configuration except the seed (and the operational/ignored options).

    key         tuple of (option, normalised value), sorted by option
    runs        one run per seed, sorted by seed (duplicates removed)
    duplicates  list of (kept run, [dropped runs]) for seeds that appeared more than once
    differs     OrderedDict option -> value text: the options that differ between the runs of
                this environment (set by group_by_config; empty when nothing differs)
    """

    def __init__(self, key, runs, duplicates):
        self.key = key
        self.runs = runs
        self.duplicates = duplicates
        self.differs = OrderedDict()

    @property
    def algorithm(self):
        return self.runs[0].algorithm

    @property
    def environment(self):
        return self.runs[0].environment

    @property
    def seeds(self):
        return [r.seed for r in self.runs]

    def config_text(self, empty=""):
        """'hid=32,32 steps-per-epoch=400': the differing options of this group."""
        return " ".join(f"{k}={v}" for k, v in self.differs.items()) or empty

    def name(self, with_env=True):
        """'ppo CartPole-v1 hid=32,32' (algorithm, environment, differing options)."""
        parts = [self.algorithm] + ([self.environment] if with_env else []) + [self.config_text()]
        return " ".join(p for p in parts if p)

    def label(self, n=None, with_env=True):
        """name() + ' (n seeds)'; n defaults to the number of runs."""
        n = len(self.runs) if n is None else n
        return f"{self.name(with_env)} ({n} seed{'s' if n != 1 else ''})"

    def __repr__(self):
        return f"Group({self.label()!r})"


def _seed_order(r):
    return (str(type(r.seed)), r.seed if r.seed is not None else 0, r.path)


def group_by_config(runs, ignore=(), warn=None):
    """Groups `runs` by their whole configuration except the seed: Run.config without 'seed',
    the OPERATIONAL options and the options in `ignore`. Returns a list of Group in order of
    first appearance. Runs with the same seed and the same options (ignored ones included) are
    duplicates: the one with the most epochs (then the first by path) is kept, the others are reported through warn(message) and
    left out. Group.differs names, per environment, the options whose values differ between
    its runs (an option missing from some run files counts as a value, shown as '(unset)')."""
    skip = OPERATIONAL | {"seed"} | set(ignore)

    def key_of(r, leave_out):
        return tuple(sorted((k, _norm(v)) for k, v in r.config.items() if k not in leave_out))

    by_key = OrderedDict()
    for r in runs:
        by_key.setdefault(key_of(r, skip), []).append(r)
    groups = []
    for key, members in by_key.items():
        by_seed = OrderedDict()  # duplicates: same seed and same options, ignored ones included
        for r in sorted(members, key=_seed_order):
            ident = (r.seed, key_of(r, OPERATIONAL)) if r.seed is not None else r.path
            by_seed.setdefault(ident, []).append(r)
        kept, dups = [], []
        for same in by_seed.values():
            best = max(same, key=lambda r: r.num_epochs)  # first of the longest (stable)
            kept.append(best)
            if len(same) > 1:
                dups.append((best, [r for r in same if r is not best]))
        groups.append(Group(key, kept, dups))
    # the options that differ, per environment, in the order the run files list them
    envs = OrderedDict()
    for g in groups:
        envs.setdefault(g.environment, []).append(g)
    for members in envs.values():
        order = OrderedDict()
        for g in members:
            for r in g.runs:
                for k in r.config:
                    if k not in skip and k not in ("algo", "env"):
                        order[k] = None
        values = [dict(g.key) for g in members]
        differing = [k for k in order if len({repr(v.get(k, _MISSING)) for v in values}) > 1]
        for g, v in zip(members, values):
            g.differs = OrderedDict((k, format_value(v.get(k))) for k in differing)
    if warn:
        for g in groups:
            for best, others in g.duplicates:
                warn(f"duplicate runs of {g.name()} seed {best.seed} (same configuration and seed): "
                     f"using '{best.path}' ({best.num_epochs} epochs), not counting "
                     + ", ".join(f"'{r.path}' ({r.num_epochs} epochs)" for r in others))
    return groups


def known_options(runs):
    """Every option name of Run.config over `runs`, in first-seen order."""
    names = OrderedDict()
    for r in runs:
        for k in r.config:
            names[k] = None
    return list(names)


def _parse_filters(items, flag, known):
    out = OrderedDict()
    for item in items or ():
        opt, eq, pattern = item.partition("=")
        opt = opt.strip()
        if not eq or not opt:
            raise RunError(f"{flag} '{item}': expected OPTION=VALUE, e.g. {flag} hid=64,64")
        if opt not in known:
            raise RunError(f"{flag} '{item}': no run has the option '{opt}' (options: {', '.join(known)})")
        out.setdefault(opt, []).append(pattern.strip())
    return out


def _matches(value, pattern):
    """Numbers compare by value (gamma=0.99, steps-per-epoch=4e3); anything else as text with
    shell wildcards (env=*Pendulum*, hid=64,64)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value) == float(pattern)
        except ValueError:
            pass
    return fnmatch.fnmatchcase(format_value(value), pattern)


def select_runs(runs, select=(), exclude=(), ignore=()):
    """The runs matching every --select option (OPTION=VALUE; repeated for one option: any of
    the values) and no --exclude item. Checks --ignore names too. Raises RunError on an unknown
    option or when no run is left."""
    known = known_options(runs)
    sel = _parse_filters(select, "--select", known)
    exc = _parse_filters(exclude, "--exclude", known)
    for opt in ignore or ():
        if opt in ("algo", "env"):
            raise RunError(f"--ignore '{opt}': algorithms and environments are always kept apart "
                           f"(use --select to pick some)")
        if opt not in known:
            raise RunError(f"--ignore '{opt}': no run has that option (options: {', '.join(known)})")
    kept = [r for r in runs
            if all(any(_matches(r.config.get(o), p) for p in ps) for o, ps in sel.items())
            and not any(_matches(r.config.get(o), p) for o, ps in exc.items() for p in ps)]
    if not kept:
        raise RunError(f"no run left after --select/--exclude (of {len(runs)} run(s) loaded)")
    return kept


def add_selection_args(parser):
    """--select, --exclude and --ignore, shared by the tools."""
    parser.add_argument("--select", action="append", default=[], metavar="OPT=VALUE",
                        help="only runs whose option OPT has VALUE (rlmpi option names, also algo, env, "
                             "seed, ranks; numbers by value, text with * ? wildcards); repeat: all "
                             "options must match, one of several values of the same option")
    parser.add_argument("--exclude", action="append", default=[], metavar="OPT=VALUE",
                        help="leave out runs whose option OPT has VALUE (repeatable)")
    parser.add_argument("--ignore", action="append", default=[], metavar="OPT",
                        help="do not split groups by option OPT (e.g. --ignore ranks averages "
                             "over rank counts); repeatable")


def load_selected(args, warn):
    """load_runs(args.paths) filtered by args.select / args.exclude (add_selection_args)."""
    runs = load_runs(args.paths, warn=warn)
    return select_runs(runs, args.select, args.exclude, args.ignore)


# Readable names of the /epochs columns, for axis labels (units included where there are any)
READABLE = {
    "Epoch": "Epoch",
    "TotalEnvInteracts": "Environment steps",
    "AverageEpRet": "Average episode return",
    "StdEpRet": "Std of episode returns",
    "MaxEpRet": "Largest episode return",
    "MinEpRet": "Smallest episode return",
    "EpLen": "Average episode length (steps)",
    "AverageVVals": "Average value estimate",
    "StdVVals": "Std of value estimates",
    "MaxVVals": "Largest value estimate",
    "MinVVals": "Smallest value estimate",
    "LossPi": "Policy loss",
    "LossV": "Value loss",
    "DeltaLossPi": "Policy loss change",
    "DeltaLossV": "Value loss change",
    "Entropy": "Policy entropy (nats)",
    "KL": "KL divergence, old to new policy (nats)",
    "ClipFrac": "Fraction of clipped samples",
    "StopIter": "Policy iterations before KL stop",
    "Beta": "KL penalty coefficient",
    "BacktrackIters": "Line-search backtracks",
    "Episodes": "Episodes finished",
    "Time": "Wall time (s)",
    "TimeRollout": "Rollout time per epoch (s)",
    "TimeUpdate": "Update time per epoch (s)",
    "TimeComm": "MPI time per epoch (s)",
    "TimeIO": "File writes per epoch (s)",
    "StepsPerSecond": "Environment steps per second",
    "UpdateGFLOPS": "Update GEMM rate (GFLOP/s)",
}


def axis_label(name, runs=()):
    """A readable axis label for column `name`: READABLE, else the column's description
    attribute when short, else the name; plus its units attribute when the label lacks them."""
    if name in READABLE:
        return READABLE[name]
    meta = next((r.column_attrs[name] for r in runs if name in r.column_attrs), {})
    desc, units = str(meta.get("description", "")), str(meta.get("units", ""))
    label = desc[0].upper() + desc[1:] if 0 < len(desc) <= 40 else name
    return f"{label} ({units})" if units else label


def run_main(main, prog):
    """A tool's entry point: main(argv) gives the exit code; a RunError is one line on stderr and
    exit 2; a reader that closed the pipe (| head) is not an error."""
    try:
        sys.exit(main(sys.argv[1:]))
    except RunError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
