#!/usr/bin/python3
"""Fault campaign (label "faults"): SIGKILLs at random moments and inside the checkpoint window,
each followed by `--resume auto` into the same run directory.

usage: test_faults.py RLMPI MPIEXEC [campaign|zombie-lock] [--seed S] [--kills N] [--per-run K] [--keep]

Two reference runs (2 ranks, 8 epochs, uninterrupted) with --checkpoint-every 1 and 3. Then, per
cadence, a shuffled plan of kills (target: mpirun, rank 0 or rank 1; moment: a random delay after
the launch, or the instant an inotify watch on the run directory reports one of the writers'
steps: run.h5.tmp opened, run.h5 renamed into place when a checkpoint is due next (the
checkpoint's gather and in-memory image), checkpoint.h5.tmp opened; epochs are told apart by
counting commits, after measuring how many commits a job makes before its first epoch: in a new
run (the references) and in a resumed one (a calibration run killed after two checkpoints, then
resumed to the end: also compared with the reference). Each campaign run gets up to
K kills in a row, each followed by the next `--resume auto`; after every kill (all of the job's
processes dead; ranks orphaned by a killed mpirun get up to a second to end on their own, then
SIGKILL; this script is their subreaper and reaps them at once, as an init system would) the run
directory is checked:
  - run.h5 opens with plain h5py.File(path, "r"), /epochs/Epoch is 0..n-1, every /epochs column
    except the timing ones and all of /episodes equal the reference's first n epochs bit for bit;
  - every epoch row rank 0 printed (and mpirun passed on) is in the file, with the printed values;
  - checkpoint.h5, if there, opens, is at an epoch <= n, and at or past every printed epoch that
    was due a checkpoint (printed means durable and resumable).
Finally each campaign run is resumed to the end and must equal the reference bit for bit. A kill
that comes too late (the job ended first) is redone in a new campaign run; the counts at the end
(per target, moment and the phase the kill hit, from the file events) say what was covered.

Case zombie-lock: the lock's owner (rank 0) SIGKILLed but not reaped yet is dead all the same:
`--resume auto` takes the stale lock over (kill(pid, 0) succeeds on a zombie; a slow or absent
reaper, e.g. a container's PID 1, must not make the run directory "in use" for ever).

The binary is copied once to the scratch directory (the build tree may be rebuilt meanwhile).
A failure prints the seed, the kill number, target, moment, what the kill hit and what differed.
"""
import argparse
import ctypes
import math
import os
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("rlmpi")
ap.add_argument("mpiexec")
ap.add_argument("case", nargs="?", default="campaign", choices=["campaign", "zombie-lock"])
ap.add_argument("--seed", type=int, default=None)
ap.add_argument("--kills", type=int, default=36, help="kills in all (half per --checkpoint-every value)")
ap.add_argument("--per-run", type=int, default=6, help="kills per campaign run before it is resumed to the end")
ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
ARGS = ap.parse_args()
SEED = ARGS.seed if ARGS.seed is not None else int.from_bytes(os.urandom(4), "little")

EPOCHS = 8
CADENCES = (1, 3)
TIMING = {"Time", "TimeRollout", "TimeUpdate", "TimeComm", "TimeIO", "UpdateGFLOPS", "StepsPerSecond"}
TRAIN = ["--steps-per-epoch", "800", "--hid", "16", "--train-pi-iters", "20", "--train-v-iters", "20"]
TARGETS = ("mpirun", "rank0", "rank1")
MOMENTS = ("random", "run-write", "ckpt-due", "ckpt-write")
SLOW = []  # jobs mpirun did not end in time
HANG_SECONDS = 30  # mpirun ends a job about 2 s after one of its ranks died (SIGTERM, 1 s, SIGKILL)
# Per cadence and target: how many kills of each moment (scaled to --kills).
MOMENT_WEIGHTS = {"random": 2, "run-write": 1, "ckpt-due": 1, "ckpt-write": 2}

# ---------------------------------------------------------------------------------- inotify
IN_OPEN, IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE = 0x20, 0x40, 0x80, 0x100
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
_libc = ctypes.CDLL(None, use_errno=True)


