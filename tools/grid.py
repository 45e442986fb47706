#!/usr/bin/python3
"""Hyperparameter grids of rlmpi runs: a local runner (like Spinning Up's ExperimentGrid) and the
task mapping that jobs/sweep.sbatch uses, so both share one implementation.

  tools/grid.py run SWEEP_DIR [--grid AXIS ...] [--seeds LIST] [-np R] [-j J] [-- RLMPI ARGS]
      runs every (point, seed) of the grid with `mpirun -np R rlmpi ...`, at most J at a time;
      a finished run is skipped, any other is started or continued (--resume auto); prints a
      summary table at the end (final AverageEpRet of every run)
  tools/grid.py count [SWEEP_DIR] [--grid ...] [--seeds ...]     how many tasks (sbatch --array)
  tools/grid.py task SWEEP_DIR --index I [--grid ...] [--seeds ...] [-- RLMPI ARGS]
      the rlmpi arguments of task I, one per line (what jobs/sweep.sbatch runs)
  tools/grid.py list SWEEP_DIR          every task of the recorded grid with its state
  tools/grid.py summary SWEEP_DIR       the summary table of the recorded grid

The grid.  An axis is OPTION=V1,V2,... with OPTION any rlmpi option that takes a value (`rlmpi
--help`; e.g. pi-lr=3e-4,1e-3, algo=ppo,trpo, preset=ppo/CartPole-v1,ppo/Acrobot-v1) or a
switch with true/false values (normalize-obs=on,off). Values holding a comma are separated by
semicolons instead: hid=32,32;64,64. The axes are sorted by name; the points are their Cartesian
product (first axis slowest, values in the order given). --seeds takes integers and inclusive
ranges separated by commas or spaces (0-4, "0 10 20"; default 0). Task i runs point i mod P with
seed seeds[i div P] (P = number of points): the first P tasks are seed 0 of every point.

Run directories: SWEEP_DIR/<name>=<value>_<name>=<value>.../s<seed> (axes sorted; characters
other than letters, digits and ._,+=- in a value become '-'), e.g.
SWEEP_DIR/clip-ratio=0.1_pi-lr=3e-4/s0; SWEEP_DIR/s<seed> when there are no axes. Every run is
started with --seed SEED, the point's options, RLMPI ARGS, --out RUN_DIR --resume auto, so
running a task again continues its run where it stopped (rlmpi exits 0 at once for a finished
one). The first use of SWEEP_DIR records the grid in SWEEP_DIR/grid.json (axes, seeds and the
RLMPI ARGS); a different grid (axes or seeds) for the same directory is refused with exit code 2,
because the same task index would then mean another run. RLMPI ARGS may change (e.g. a larger
--epochs extends every run; rlmpi itself refuses changed learning options on resume, exit 2):
the record then keeps the new ones. What is not given comes from an existing record: no --grid
and no --seeds = the recorded grid, no RLMPI ARGS = the recorded ones, so `tools/grid.py run
SWEEP_DIR` continues a sweep as it was recorded.

Exit codes: 0 every run finished, 1 some run failed, 2 bad input (grid, options, a different
grid in SWEEP_DIR), 3 interrupted (SIGINT/SIGTERM: the running runs get SIGUSR1, checkpoint and
stop; run the same command again to continue).
Needs /usr/bin/python3 (h5py only for the summary table).
"""
import argparse
import datetime
import itertools
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

FORMAT = "rlmpi-grid-1"
RECORD = "grid.json"
# Switches of rlmpi 0.2 (used when the binary is not at hand to ask `rlmpi --help`).
KNOWN_SWITCHES = {"normalize-obs", "normalize-reward", "anneal-lr", "clip-vloss"}
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}
# Options the grid sets itself or that make no sense per point.
RESERVED = {
    "seed": "the seeds are given with --seeds",
    "out": "each run's directory is SWEEP_DIR/<point>/s<seed>",
    "resume": "every run is started with --resume auto",
    "force": "a sweep never overwrites a run",
    "help": "not a training option", "version": "not a training option",
    "episodes": "an eval option", "deterministic": "an eval option",
}
NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")


class GridError(Exception):
    """Bad input: exit code 2."""