class Watch:
    """inotify on a directory: (mask, name) of files opened, created and renamed in it."""

    def __init__(self, d):
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if _libc.inotify_add_watch(self.fd, d.encode(), IN_OPEN | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {d}")

    def read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not r:
            return []
        try:
            buf = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return []
        out, pos = [], 0
        while pos + 16 <= len(buf):
            _, mask, _, n = struct.unpack_from("iIII", buf, pos)
            out.append((mask, buf[pos + 16:pos + 16 + n].rstrip(b"\0").decode()))
            pos += 16 + n
        return out

    def close(self):
        os.close(self.fd)


class WriterState:
    """What the writers of one job have done, as far as the events tell (see the module doc)."""

    def __init__(self, e0, due, k0=1):
        self.e0, self.due, self.k0 = e0, due, k0
        self.run_commits = 0  # renames of run.h5.tmp to run.h5: k0 at the start, then 1 per epoch
        self.ckpt_commits = 0
        self.run_tmp_open = self.ckpt_tmp_open = False
        self.run_tmp_opens = self.ckpt_tmp_opens = 0
        self.on_disk_mem = set()
        self.commits_before_ckpt = None  # run.h5 commits before the first checkpoint write began

    def apply(self, mask, name):
        if name.endswith(".mem"):  # the writers' HDF5 images live in memory: never on disk
            self.on_disk_mem.add(name)
        if name == "run.h5.tmp":
            if mask & IN_OPEN:
                self.run_tmp_open, self.run_tmp_opens = True, self.run_tmp_opens + 1
            if mask & IN_MOVED_FROM:
                self.run_tmp_open = False
        elif name == "checkpoint.h5.tmp":
            if mask & IN_OPEN:
                self.ckpt_tmp_open, self.ckpt_tmp_opens = True, self.ckpt_tmp_opens + 1
                if self.commits_before_ckpt is None:
                    self.commits_before_ckpt = self.run_commits
            if mask & IN_MOVED_FROM:
                self.ckpt_tmp_open = False
        elif name == "run.h5" and mask & IN_MOVED_TO:
            self.run_commits += 1
        elif name == "checkpoint.h5" and mask & IN_MOVED_TO:
            self.ckpt_commits += 1

    def epochs_committed(self):
        """Epochs in the run file as committed by this job (None before its start-up commits)."""
        return self.e0 + self.run_commits - self.k0 if self.run_commits >= self.k0 else None

    def checkpoint_pending(self):
        n = self.epochs_committed()
        return n is not None and n in self.due and self.ckpt_commits < sum(1 for d in self.due if d <= n)

    def phase(self):
        if self.ckpt_tmp_open:
            return "ckpt-write"  # checkpoint.h5.tmp open, not renamed yet
        if self.checkpoint_pending():
            return "ckpt-build"  # run file committed for a checkpoint epoch, checkpoint not on disk yet
        if self.run_tmp_open:
            return "run-write"
        if self.run_commits < self.k0:
            return "startup"  # launch, lock, plan, checkpoint read, run file created or cut back
        return "epoch"  # rollout, update, printing


# ---------------------------------------------------------------------------------- processes
def cmd(binary, d, every):
    return [ARGS.mpiexec, "-q", "-n", "2", "--oversubscribe", binary, "--epochs", str(EPOCHS), "--out", d,
            "--resume", "auto", "--checkpoint-every", str(every), *TRAIN]


def rank_pids(ppid):
    """{rank: pid} of mpirun's children that run rlmpi (after exec: they have a rank)."""
    out = {}
    for e in os.scandir("/proc"):
        if not e.name.isdigit():
            continue
        try:
            with open(f"/proc/{e.name}/stat", "rb") as f:
                s = f.read()
            if int(s[s.rindex(b")") + 2:].split()[1]) != ppid:
                continue
            with open(f"/proc/{e.name}/cmdline", "rb") as f:
                exe = f.read().split(b"\0")[0]
            with open(f"/proc/{e.name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if not exe.endswith(b"rlmpi"):
            continue
        for kv in env:
            if kv.startswith(b"OMPI_COMM_WORLD_RANK="):
                out[int(kv.split(b"=", 1)[1])] = int(e.name)
    return out


def pids_with(marker):
    me, out = os.getpid(), []
    for e in os.scandir("/proc"):
        if not e.name.isdigit() or int(e.name) == me:
            continue
        try:
            with open(f"/proc/{e.name}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    out.append(int(e.name))
        except OSError:
            pass
    return out


def kill_all_with(marker, timeout=120):
    """SIGKILL every process whose command line holds `marker` until none is left; their pids."""
    killed, deadline = set(), time.monotonic() + timeout
    while True:
        pids = pids_with(marker)
        if not pids:
            return killed
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} holding '{marker}' survive SIGKILL")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def diagnose(pids):
    """State, signal masks and stacks of processes that should have ended (for the report)."""
    out = []
    for pid in sorted(pids):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode(errors="replace")[:160]
            with open(f"/proc/{pid}/status") as f:
                status = {k: v.strip() for k, v in (l.split(":", 1) for l in f if ":" in l)}
        except OSError:
            continue
        out.append(f"pid {pid} ({line}): state {status.get('State')}, ppid {status.get('PPid')}, "
                   f"SigBlk {status.get('SigBlk')} SigIgn {status.get('SigIgn')} SigCgt {status.get('SigCgt')} "
                   f"SigPnd {status.get('SigPnd')} ShdPnd {status.get('ShdPnd')}")
        for task in sorted(os.listdir(f"/proc/{pid}/task")) if os.path.isdir(f"/proc/{pid}/task") else []:
            try:
                with open(f"/proc/{pid}/task/{task}/wchan") as f:
                    wchan = f.read()
                with open(f"/proc/{pid}/task/{task}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            out.append(f"    thread {task}: {st} in {wchan}")
        if shutil.which("gdb"):
            bt = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt 25"],
                                capture_output=True, text=True, timeout=120).stdout
            out += ["    " + l for l in bt.splitlines() if l.startswith(("#", "Thread"))][:80]
    return "\n".join(out)


def become_subreaper():
    """Ranks orphaned by a killed mpirun become our children (not PID 1's, which may reap them
    late or never): reap() collects them as soon as they are dead, as an init system would."""
    if _libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap(pids, timeout=30):
    """Waits until none of `pids` (all SIGKILLed or exited) is left, not even as a zombie."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        try:
            os.waitpid(pid, 0)  # an orphan of a killed mpirun is ours
        except ChildProcessError:
            pass  # mpirun's child, reaped by mpirun
    while left := [pid for pid in pids if os.path.exists(f"/proc/{pid}")]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {left} are still there {timeout} s after their end")
        time.sleep(0.01)


# ---------------------------------------------------------------------------------- files
def read_run(path):
    with h5py.File(path, "r") as f:
        return ({k: f["epochs"][k][:] for k in f["epochs"]}, {k: f["episodes"][k][:] for k in f["episodes"]})


def checkpoint_epoch(d):
    """The checkpoint's epoch, None without a checkpoint; raises if it cannot be read."""
    path = f"{d}/checkpoint.h5"
    if not os.path.exists(path):
        return None
    with h5py.File(path, "r") as f:
        return int(f.attrs["epoch"])


def bits_differ(name, a, b):
    """None if a and b are equal bit for bit, else a description."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"{name}: {a.dtype}{a.shape} vs reference {b.dtype}{b.shape}"
    if a.tobytes() == b.tobytes():
        return None
    i = next(i for i in range(len(a)) if a[i:i + 1].tobytes() != b[i:i + 1].tobytes())
    return f"{name}[{i}] = {a[i]!r}, reference {b[i]!r}"


def compare_prefix(run, ref, n=None):
    """Differences of run (epochs, episodes) from the reference's first n epochs (all if None)."""
    (ea, pa), (eb, pb) = run, ref
    rows = len(ea.get("Epoch", []))
    if n is None:
        n = len(eb["Epoch"])
        if rows != n:
            return [f"the run file holds {rows} epochs, the reference {n}"]
    diffs = []
    if rows == 0:  # columns may not exist before the first epoch
        return [f"/epochs/{k} has {len(v)} rows, /epochs/Epoch none" for k, v in ea.items() if len(v)] + \
            [f"/episodes/{k} has {len(v)} rows before the first epoch" for k, v in pa.items() if len(v)]
    if set(ea) != set(eb):
        diffs.append(f"/epochs columns {sorted(set(ea) ^ set(eb))} in only one of run file and reference")
    for k in eb:
        if k in TIMING or k not in ea:
            continue
        if len(ea[k]) != rows:
            diffs.append(f"/epochs/{k} has {len(ea[k])} rows, /epochs/Epoch {rows}")
        elif (d := bits_differ(f"/epochs/{k}", ea[k], eb[k][:n])) is not None:
            diffs.append(d)
    keep = pb["epoch"] < n
    if set(pa) != set(pb):
        diffs.append(f"/episodes columns {sorted(pa)} vs reference {sorted(pb)}")
    for k in pb:
        if k in pa and (d := bits_differ(f"/episodes/{k}", pa[k], pb[k][keep])) is not None:
            diffs.append(d)
    return diffs


# ---------------------------------------------------------------------------------- printed rows
SHORT = {"AvgEpRet": "AverageEpRet", "AvgVVals": "AverageVVals", "EnvSteps": "TotalEnvInteracts",
         "Steps/s": "StepsPerSecond", "Backtrack": "BacktrackIters"}
SHARES = {"Roll%": "TimeRollout", "Upd%": "TimeUpdate", "Comm%": "TimeComm", "IO%": "TimeIO"}
INTEGRAL = {"Epoch", "TotalEnvInteracts", "StopIter", "BacktrackIters"}


def printed_rows(stdout):
    """[(columns, tokens)] of the complete epoch rows rank 0 printed (a cut last line is not one)."""
    rows, header = [], None
    for line in stdout.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        tok = line.split()
        if tok and tok[0] == "Epoch":
            header = tok
        elif header and len(tok) == len(header) and tok[0].isdigit():
            rows.append((header, tok))
    return rows


def check_printed(rows, epochs):
    """Every printed row is in the run file with the printed values (formatted as printed)."""
    diffs, n = [], len(epochs.get("Epoch", []))
    for header, tok in rows:
        e = int(tok[0])
        if e >= n:
            diffs.append(f"printed epoch {e} is not in the run file (it holds {n} epochs)")
            continue
        total = sum(epochs[c][e] for c in SHARES.values())
        for name, t in zip(header, tok):
            if name in SHARES:
                want = "%.1f" % (100 * epochs[SHARES[name]][e] / total if total > 0 else 0.0)
            else:
                col = SHORT.get(name, name)
                v = epochs[col][e]
                if math.isnan(v):
                    ok = t in ("nan", "-nan")
                    want = t if ok else "nan"
                else:
                    want = ("%.0f" if col in INTEGRAL else "%.4g") % v
            if t != want:
                diffs.append(f"epoch {e}: printed {name} {t}, the run file has {want}")
    return diffs


# ---------------------------------------------------------------------------------- the campaign
class Failure(Exception):
    pass


def attempt(binary, d, every, target, moment, rng, est, k0s):
    """Launch `--resume auto` into d and SIGKILL `target` at `moment`; returns a record."""
    ck = checkpoint_epoch(d)
    e0 = ck or 0  # where the job starts (no checkpoint: from scratch)
    k0 = k0s["resume" if ck is not None else "create"]  # its start-up commits of run.h5
    due = [n for n in range(e0 + 1, EPOCHS + 1) if n % every == 0 or n == EPOCHS]
    rec = {"target": target, "moment": moment, "start_epoch": e0}
    if moment == "random":
        rec["delay"] = rng.uniform(0, est["start"] + 0.9 * est["epoch"] * (EPOCHS - e0))
        rec["when"] = f"{rec['delay']:.3f} s after the launch"
    elif moment == "run-write":
        n = rng.randint(e0, EPOCHS)  # n == e0: one of the start-up commits (created or cut back)
        i = rng.randint(1, k0) if n == e0 else k0 + n - e0
        rec["when"] = f"run.h5.tmp opened for {n} epochs" + (f" (start-up commit {i} of {k0})" if n == e0 else "")
        trigger = lambda st: st.run_tmp_open and st.run_tmp_opens == i
    elif moment == "ckpt-due":
        n = rng.choice(due)
        rec["when"] = f"run.h5 committed with {n} epochs, checkpoint due"
        trigger = lambda st: st.run_commits == k0 + n - e0
    else:  # ckpt-write
        n = rng.choice(due)
        j = due.index(n) + 1
        rec["when"] = f"checkpoint.h5.tmp opened for epoch {n}"
        trigger = lambda st: st.ckpt_tmp_open and st.ckpt_tmp_opens == j
    st = WriterState(e0, due, k0)
    watch = Watch(d)
    c = cmd(binary, d, every)
    rec["cmd"] = " ".join(c)
    p = subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    t0 = time.monotonic()
    pids, seen, fired = {}, set(), False
    out = err = ""
    try:
        while p.poll() is None and time.monotonic() - t0 < 4 * HANG_SECONDS:
            if len(pids) < 2:  # every target: the ranks are reaped at the end
                pids = rank_pids(p.pid)
                seen |= set(pids.values())
                if len(seen) >= 2 and len(pids) < 2:
                    break  # the ranks have ended before the moment: too late
            if moment == "random":
                left = t0 + rec["delay"] - time.monotonic()
                for ev in watch.read(min(max(left, 0), 0.01)):
                    st.apply(*ev)
                hit = left <= 0
            else:
                hit = False
                for ev in watch.read(0.005 if len(pids) < 2 else 0.05):
                    st.apply(*ev)
                    hit = hit or trigger(st)
            if not hit:
                continue
            if target != "mpirun" and len(pids) < 2:
                pids = rank_pids(p.pid)
                seen |= set(pids.values())
                if len(pids) < 2:
                    continue  # the ranks are not there yet: kill them as soon as they are
            try:
                os.kill(p.pid if target == "mpirun" else pids[int(target[-1])], signal.SIGKILL)
                fired = True
            except ProcessLookupError:
                pass
            rec["at"] = time.monotonic() - t0
            t_kill = time.monotonic()
            for ev in watch.read(0):  # what had happened before the signal
                st.apply(*ev)
            rec["phase"] = st.phase()
            rec["epochs_committed"] = st.epochs_committed()
            break
        # The job's end: mpirun aborts the job when a rank dies. Ranks orphaned by a killed
        # mpirun go on for a moment: they get up to a second to end on their own, then SIGKILL.
        if p.poll() is None and not fired and time.monotonic() - t0 >= 4 * HANG_SECONDS:
            rec["hung"] = diagnose([p.pid, *pids_with(d)])  # neither ended nor got its kill
        try:
            p.wait(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            # mpirun did not end the job: reported with what its processes were doing, then the
            # test SIGKILLs all of them, as an operator would, and checks the directory as usual.
            # (Seen with Open MPI 4.1.4: mpirun alone, its ranks gone, its main thread waiting on
            # a futex; attaching a debugger made it exit.)
            rec["slow"] = diagnose([p.pid, *pids_with(d)])
            SLOW.append(rec)
        if fired:
            rec["teardown"] = time.monotonic() - t_kill
        if fired and target == "mpirun":
            deadline = time.monotonic() + rng.uniform(0, 1.0)
            while pids_with(d) and time.monotonic() < deadline:
                time.sleep(0.02)
        survivors = kill_all_with(d)
        rec["survivors_killed"] = len(survivors)
        if p.poll() is None:
            p.wait(timeout=30)
        out, err = p.communicate(timeout=30)
        reap((seen | survivors) - {p.pid})
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        reap((seen | kill_all_with(d)) - {p.pid})
        drain(watch, st)
        watch.close()
    rec.update(exit=p.returncode, stdout=out, stderr=err, fired=fired, wall=time.monotonic() - t0)
    rec["cut"] = [f for f, o in (("checkpoint.h5.tmp", st.ckpt_tmp_open), ("run.h5.tmp", st.run_tmp_open)) if o]
    if rec.get("hung"):
        raise Failure(f"the job hung: neither ended nor reached its kill moment ({rec['when']}) in "
                      f"{4 * HANG_SECONDS} s\n    command: {rec['cmd']}\n    processes:\n{rec['hung']}\n"
                      f"    stdout:\n{out}\n    stderr:\n{err}")
    if rec.get("slow"):
        print(f"  warning: mpirun did not end within {HANG_SECONDS} s of "
              f"{'the SIGKILL of ' + target if fired else 'its ranks ending'}: {describe(rec)}; all of it SIGKILLed then\n    command: {rec['cmd']}\n"
              f"    processes after {HANG_SECONDS} s:\n{rec['slow']}\n    stderr:\n{err}", flush=True)
    if st.on_disk_mem:
        raise Failure(f"in-memory HDF5 images appeared on disk: {sorted(st.on_disk_mem)}")
    # rlmpi's own errors (lock, resume, file writes) are failures whatever else happened.
    own = [l for l in err.splitlines() if l.startswith(("rlmpi: error", "rlmpi: fatal error"))]
    if own or (not fired and p.returncode != 0 and not rec.get("slow")):
        raise Failure(f"the job {'was killed but' if fired else 'was not killed yet, but'} exited {p.returncode}"
                      f"{' with ' + repr(own) if own else ''}\n    command: {rec['cmd']}\n"
                      f"    stdout:\n{out}\n    stderr:\n{err}")
    # Landed: the signal was delivered and the job did not finish normally after all.
    rec["landed"] = fired and p.returncode != 0
    if p.returncode == 0 and st.run_commits != k0 + EPOCHS - e0 + k0s["end"]:
        print(f"  warning: a job from epoch {e0} committed run.h5 {st.run_commits} times, expected {k0} at the start, "
              f"{EPOCHS - e0} epochs and {k0s['end']} at the end: the kill moments are off", flush=True)
    return rec


def check_dir(d, ref, every, rows):
    """The run directory after a job's end (all of its processes dead); the file's epoch count."""
    diffs, run_path = [], f"{d}/run.h5"
    if not os.path.exists(run_path):
        if rows:
            raise Failure(f"no run file, but the job printed epochs {[int(t[0]) for _, t in rows]}")
        n, epochs = 0, {}
    else:
        try:
            run = read_run(run_path)
        except Exception as e:  # noqa: BLE001 - any h5py error is the failure being tested for
            raise Failure(f"run.h5 does not open with h5py: {type(e).__name__}: {e}")
        epochs = run[0]
        n = len(epochs.get("Epoch", []))
        if n > EPOCHS or not np.array_equal(epochs.get("Epoch", np.zeros(0)), np.arange(n)):
            diffs.append(f"/epochs/Epoch is {epochs.get('Epoch')}, expected 0..{n - 1}")
        else:
            diffs += compare_prefix(run, ref, n)
            if len(run[1].get("epoch", [])) and run[1]["epoch"].max() >= n:
                diffs.append(f"/episodes has episodes of epoch {run[1]['epoch'].max()} with {n} epoch rows")
            diffs += check_printed(rows, epochs)
    try:
        ck = checkpoint_epoch(d)
    except Exception as e:  # noqa: BLE001
        raise Failure(f"checkpoint.h5 does not open with h5py: {type(e).__name__}: {e}")
    if ck is not None and ck > n:
        diffs.append(f"the checkpoint is at epoch {ck}, past the run file's {n} epochs (resume cannot cut back)")
    durable = [int(t[0]) + 1 for _, t in rows if (int(t[0]) + 1) % every == 0 or int(t[0]) + 1 == EPOCHS]
    if durable and (ck or 0) < max(durable):
        diffs.append(f"epoch {max(durable) - 1} was printed after its checkpoint, but the checkpoint is at {ck}")
    if diffs:
        raise Failure("; ".join(diffs))
    return n, ck


def follow(p, d, st=None, watch=None, stop=lambda: False):
    """Applies the job's file events to st until it ends, stop() holds or its ranks are gone."""
    seen, last_scan = False, 0.0
    while p.poll() is None and not stop():
        for ev in watch.read(0.02) if watch else time.sleep(0.05) or []:
            st.apply(*ev)
        if time.monotonic() - last_scan > 0.2:
            last_scan, others = time.monotonic(), set(pids_with(d)) - {p.pid}
            seen = seen or bool(others)
            if seen and not others:
                return  # the ranks ended: mpirun ends the job now (wait_job sees to it)


def drain(watch, st):
    """Applies the events still queued (the job has ended)."""
    while evs := watch.read(0.02):
        for ev in evs:
            st.apply(*ev)


def wait_job(p, d, what):
    """(exit code, stdout, stderr) of a job that is not being killed. mpirun left alone by its ranks
    for HANG_SECONDS is diagnosed and SIGKILLed: exit code None then (its ranks' codes are lost)."""
    alone_since, deadline = None, time.monotonic() + 600
    while p.poll() is None:
        now, ranks = time.monotonic(), set(pids_with(d)) - {p.pid}
        alone_since = None if ranks else alone_since or now
        if now > deadline or (alone_since and now - alone_since > HANG_SECONDS):
            diag = diagnose([p.pid, *pids_with(d)])
            p.kill()
            reap(kill_all_with(d) - {p.pid})
            out, err = p.communicate()
            if ranks:
                raise Failure(f"{what} did not end in 600 s\n    processes:\n{diag}\n    stdout:\n{out}\n"
                              f"    stderr:\n{err}")
            SLOW.append(what)
            print(f"  warning: mpirun did not end within {HANG_SECONDS} s of its ranks ({what}); SIGKILLed\n"
                  f"    processes:\n{diag}", flush=True)
            return None, out, err
        time.sleep(0.2)
    out, err = p.communicate()
    return p.returncode, out, err


def run_to_end(binary, d, every, ref):
    c = cmd(binary, d, every)
    p = subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    follow(p, d)
    code, out, err = wait_job(p, d, "the final resume")
    if code not in (0, None) or any(l.startswith("rlmpi: error") for l in err.splitlines()):
        raise Failure(f"the final `{' '.join(c)}` exited {code}\n{out}\n{err}")
    try:
        check_dir(d, ref, every, printed_rows(out))
    except Failure as e:
        raise Failure(f"after the final `{' '.join(c)}` (exit {code}): {e}\n    stdout:\n{out}\n    stderr:\n{err}")
    diffs = compare_prefix(read_run(f"{d}/run.h5"), ref)
    if diffs:
        raise Failure("resumed to the end, differs from the uninterrupted run: " + "; ".join(diffs))


def reference(binary, d, every):
    """An uninterrupted run; also measures the launch-to-first-commit time and the epoch time."""
    os.makedirs(d)
    st, watch = WriterState(0, []), Watch(d)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd(binary, d, every), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    follow(p, d, st, watch, stop=lambda: st.run_commits > 0)
    first = time.monotonic() - t0 if st.run_commits else None
    follow(p, d, st, watch)
    total = time.monotonic() - t0
    code, out, err = wait_job(p, d, "a reference run")
    drain(watch, st)
    watch.close()
    if code not in (0, None):
        sys.exit(f"FAIL: reference run exited {code}\n{out}\n{err}")
    ref = read_run(f"{d}/run.h5")
    rows = printed_rows(out)
    if [int(t[0]) for _, t in rows] != list(range(EPOCHS)) or check_printed(rows, ref[0]):
        sys.exit(f"FAIL: reference run's printed rows do not match its run file: {check_printed(rows, ref[0])}\n{out}")
    first = first or total / 4
    k0 = st.commits_before_ckpt - every  # the first checkpoint follows the commit of epoch `every`
    return ref, {"start": first, "epoch": max(total - first, 0.1) / EPOCHS, "total": total,
                 "k0": k0, "k_end": st.run_commits - k0 - EPOCHS}


def calibrate_resume(binary, d, ref):
    """Start-up commits of run.h5 by a job that resumes a checkpoint: a run killed after its second
    checkpoint, then resumed to the end (which must equal the reference)."""
    os.makedirs(d)
    for stage in ("kill", "resume"):
        e0 = checkpoint_epoch(d) or 0
        st, watch = WriterState(e0, []), Watch(d)
        p = subprocess.Popen(cmd(binary, d, 1), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        if stage == "kill":
            follow(p, d, st, watch, stop=lambda: st.ckpt_commits >= 2)
            if p.poll() is not None or st.ckpt_commits < 2:
                sys.exit(f"FAIL: calibration: the job ended before its second checkpoint\n{p.communicate()}")
            killed = kill_all_with(d)  # mpirun and its ranks
            p.communicate()
            reap(killed - {p.pid})
        else:
            follow(p, d, st, watch)
            code, out, err = wait_job(p, d, "the calibration's resume")
            drain(watch, st)
        watch.close()
    if code not in (0, None):
        sys.exit(f"FAIL: calibration: resuming a killed run exited {code}\n{out}\n{err}")
    if diffs := compare_prefix(read_run(f"{d}/run.h5"), ref):
        sys.exit(f"FAIL: calibration: killed after epoch {e0} and resumed, differs from the reference: {diffs}")
    k0 = st.commits_before_ckpt - 1  # --checkpoint-every 1: the first checkpoint follows the first epoch's commit
    return k0, st.run_commits - k0 - (EPOCHS - e0)


def plan(rng):
    """(cadence, [(target, moment)]) per cadence: every target with every moment (by MOMENT_WEIGHTS),
    repeated or sampled to --kills / 2, shuffled."""
    base = [(t, m) for t in TARGETS for m in MOMENTS for _ in range(MOMENT_WEIGHTS[m])]
    per_cadence = max(1, ARGS.kills // len(CADENCES))
    out = []
    for every in CADENCES:
        kills = base * (per_cadence // len(base)) + rng.sample(base, per_cadence % len(base))
        rng.shuffle(kills)
        out.append((every, kills))
    return out


def describe(rec):
    s = f"{rec['target']} at {rec['moment']} ({rec['when']}"
    if "at" in rec:
        s += f"; sent {rec['at']:.3f} s after the launch, hit phase {rec['phase']}"
        s += f", {rec['epochs_committed']} epochs committed by this job" if rec["epochs_committed"] is not None else ""
    s += f"; job started at epoch {rec['start_epoch']}, mpirun exit {rec.get('exit')})"
    if rec.get("cut"):
        s += f" [cut mid-write: {', '.join(rec['cut'])}]"
    return s


def case_zombie_lock(binary, tmp):
    d = f"{tmp}/zombie"
    os.makedirs(d)
    st, watch = WriterState(0, [1]), Watch(d)
    p = subprocess.Popen(cmd(binary, d, 1), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    pids = {}
    try:
        while p.poll() is None and (len(pids) < 2 or st.ckpt_commits < 1):
            if len(pids) < 2:
                pids = rank_pids(p.pid)
            for ev in watch.read(0.01):
                st.apply(*ev)
        if p.poll() is not None:
            sys.exit(f"FAIL: the job ended (exit {p.returncode}) before its first checkpoint\n{p.stderr.read()}")
        p.kill()  # mpirun, then its ranks: orphans, now ours (subreaper) and not reaped
        p.wait()
        for pid in pids.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while not all(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z" for pid in pids.values()):
            if time.monotonic() > deadline:
                sys.exit(f"FAIL: ranks {pids} are not zombies 30 s after SIGKILL")
            time.sleep(0.01)
        with open(f"{d}/rlmpi.lock") as f:
            lock = f.read().strip()
        if f"pid={pids[0]}" not in lock:
            sys.exit(f"FAIL: the lock '{lock}' is not rank 0's (pid {pids[0]})")
        q = subprocess.run(cmd(binary, d, 1), capture_output=True, text=True, timeout=600)
    finally:
        watch.close()
        if p.poll() is None:
            p.kill()
            p.wait()
        reap(set(pids.values()) | kill_all_with(d))
    if q.returncode != 0 or "taking over the stale lock" not in q.stderr:
        sys.exit(f"FAIL: the lock's owner, rank 0 (pid {pids[0]}), was SIGKILLed and is a zombie (dead, not yet "
                 f"reaped): `--resume auto` exited {q.returncode}, expected 0 with a stale-lock warning\n"
                 f"lock: {lock}\n{q.stderr}")
    with h5py.File(f"{d}/run.h5", "r") as f:
        n = len(f["epochs/Epoch"])
    if n != EPOCHS:
        sys.exit(f"FAIL: resumed run holds {n} epochs")
    print(f"lock of a zombie rank 0 (pid {pids[0]}) taken over: "
          f"{next(l for l in q.stderr.splitlines() if 'stale lock' in l)}")


def main():
    become_subreaper()
    if ARGS.case == "zombie-lock":
        tmp = tempfile.mkdtemp(prefix="rlmpi-faults-")
        try:
            shutil.copy2(ARGS.rlmpi, f"{tmp}/rlmpi")
            case_zombie_lock(f"{tmp}/rlmpi", tmp)
        finally:
            kill_all_with(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
        return
    rng = random.Random(SEED)
    print(f"fault campaign: seed {SEED} (rerun: {sys.argv[0]} RLMPI MPIEXEC --seed {SEED})", flush=True)
    tmp = tempfile.mkdtemp(prefix="rlmpi-faults-")
    binary = f"{tmp}/rlmpi"
    shutil.copy2(ARGS.rlmpi, binary)  # the build tree's binary may be replaced while this runs
    t_start = time.monotonic()
    failures, log = [], []
    ok = False
    try:
        refs, est = {}, {}
        for every in CADENCES:
            refs[every], est[every] = reference(binary, f"{tmp}/ref-{every}", every)
            print(f"reference --checkpoint-every {every}: {EPOCHS} epochs in {est[every]['total']:.2f} s "
                  f"(first commit after {est[every]['start']:.2f} s)", flush=True)
        k_resume, k_end_resume = calibrate_resume(binary, f"{tmp}/calibrate", refs[1])
        k0s = {"create": est[1]["k0"], "resume": k_resume, "end": est[1]["k_end"]}
        if (est[3]["k0"], est[3]["k_end"], k_end_resume) != (k0s["create"], k0s["end"], k0s["end"]) or \
                min(k0s["create"], k0s["resume"]) < 1 or k0s["end"] < 0:
            sys.exit(f"FAIL: the run.h5 commits are not understood: before the first epoch {est[1]['k0']}, "
                     f"{est[3]['k0']} (new run, --checkpoint-every 1, 3), {k_resume} (resumed); after the last "
                     f"{est[1]['k_end']}, {est[3]['k_end']}, {k_end_resume}")
        print(f"run.h5 commits before the first epoch: {k0s['create']} in a new run, {k0s['resume']} in a resumed one; "
              f"after the last epoch: {k0s['end']}", flush=True)
        same = not compare_prefix(refs[1], refs[3])
        print(f"references with --checkpoint-every 1 and 3 {'are' if same else 'are NOT'} identical (non-timing)")
        kill_no = misses = 0
        for every, kills in plan(rng):
            campaign = 0
            while kills:
                campaign += 1
                d = f"{tmp}/c{every}-{campaign:02d}"
                os.makedirs(d)
                here, history = 0, []
                try:
                    while kills and here < ARGS.per_run:
                        if (checkpoint_epoch(d) or 0) >= EPOCHS:
                            break  # the last kill hit after the final checkpoint: nothing left to kill
                        target, moment = kills[0]
                        try:
                            rec = attempt(binary, d, every, target, moment, rng, est[every], k0s)
                        except Failure as e:
                            raise Failure(f"kill #{kill_no + 1} ({target} at {moment}): {e}") from None
                        if not rec["landed"]:
                            misses += 1
                            if misses > 12 + ARGS.kills // 2:
                                raise Failure(f"{misses} kills missed (the job ended first): estimates {est[every]}")
                            history.append("missed: " + describe(rec))
                            print(f"  missed --checkpoint-every {every}: {describe(rec)}: the job ended first "
                                  f"({rec['wall']:.1f} s); this kill is redone in a new run", flush=True)
                            # The run is finished (or its final checkpoint is written): it is resumed
                            # and compared below, and the kill is tried again in a new campaign run.
                            try:
                                check_dir(d, refs[every], every, printed_rows(rec["stdout"]))
                            except Failure as e:
                                raise Failure(f"after a job that ended normally: {e}") from None
                            break
                        kills.pop(0)
                        kill_no += 1
                        here += 1
                        rec.update(n=kill_no, every=every, campaign=d)
                        log.append(rec)
                        history.append(f"kill #{kill_no}: " + describe(rec))
                        try:
                            rows = printed_rows(rec["stdout"])
                            rec["printed"] = [int(t[0]) for _, t in rows]
                            rec["file_epochs"], rec["ckpt"] = check_dir(d, refs[every], every, rows)
                        except Failure as e:
                            raise Failure(f"kill #{kill_no}: {describe(rec)}:\n    {e}\n    command: {rec['cmd']}\n"
                                          f"    stdout:\n{rec['stdout']}\n    stderr:\n{rec['stderr']}") from None
                        print(f"  kill #{kill_no:2d} --checkpoint-every {every}: {describe(rec)}: run file "
                              f"{rec['file_epochs']} epochs, checkpoint {rec['ckpt']}, printed {rec['printed']} ({rec['wall']:.1f} s)",
                              flush=True)
                    run_to_end(binary, d, every, refs[every])
                    print(f"campaign run {os.path.basename(d)}: {here} kill(s), resumed to the end: identical to "
                          f"the uninterrupted run", flush=True)
                except Failure as e:
                    failures.append(f"seed {SEED}, campaign run {d} (--checkpoint-every {every}):\n  {e}\n"
                                    f"  history of this run directory:\n    " + "\n    ".join(history))
                    print(f"FAILURE in {d}: see the report at the end", flush=True)
                    kill_all_with(d)
        # Counts.
        print(f"\n{len(log)} kills ({misses} missed: the job ended before the moment and was redone) in "
              f"{time.monotonic() - t_start:.0f} s, seed {SEED}")
        for key, values in (("target", TARGETS), ("moment", MOMENTS), ("every", CADENCES)):
            print(f"  by {key}: " + ", ".join(f"{v}: {sum(1 for r in log if r[key] == v)}" for v in values))
        phases = ("startup", "run-write", "epoch", "ckpt-build", "ckpt-write")
        print("  phase hit (from the writers' file events): " +
              ", ".join(f"{ph}: {sum(1 for r in log if r['phase'] == ph)}" for ph in phases))
        window = [r for r in log if r["phase"] in ("ckpt-build", "ckpt-write")]
        print(f"  inside the checkpoint window (checkpoint due, not yet renamed into place): {len(window)} "
              f"({sum(1 for r in window if r['phase'] == 'ckpt-write')} with checkpoint.h5.tmp open); "
              f"writes cut mid-file: checkpoint.h5.tmp {sum('checkpoint.h5.tmp' in r['cut'] for r in log)}, "
              f"run.h5.tmp {sum('run.h5.tmp' in r['cut'] for r in log)}")
        tear = sorted(r["teardown"] for r in log if r["target"] != "mpirun")
        print(f"  rank killed -> mpirun ended the job after: median {tear[len(tear) // 2]:.1f} s, max {tear[-1]:.1f} s; "
              f"not within {HANG_SECONDS} s (then SIGKILLed by the test): {sum(1 for r in log if 'slow' in r)}"
              if tear else "  no rank kills")
        if SLOW:
            print(f"  jobs mpirun did not end within {HANG_SECONDS} s (diagnosed above, then SIGKILLed): {len(SLOW)}")
        print(f"  ranks left by a killed mpirun that were still running after up to 1 s (killed by the test): "
              f"{sum(r['survivors_killed'] for r in log if r['target'] == 'mpirun')}")
        planned = len(CADENCES) * max(1, ARGS.kills // len(CADENCES))
        if len(log) < planned and not failures:
            failures.append(f"only {len(log)} of {planned} kills landed")
        if failures:
            print("\nFAIL:\n" + "\n\n".join(failures))
            print(f"(scratch directory kept: {tmp})")
            sys.exit(1)
        print(f"all {len(log)} kills: run files readable with every printed epoch, prefixes of the reference; "
              f"every run resumed to the end bit for bit")
        ok = True
    finally:
        kill_all_with(tmp)
        if ok and not ARGS.keep:
            shutil.rmtree(tmp, ignore_errors=True)


main()
print("1 passed, 0 failed")