def log(msg):
    print(f"grid.py: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- the grid itself
def parse_axis(text):
    if "=" not in text:
        raise GridError(f"axis '{text}' is not OPTION=V1,V2,... (e.g. pi-lr=3e-4,1e-3)")
    name, vals = text.split("=", 1)
    name = name.strip()
    if name.startswith("--"):
        name = name[2:]
    if not NAME_RE.match(name):
        raise GridError(f"axis '{text}': '{name}' is not an option name (lower-case, e.g. pi-lr)")
    if name in RESERVED:
        raise GridError(f"axis '{text}': --{name} cannot be an axis ({RESERVED[name]})")
    sep = ";" if ";" in vals else ","
    values = [v.strip() for v in vals.split(sep)]
    if not values or any(v == "" for v in values):
        raise GridError(f"axis '{text}': empty value (values are separated by '{sep}')")
    for v in values:
        if "\n" in v or "\0" in v:
            raise GridError(f"axis '{text}': a value holds a newline")
    dup = sorted({v for v in values if values.count(v) > 1})
    if dup:
        raise GridError(f"axis '{text}': value {dup[0]} given twice")
    return name, values


def parse_seeds(text):
    seeds = []
    for tok in re.split(r"[,\s]+", str(text).strip()):
        if not tok:
            continue
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", tok)
        if not m:
            raise GridError(f"--seeds: '{tok}' is not a seed (non-negative integer) or a range A-B")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if b < a:
            raise GridError(f"--seeds: empty range '{tok}'")
        if b - a > 100000:
            raise GridError(f"--seeds: range '{tok}' is too large")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise GridError("--seeds: no seed given")
    dup = sorted({s for s in seeds if seeds.count(s) > 1})
    if dup:
        raise GridError(f"--seeds: seed {dup[0]} given twice")
    return seeds


def safe_value(v):
    return re.sub(r"[^A-Za-z0-9._,+=-]", "-", v)


class Grid:
    def __init__(self, axes, seeds, args):
        names = [n for n, _ in axes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise GridError(f"axis {dup[0]} given twice")
        self.axes = sorted(axes)  # by name: the order of --grid arguments does not matter
        self.seeds = list(seeds)
        self.args = list(args)
        for a in self.args:
            if "\n" in a or "\0" in a:
                raise GridError("an rlmpi argument holds a newline")
        given = option_names(self.args)
        for n in given:
            if n in RESERVED and n not in ("help", "version", "episodes", "deterministic"):
                raise GridError(f"rlmpi argument --{n} is set by the grid ({RESERVED[n]})")
        for n, _ in self.axes:
            if n in given:
                raise GridError(f"--{n} is both an axis and an rlmpi argument")
        self.points = [dict(zip([n for n, _ in self.axes], combo))
                       for combo in itertools.product(*[v for _, v in self.axes])]
        names = [self.point_name(p) for p in self.points]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise GridError(f"two points share the directory name '{clash[0]}' "
                            "(values differ only in characters replaced by '-')")

    @property
    def n_points(self):
        return len(self.points)

    @property
    def n_tasks(self):
        return len(self.points) * len(self.seeds)

    def describe(self):
        ax = " x ".join(f"{n}={','.join(v) if not any(',' in x for x in v) else ';'.join(v)}"
                        for n, v in self.axes) or "no axes"
        return f"{ax}, seeds {format_seeds(self.seeds)}"

    def counts(self):
        return (f"{self.n_tasks} task{'s' if self.n_tasks != 1 else ''} ({self.n_points} "
                f"point{'s' if self.n_points != 1 else ''} x {len(self.seeds)} "
                f"seed{'s' if len(self.seeds) != 1 else ''})")

    @staticmethod
    def point_name(point):
        return "_".join(f"{n}={safe_value(v)}" for n, v in point.items())

    def task(self, i):
        """(point dict, seed, relative run directory) of task i: point i mod P, seed i div P."""
        if not 0 <= i < self.n_tasks:
            raise GridError(f"task {i} is outside the grid: {self.counts()}, "
                            f"so the tasks are 0-{self.n_tasks - 1} (sbatch --array=0-{self.n_tasks - 1})")
        point = self.points[i % self.n_points]
        seed = self.seeds[i // self.n_points]
        name = self.point_name(point)
        return point, seed, os.path.join(name, f"s{seed}") if name else f"s{seed}"

    def rlmpi_args(self, i, sweep_dir, switches):
        point, seed, rel = self.task(i)
        out = ["--seed", str(seed)]
        for n, v in point.items():
            if n in switches:
                w = v.lower()
                if w in TRUE_WORDS:
                    out.append(f"--{n}")
                elif w not in FALSE_WORDS:
                    raise GridError(f"axis {n}: --{n} is a switch; its values are true/false "
                                    f"(or on/off, yes/no, 1/0), not '{v}'")
            else:
                out += [f"--{n}", v]
        return out + self.args + ["--out", os.path.join(sweep_dir, rel), "--resume", "auto"]

    def key(self):
        return {"axes": [{"name": n, "values": v} for n, v in self.axes], "seeds": self.seeds}

    def record(self):
        d = {"format": FORMAT}
        d.update(self.key())
        d.update({"args": self.args, "points": self.n_points, "tasks": self.n_tasks,
                  "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "host": os.uname().nodename})
        return d


def format_seeds(seeds):
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def option_names(args):
    return [a[2:].split("=", 1)[0] for a in args if a.startswith("--") and len(a) > 2]


def grid_from_record(rec):
    return Grid([(a["name"], list(a["values"])) for a in rec["axes"]], rec["seeds"], rec.get("args", []))


def read_record(sweep_dir):
    path = os.path.join(sweep_dir, RECORD)
    try:
        with open(path) as f:
            rec = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise GridError(f"{path} is not readable: {e}")
    if not isinstance(rec, dict) or rec.get("format") != FORMAT or "axes" not in rec or "seeds" not in rec:
        raise GridError(f"{path} is not a grid record ({FORMAT})")
    return rec


def bind(grid, sweep_dir, create=True):
    """Checks grid against SWEEP_DIR/grid.json; records it when there is none (atomically: the
    array tasks of a sweep start together). GridError when the directory holds another grid."""
    path = os.path.join(sweep_dir, RECORD)
    if os.path.exists(sweep_dir) and not os.path.isdir(sweep_dir):
        raise GridError(f"sweep directory {sweep_dir} exists and is not a directory")
    rec = read_record(sweep_dir)
    if rec is None and create:
        os.makedirs(sweep_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(grid.record(), f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another task recorded first: then compare with that one
            log(f"recorded the grid in {path}: {grid.describe()}")
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        rec = read_record(sweep_dir)
    if rec is None:
        return
    old = grid_from_record(rec)
    if old.key() != grid.key():
        raise GridError(
            f"{sweep_dir} already holds another grid ({path}: {old.describe()}; given: "
            f"{grid.describe()}). A task index would mean another run there: use a new sweep "
            f"directory, or give the recorded grid to continue that sweep")
    if rec.get("args", []) != grid.args:
        log(f"note: the sweep was recorded with rlmpi arguments '{shlex.join(rec.get('args', []))}'; "
            f"now '{shlex.join(grid.args)}' (recorded from now on; rlmpi refuses changed learning "
            "options on resume, --epochs may grow)")
        if create:
            rec["args"] = grid.args
            rec["updated"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump(rec, f, indent=1)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)


# ---------------------------------------------------------------------------------- rlmpi helpers
def find_rlmpi(given):
    cand = given or os.environ.get("RLMPI") or shutil.which("rlmpi")
    if not cand:
        here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "rlmpi")
        cand = here if os.path.exists(here) else None
    if not cand:
        raise GridError("no rlmpi binary: give --rlmpi PATH (or RLMPI=PATH, or put rlmpi on PATH)")
    cand = os.path.abspath(cand) if os.sep in cand else (shutil.which(cand) or cand)
    if not (os.path.isfile(cand) and os.access(cand, os.X_OK)):
        raise GridError(f"rlmpi binary {cand} is not an executable file")
    return cand


def rlmpi_options(rlmpi):
    """{name: takes_value} from `rlmpi --help`; None when the binary is not at hand."""
    if not rlmpi:
        return None
    try:
        p = subprocess.run([rlmpi, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    opts = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^  (?:-\w \[ )?--([a-z][a-z0-9-]*)(?: \]| ([A-Z]+))?(?=\s|$)", line)
        if m:
            opts[m.group(1)] = m.group(2) is not None
    return opts or None


def check_axes(grid, opts):
    """Axis names against rlmpi's options; returns the set of switches."""
    if opts is None:
        return set(KNOWN_SWITCHES)
    for n, vals in grid.axes:
        if n not in opts:
            raise GridError(f"axis {n}: rlmpi has no option --{n} (see rlmpi --help)")
    switches = {n for n, v in opts.items() if not v}
    for n, vals in grid.axes:
        if n in switches:
            bad = [v for v in vals if v.lower() not in TRUE_WORDS | FALSE_WORDS]
            if bad:
                raise GridError(f"axis {n}: --{n} is a switch; its values are true/false (or on/off, "
                                f"yes/no, 1/0), not '{bad[0]}'")
    return switches


def run_state(run_dir):
    """(exit_status or None, epochs, config.epochs or None, final AverageEpRet) of a run dir."""
    path = os.path.join(run_dir, "run.h5")
    if not os.path.exists(path):
        return None, 0, None, math.nan
    try:
        import h5py
        with h5py.File(path, "r") as f:
            st = f.attrs.get("exit_status", "?")
            st = st.decode() if isinstance(st, bytes) else str(st)
            n = len(f["epochs/Epoch"]) if "epochs/Epoch" in f else 0
            target = f.attrs.get("config.epochs")
            ret = f["epochs/AverageEpRet"][-1] if n and "epochs/AverageEpRet" in f else math.nan
            return st, n, (int(target) if target is not None else None), float(ret)
    except ImportError:
        return "?", 0, None, math.nan
    except (OSError, KeyError, ValueError) as e:
        return f"unreadable ({e.__class__.__name__})", 0, None, math.nan


def wanted_epochs(args):
    for i, a in enumerate(args):
        if a == "--epochs" and i + 1 < len(args):
            try:
                return int(args[i + 1])
            except ValueError:
                return None
        if a.startswith("--epochs="):
            try:
                return int(a.split("=", 1)[1])
            except ValueError:
                return None
    return None


def is_finished(run_dir, args):
    st, n, target, _ = run_state(run_dir)
    want = wanted_epochs(args)
    if want is None:
        want = target
    return st == "finished" and want is not None and n >= want


def short_status(st):
    if st is None:
        return "not started"
    if st.startswith("stopped"):
        return "stopped (resumable)"
    if st == "running":
        return "running or killed"
    return st if len(st) <= 40 else st[:37] + "..."


def print_table(grid, sweep_dir, outcome=None, file=sys.stdout):
    rows = []
    for i in range(grid.n_tasks):
        point, seed, rel = grid.task(i)
        st, n, _, ret = run_state(os.path.join(sweep_dir, rel))
        rows.append((i, rel, seed, n, short_status(st), ret, (outcome or {}).get(i, "")))
    head = ["task", "run", "epochs", "status", "AverageEpRet"] + (["this time"] if outcome is not None else [])
    body = [[str(i), rel, str(n), st, "nan" if math.isnan(r) else f"{r:.6g}"] +
            ([o] if outcome is not None else []) for i, rel, _, n, st, r, o in rows]
    w = [max(len(x) for x in col) for col in zip(head, *body)]
    print(f"sweep {sweep_dir}: {grid.describe()}; {grid.counts()}", file=file)
    for r in [head] + body:
        print("  ".join(x.ljust(k) if j in (1, 3, 5) else x.rjust(k) for j, (x, k) in enumerate(zip(r, w))).rstrip(),
              file=file)
    if len(grid.seeds) > 1:  # mean over the seeds of each point
        print(f"per point, final AverageEpRet over {len(grid.seeds)} seeds:", file=file)
        for pi, p in enumerate(grid.points):
            vals = [rows[pi + k * grid.n_points][5] for k in range(len(grid.seeds))]
            vals = [v for v in vals if not math.isnan(v)]
            name = grid.point_name(p) or "(no axes)"
            if vals:
                m = sum(vals) / len(vals)
                sd = math.sqrt(sum((v - m) ** 2 for v in vals) / len(vals))
                print(f"  {name}: {m:.6g} +- {sd:.3g} ({len(vals)} runs)", file=file)
            else:
                print(f"  {name}: no runs with a finished epoch", file=file)
    file.flush()
    return rows


# ------------------------------------------------------------------------------------- commands
def cmd_run(a, grid):
    rlmpi = find_rlmpi(a.rlmpi)
    switches = check_axes(grid, rlmpi_options(rlmpi))
    mpirun = shlex.split(a.mpirun)
    if not mpirun or not shutil.which(mpirun[0]):
        raise GridError(f"--mpirun '{a.mpirun}': no such program")
    if a.np < 1 or a.jobs < 1:
        raise GridError("-np and -j must be at least 1")
    margs = shlex.split(a.mpirun_args)
    if a.jobs > 1 and not any(x.startswith("--bind-to") for x in margs):
        margs = ["--bind-to", "none"] + margs  # concurrent mpiruns would all bind to the same cores
    sweep = a.sweep_dir
    bind(grid, sweep, create=not a.dry_run)
    logs = os.path.join(sweep, "logs")
    if not a.dry_run:
        os.makedirs(logs, exist_ok=True)

    todo, outcome = [], {}
    for i in range(grid.n_tasks):
        args = grid.rlmpi_args(i, sweep, switches)
        _, _, rel = grid.task(i)
        if is_finished(os.path.join(sweep, rel), args):
            outcome[i] = "skipped (finished)"
        else:
            todo.append((i, rel, mpirun + ["-np", str(a.np)] + margs + [rlmpi] + args))
    log(f"{sweep}: {grid.describe()}; {grid.counts()}; {len(todo)} to run, "
        f"{grid.n_tasks - len(todo)} finished; {a.np} rank(s) per run, at most {a.jobs} at a time")
    if a.dry_run:
        for i, rel, cmd in todo:
            print(f"task {i}: {shlex.join(cmd)}")
        return 0

    stop = {"sig": None}
    running = {}  # task -> (Popen, log file, start time)

    def on_signal(signum, _frame):
        if stop["sig"] is None:
            stop["sig"] = signal.Signals(signum).name
            log(f"got {stop['sig']}: asking {len(running)} running run(s) to checkpoint and stop "
                "(SIGUSR1); no new runs start; run the same command again to continue")
            for p, _, _ in running.values():
                try:
                    os.kill(p.pid, signal.SIGUSR1)
                except OSError:
                    pass
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    queue = list(todo)
    try:
        while queue or running:
            while queue and len(running) < a.jobs and stop["sig"] is None:
                i, rel, cmd = queue.pop(0)
                lf = open(os.path.join(logs, rel.replace(os.sep, "__") + ".log"), "a")
                lf.write(f"# {datetime.datetime.now().isoformat(timespec='seconds')} {shlex.join(cmd)}\n")
                lf.flush()
                # A session of its own: a Ctrl-C reaches only this script, which stops the runs
                # cleanly with SIGUSR1 (mpirun would end the ranks itself on SIGINT).
                p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
                running[i] = (p, lf, time.time())
                log(f"task {i} started: {rel} (log {os.path.relpath(lf.name, sweep)})")
            if stop["sig"] is not None and queue:
                for i, _, _ in queue:
                    outcome[i] = "not started"
                queue = []
            time.sleep(0.1)
            for i in list(running):
                p, lf, t0 = running[i]
                rc = p.poll()
                if rc is None:
                    continue
                lf.close()
                del running[i]
                outcome[i] = f"exit {rc}" + (" (stopped)" if rc == 3 else " (failed)" if rc not in (0, 3) else "")
                log(f"task {i} {'finished' if rc == 0 else 'exited with code %d' % rc} after "
                    f"{time.time() - t0:.1f} s: {grid.task(i)[2]}"
                    + (f" (see {lf.name})" if rc not in (0, 3) else ""))
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    rows = print_table(grid, sweep, outcome)
    if stop["sig"] is not None:
        return 3
    failed = [r for r in rows if r[6].startswith("exit") and r[6] != "exit 0"]
    return 1 if failed else 0


def cmd_task(a, grid):
    rlmpi = a.rlmpi or os.environ.get("RLMPI")
    switches = check_axes(grid, rlmpi_options(rlmpi) if rlmpi else None)
    args = grid.rlmpi_args(a.index, a.sweep_dir, switches)  # range check before recording
    bind(grid, a.sweep_dir)
    point, seed, rel = grid.task(a.index)
    log(f"task {a.index} of {grid.n_tasks} ({grid.describe()}): point "
        f"{grid.point_name(point) or '(no axes)'}, seed {seed} -> {os.path.join(a.sweep_dir, rel)}")
    sys.stdout.write("".join(x + "\n" for x in args))
    return 0


def cmd_count(a, grid):
    if a.sweep_dir:
        bind(grid, a.sweep_dir, create=False)
    if a.quiet:
        print(grid.n_tasks)
    else:
        print(f"{grid.counts()}: sbatch --array=0-{grid.n_tasks - 1}")
    return 0


def cmd_list(a, grid):
    print(f"sweep {a.sweep_dir}: {grid.describe()}; {grid.counts()}")
    for i in range(grid.n_tasks):
        point, seed, rel = grid.task(i)
        st, n, _, _ = run_state(os.path.join(a.sweep_dir, rel))
        print(f"{i}\t{rel}\t{n} epochs\t{short_status(st)}")
    return 0


def cmd_summary(a, grid):
    print_table(grid, a.sweep_dir)
    return 0


def main(argv):
    if "--" in argv:
        k = argv.index("--")
        argv, rargs = argv[:k], argv[k + 1:]
    else:
        rargs = []
    ap = argparse.ArgumentParser(prog="grid.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    sub = ap.add_subparsers(dest="cmd", required=True)

    def grid_opts(p, needs_dir=True):
        if needs_dir:
            p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="the sweep directory")
        else:
            p.add_argument("sweep_dir", metavar="SWEEP_DIR", nargs="?",
                           help="check against (or take the grid from) its grid.json")
        p.add_argument("--grid", nargs="+", action="extend", default=None, metavar="AXIS",
                       help="OPTION=V1,V2,... (several axes: a Cartesian product)")
        p.add_argument("--seeds", default=None, help="seeds: integers and ranges A-B (default 0)")
    p = sub.add_parser("run", help="run the grid locally with mpirun")
    grid_opts(p)
    p.add_argument("-np", "--np", type=int, default=1, help="MPI ranks per run (default 1)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="runs at the same time (default 1)")
    p.add_argument("--rlmpi", help="rlmpi binary (default: $RLMPI, rlmpi on PATH, build/rlmpi)")
    p.add_argument("--mpirun", default="mpirun", help="the launcher (default mpirun)")
    p.add_argument("--mpirun-args", default="", help="more mpirun arguments, e.g. --mpirun-args='--oversubscribe -q' "
                   "(with -j > 1, --bind-to none is added unless a --bind-to is given)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p = sub.add_parser("task", help="the rlmpi arguments of one task, one per line")
    grid_opts(p)
    p.add_argument("--index", type=int, required=True, help="the task index (SLURM_ARRAY_TASK_ID)")
    p.add_argument("--rlmpi", help="rlmpi binary: axis names and switches are checked with its --help")
    p = sub.add_parser("count", help="the number of tasks")
    grid_opts(p, needs_dir=False)
    p.add_argument("-q", "--quiet", action="store_true", help="print the number only")
    p = sub.add_parser("list", help="the tasks of a recorded sweep")
    p.add_argument("sweep_dir", metavar="SWEEP_DIR")
    p = sub.add_parser("summary", help="the summary table of a recorded sweep")
    p.add_argument("sweep_dir", metavar="SWEEP_DIR")
    a = ap.parse_args(argv)
    try:
        if a.sweep_dir:
            a.sweep_dir = os.path.abspath(a.sweep_dir)
        rec = read_record(a.sweep_dir) if a.sweep_dir and os.path.isdir(a.sweep_dir) else None
        if a.cmd in ("list", "summary"):
            if rec is None:
                raise GridError(f"{a.sweep_dir} holds no grid record ({RECORD})")
            grid = grid_from_record(rec)
        elif rec is not None and a.grid is None and a.seeds is None:
            # Nothing given: the recorded grid (and its rlmpi arguments unless new ones are given).
            grid = Grid(grid_from_record(rec).axes, rec["seeds"], rargs or rec.get("args", []))
            log(f"using the grid recorded in {os.path.join(a.sweep_dir, RECORD)}: {grid.describe()}"
                + (f", rlmpi arguments '{shlex.join(grid.args)}'" if grid.args and not rargs else ""))
        else:
            if rec is not None and not rargs and rec.get("args"):
                rargs = rec["args"]
                log(f"using the recorded rlmpi arguments '{shlex.join(rargs)}'")
            grid = Grid([parse_axis(t) for t in (a.grid or [])],
                        parse_seeds(a.seeds if a.seeds is not None else "0"), rargs)
        return {"run": cmd_run, "task": cmd_task, "count": cmd_count, "list": cmd_list,
                "summary": cmd_summary}[a.cmd](a, grid)
    except GridError as e:
        print(f"grid.py: error: {e}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
