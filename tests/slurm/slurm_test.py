#!/usr/bin/python3
"""Tests of jobs/*.sbatch on a real single-node slurm (tools/slurm-local.sh).

  slurm_test.py job      a 2-task jobs/rlmpi.sbatch job completes and writes its run file
  slurm_test.py preempt --np N
                         a job sent SIGUSR1 (scancel --signal=USR1 --batch) in the middle of an
                         epoch exits 3, requeues itself, resumes by itself and ends with /epochs/*
                         (timing columns aside) and /episodes/* bit-identical to an uninterrupted
                         mpirun run with the same seed and ranks
  slurm_test.py sweep    a 3-task jobs/sweep.sbatch array (SEEDS/EPOCHS/EXTRA, default sweep
                         directory); tools/summary.py lists 3 seeds
  slurm_test.py grid     a 2-point jobs/sweep.sbatch grid into a fixed sweep directory: a failed
                         task (rlmpi SIGKILLed) submitted again continues its run (same directory, epochs appended,
                         bit-identical to an uninterrupted run); another grid there fails, exit 2
  slurm_test.py sanity   a world smaller than SLURM_NTASKS stops with exit 2; a second job on a
                         running job's run directory fails with exit 2 (rlmpi.lock)
  slurm_test.py launch   a launcher that exits 0 without running rlmpi (as srun can after a
                         requeue) is retried, and fails the job after 3 attempts
  slurm_test.py cleanup  stops the local slurm if a test of this suite started it

Every wait is bounded; every poll checks that slurmctld and slurmd still run, and a failure
names the job and its state. Jobs are cancelled on the way out. Exit 77 = skipped (slurm cannot
start on this machine).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

SKIP = 77
SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SLURM_LOCAL = os.path.join(SRC, "tools", "slurm-local.sh")
SLURM_DIR = os.environ.get("RLMPI_SLURM_DIR", "/tmp/rlmpi-slurm")
MARKER = os.path.join(SLURM_DIR, ".started-by-ctest")
TIMING = {"Time", "TimeRollout", "TimeUpdate", "TimeComm", "TimeIO", "UpdateGFLOPS", "StepsPerSecond"}
PYTHON = "/usr/bin/python3"

our_jobs = []


class Fail(Exception):
    pass


def log(msg):
    print(f"[slurm-test {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, timeout=30, check=True, **kw):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    except subprocess.TimeoutExpired:
        raise Fail(f"command timed out after {timeout} s: {' '.join(cmd)}")
    if check and p.returncode != 0:
        raise Fail(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}")
    return p


def pid_alive(name):
    try:
        pid = int(open(os.path.join(SLURM_DIR, name + ".pid")).read().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def start_slurm():
    up = run([SLURM_LOCAL, "status"], check=False).returncode == 0
    if not up:
        p = run([SLURM_LOCAL, "start"], timeout=600, check=False)
        if p.returncode != 0:
            print(p.stdout)
            print("SKIP: slurm cannot start on this machine (tools/slurm-local.sh start failed, output "
                  "above); the slurm tests are skipped", flush=True)
            sys.exit(SKIP)
        open(MARKER, "w").close()
        log("started the local slurm")
    os.environ["SLURM_CONF"] = os.path.join(SLURM_DIR, "slurm.conf")
    for k in list(os.environ):  # never inherit a surrounding job's identity
        if k.startswith("SLURM_") and k != "SLURM_CONF":
            del os.environ[k]


def job_info(jobid):
    """scontrol show job as a dict (first record), or None when slurm no longer knows the job."""
    p = run(["scontrol", "-o", "show", "job", str(jobid)], timeout=20, check=False)
    if p.returncode != 0 or not p.stdout.strip():
        if "Invalid job id" in p.stdout:
            return None
        raise Fail(f"scontrol show job {jobid} failed: {p.stdout.strip()} ({daemons()})")
    recs = []
    for line in p.stdout.strip().splitlines():
        d = {}
        for m in re.finditer(r"(\w+(?:/\w+)?)=(\S*)", line):
            d.setdefault(m.group(1), m.group(2))
        recs.append(d)
    return recs


def daemons():
    return f"slurmctld {'running' if pid_alive('slurmctld') else 'NOT running'}, " \
           f"slurmd {'running' if pid_alive('slurmd') else 'NOT running'}"


def check_daemons(what, jobid=None):
    if not (pid_alive("slurmctld") and pid_alive("slurmd")):
        st = ""
        if jobid is not None and pid_alive("slurmctld"):
            try:
                recs = job_info(jobid)
                st = "; " + (state_str(recs) if recs else "slurm does not know the job")
            except Fail:
                pass
        raise Fail(f"{what}: {daemons()}{st} (see {SLURM_DIR}/log/)")


def state_str(recs):
    return ", ".join(f"job {r.get('JobId')} {r.get('JobState')} reason={r.get('Reason')} "
                     f"restarts={r.get('Restarts')} exit={r.get('ExitCode')}" for r in recs)


def wait_job_end(args, jobid):
    """Waits until every record of the job is in a final state; returns the records."""
    return wait_for(f"job {jobid} to end", lambda: [r for r in (job_info(jobid) or [])
                                                    if r.get("JobState") not in ("PENDING", "RUNNING",
                                                                                 "CONFIGURING", "COMPLETING")],
                    args.timeout, jobid)


def wait_for(what, cond, timeout, jobid=None, interval=0.3):
    """Polls cond() until it returns a true value; each round checks the daemons; Fail on timeout."""
    t0 = time.time()
    while True:
        check_daemons(f"while waiting for {what}", jobid)
        v = cond()
        if v:
            return v
        if time.time() - t0 > timeout:
            st = ""
            if jobid is not None:
                recs = job_info(jobid)
                st = "; " + (state_str(recs) if recs else "slurm does not know the job")
            raise Fail(f"timed out after {timeout} s waiting for {what}{st}")
        time.sleep(interval)


def sbatch(args, env):
    e = dict(os.environ, **env)
    p = run(["sbatch", "--parsable"] + args, env=e)
    jobid = p.stdout.strip().split(";")[0].splitlines()[-1]
    our_jobs.append(jobid)
    log(f"submitted job {jobid}: sbatch {' '.join(args)}")
    return jobid


FINAL_BAD = {"FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
             "DEADLINE", "PREEMPTED"}


def wait_completed(jobid, timeout, out=None, expect_tasks=1):
    """Waits until every record of jobid (array tasks included) is COMPLETED; Fail on a bad final
    state (with the job's output file)."""
    def cond():
        recs = job_info(jobid)
        if recs is None:
            raise Fail(f"job {jobid} vanished from slurm")
        states = [r.get("JobState") for r in recs]
        bad = [r for r in recs if r.get("JobState") in FINAL_BAD]
        if bad:
            raise Fail(f"job {jobid} ended badly: {state_str(bad)}" + tail(out))
        # a pending array record covers tasks not yet split off; wait for the expected count
        if len(recs) >= expect_tasks and all(s == "COMPLETED" for s in states):
            return recs
        return None
    try:
        return wait_for(f"job {jobid} to complete", cond, timeout, jobid)
    except Fail as e:
        raise Fail(str(e) + tail(out)) if out and "--- " not in str(e) else e


def tail(path, n=40):
    if not path or not os.path.exists(path):
        return ""
    lines = open(path, errors="replace").read().splitlines()
    return f"\n--- last lines of {path}:\n" + "\n".join(lines[-n:])


def h5_epochs(path):
    """Number of epochs in a run file, or 0 when it is not (yet) readable."""
    import h5py
    if not os.path.exists(path):
        return 0
    try:
        with h5py.File(path, "r") as f:
            if "epochs" not in f or "Epoch" not in f["epochs"]:
                return 0
            return len(f["epochs/Epoch"])
    except OSError:
        return 0


def h5_datasets(path):
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        for grp in ("epochs", "episodes"):
            if grp in f:
                for name, d in f[grp].items():
                    if isinstance(d, h5py.Dataset):
                        out[f"{grp}/{name}"] = d[()]
    return out


def compare_runs(ref, got):
    """Bit-identity of /epochs/* (timing columns aside) and /episodes/*; returns a description."""
    a, b = h5_datasets(ref), h5_datasets(got)
    problems = []
    cols = sorted(k for k in set(a) | set(b) if k.split("/", 1)[1] not in TIMING or not k.startswith("epochs/"))
    for k in cols:
        if k not in a or k not in b:
            problems.append(f"{k} only in {'reference' if k in a else 'resumed run'}")
            continue
        x, y = a[k], b[k]
        if x.shape != y.shape or x.dtype != y.dtype:
            problems.append(f"{k}: shape/dtype {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
        elif x.tobytes() != y.tobytes():
            idx = [i for i in range(len(x)) if x[i:i + 1].tobytes() != y[i:i + 1].tobytes()]
            problems.append(f"{k}: differs at rows {idx[:5]} (ref {x[idx[0]]!r} vs {y[idx[0]]!r})")
    if problems:
        raise Fail("resumed run differs from the uninterrupted one:\n  " + "\n  ".join(problems))
    n = len(a.get("epochs/Epoch", []))
    return f"{len([c for c in cols if c.startswith('epochs/')])} /epochs columns x {n} epochs and " \
           f"{len([c for c in cols if c.startswith('episodes/')])} /episodes datasets bit-identical"


def cancel_ours():
    """Cancels our jobs and makes sure they stay cancelled (a job whose cancel could not reach a
    dead slurmd may still requeue itself): up to 20 s, bounded."""
    t0 = time.time()
    while our_jobs and time.time() - t0 < 20:
        live = []
        for j in our_jobs:
            try:
                recs = job_info(j)
            except Fail:
                recs = [{"JobState": "UNKNOWN"}]
            if recs and any(r.get("JobState") in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING",
                                                   "SUSPENDED", "UNKNOWN") for r in recs):
                live.append(j)
        if not live:
            return
        for j in live:
            subprocess.run(["scancel", j], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=20, stdin=subprocess.DEVNULL)
        time.sleep(1)
    if our_jobs:
        log(f"note: jobs {' '.join(our_jobs)} may still be active after cancelling for 20 s")


def workdir(args, name):
    d = os.path.join(args.workdir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def job_env(args, **kw):
    # RLMPI_SLURM_LOCAL marks the job's processes so `tools/slurm-local.sh stop` can end any that
    # outlive a killed slurmd.
    env = {"RLMPI": args.rlmpi, "RLMPI_SLURM_LOCAL": SLURM_DIR,
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}
    env.update(kw)
    return env


# ----------------------------------------------------------------------------------------- tests
def test_job(args):
    d = workdir(args, "job")
    out = os.path.join(d, "job-%j.out")
    jobid = sbatch(["--ntasks=2", "--job-name=rlmpi-job", f"--chdir={d}", f"--output={out}",
                    os.path.join(SRC, "jobs", "rlmpi.sbatch")],
                   job_env(args, EPOCHS="4", EXTRA="--steps-per-epoch 800 --hid 16 --quiet",
                           RUNS_ROOT=os.path.join(d, "runs")))
    out = out.replace("%j", jobid)
    wait_completed(jobid, args.timeout, out)
    rf = os.path.join(d, "runs", f"rlmpi-job-{jobid}", "run.h5")
    n = h5_epochs(rf)
    if n != 4:
        raise Fail(f"job {jobid} completed but {rf} has {n} epochs, expected 4" + tail(out))
    launcher = re.findall(r"restart \d+ on \S+: (\S+)", open(out).read())
    log(f"PASS: job {jobid} COMPLETED, {rf} has 4 epochs (launcher {launcher[0] if launcher else '?'})")


def test_preempt(args):
    np_ = args.np
    d = workdir(args, f"preempt-np{np_}")
    epochs = args.epochs
    extra = f"--seed 7 --steps-per-epoch {args.steps} --hid 16 --quiet"
    out = os.path.join(d, "job-%j.out")
    jobid = sbatch([f"--ntasks={np_}", f"--job-name=rlmpi-preempt-np{np_}", f"--chdir={d}",
                    f"--output={out}", os.path.join(SRC, "jobs", "rlmpi.sbatch")],
                   job_env(args, EPOCHS=str(epochs), EXTRA=extra, RUNS_ROOT=os.path.join(d, "runs")))
    out = out.replace("%j", jobid)
    rf = os.path.join(d, "runs", f"rlmpi-preempt-np{np_}-{jobid}", "run.h5")

    def running_with_2_epochs():
        recs = job_info(jobid)
        st = recs[0].get("JobState") if recs else None
        if st in FINAL_BAD or st == "COMPLETED":
            raise Fail(f"job {jobid} reached {st} before it could be preempted" + tail(out))
        return st == "RUNNING" and h5_epochs(rf) >= 2
    wait_for(f"{rf} to hold 2 epochs", running_with_2_epochs, args.timeout, jobid, interval=0.1)
    # Land in the middle of an epoch: time one epoch (between two new rows of the run file), then
    # signal half an epoch after the next row appears.
    n0 = h5_epochs(rf)
    wait_for("the next epoch", lambda: h5_epochs(rf) > n0, args.timeout, jobid, interval=0.02)
    t_a, n1 = time.time(), h5_epochs(rf)
    wait_for("the next epoch", lambda: h5_epochs(rf) > n1, args.timeout, jobid, interval=0.02)
    t_epoch, n1 = time.time(), h5_epochs(rf)
    dt = t_epoch - t_a
    time.sleep(dt / 2)
    k = h5_epochs(rf)
    run(["scancel", "--signal=USR1", "--batch", jobid])
    log(f"epochs take {dt:.2f} s; sent SIGUSR1 to the batch shell of job {jobid} {time.time() - t_epoch:.2f} s after the run file "
        f"reached {n1} epochs (now {k}): in the middle of epoch {k} (0-based), expected to stop after it")
    # The run file may lag the training by an epoch (rank 0 writes it in the background), and the
    # signal takes a moment through the batch shell: a signal in the last two epochs may come too late.
    if k >= epochs - 2:
        raise Fail(f"the run was too fast to preempt ({k} of {epochs} epochs done); raise --epochs")

    # The script requeues the job: wait until slurm holds it pending again, then release it.
    def requeued():
        recs = job_info(jobid)
        r = recs[0] if recs else {}
        st = r.get("JobState")
        if st in FINAL_BAD or st == "COMPLETED":
            raise Fail(f"job {jobid} ended ({st}, exit {r.get('ExitCode')}) instead of requeueing itself"
                       + tail(out))
        return r if (int(r.get("Restarts", "0") or 0) >= 1 and st in ("PENDING", "REQUEUED",
                                                                       "CONFIGURING", "RUNNING")) else None
    r = wait_for(f"job {jobid} to requeue itself", requeued, args.timeout, jobid)
    stopped_at = h5_epochs(rf)
    text = open(out).read() if os.path.exists(out) else ""
    if "rlmpi exited with code 3" not in text:
        raise Fail(f"job {jobid} was requeued but its output does not show rlmpi exit code 3" + tail(out))
    if not (k <= stopped_at < epochs):
        raise Fail(f"run stopped with {stopped_at} epochs; expected between {k} and {epochs - 1}")
    log(f"job {jobid} exited 3 with {stopped_at} epochs written and requeued itself: {r.get('JobState')} "
        f"reason={r.get('Reason')} restarts={r.get('Restarts')}")
    # slurm delays a requeued job (BeginTime = requeue + cred_expire); release it early, but not
    # within the second of the requeue: slurmd refuses a credential issued in the same second as
    # the old one's revocation ("Job credential revoked" -> FAILED).
    t_requeued = time.time()

    def started_again():
        recs = job_info(jobid)
        r = recs[0] if recs else {}
        st = r.get("JobState")
        if st == "PENDING" and time.time() - t_requeued > 2.5 and not started_again.released:
            log(f"job {jobid} pending (reason={r.get('Reason')}, StartTime={r.get('StartTime')}): "
                "scontrol update StartTime=now")
            run(["scontrol", "update", f"JobId={jobid}", "StartTime=now"], check=False)
            started_again.released = True
        if st in FINAL_BAD:
            raise Fail(f"requeued job {jobid} ended {st} (reason={r.get('Reason')}) before it resumed" + tail(out))
        return st in ("RUNNING", "COMPLETING", "COMPLETED")
    started_again.released = False
    wait_for(f"requeued job {jobid} to start again", started_again, args.timeout, jobid)
    wait_completed(jobid, args.timeout, out)
    n = h5_epochs(rf)
    if n != epochs:
        raise Fail(f"resumed job {jobid} finished with {n} epochs, expected {epochs}" + tail(out))
    if "restart 1" not in open(out).read():
        raise Fail(f"job {jobid}'s output does not show the restarted run" + tail(out))

    # The uninterrupted reference: mpirun directly, same seed and ranks.
    ref = os.path.join(d, "reference")
    cmd = ["mpirun", "-np", str(np_), "--oversubscribe", args.rlmpi, "--algo", "ppo", "--env", "CartPole-v1",
           "--epochs", str(epochs)] + extra.split() + ["--out", ref]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none")
    env = {k: v for k, v in env.items() if not k.startswith("SLURM_")}
    log("reference run: " + " ".join(cmd))
    p = run(cmd, timeout=args.timeout, check=False, env=env)
    if p.returncode != 0:
        raise Fail(f"reference run failed ({p.returncode}):\n{p.stdout[-3000:]}")
    verdict = compare_runs(os.path.join(ref, "run.h5"), rf)
    log(f"PASS ({np_} rank{'s' if np_ > 1 else ''}): job {jobid} preempted after {stopped_at} of "
        f"{epochs} epochs, requeued, resumed, COMPLETED; {verdict}")


def test_cancel(args):
    """A plain `scancel` (SIGTERM to the job, which leaves RUNNING at once) is not a preemption:
    rlmpi stops with a checkpoint and exits 3, the script says so and does not requeue the job
    (a preempted job stays RUNNING during its grace time and does requeue); the run continues by
    hand with --resume auto."""
    d = workdir(args, "cancel")
    out = os.path.join(d, "job-%j.out")
    jobid = sbatch(["--ntasks=2", "--job-name=rlmpi-cancel", f"--chdir={d}", f"--output={out}",
                    os.path.join(SRC, "jobs", "rlmpi.sbatch")],
                   job_env(args, EPOCHS="1000000", EXTRA="--steps-per-epoch 2000 --hid 16 --quiet",
                           RUNS_ROOT=os.path.join(d, "runs")))  # runs until cancelled, on any machine
    out = out.replace("%j", jobid)
    run_dir = os.path.join(d, "runs", f"rlmpi-cancel-{jobid}")
    rf = os.path.join(run_dir, "run.h5")

    def running_with_2_epochs():
        recs = job_info(jobid)
        st = recs[0].get("JobState") if recs else None
        if st in FINAL_BAD or st == "COMPLETED":
            raise Fail(f"job {jobid} reached {st} before it could be cancelled" + tail(out))
        return st == "RUNNING" and h5_epochs(rf) >= 2
    wait_for(f"{rf} to hold 2 epochs", running_with_2_epochs, args.timeout, jobid, interval=0.1)
    run(["scancel", jobid])
    recs = wait_job_end(args, jobid)
    r = recs[0]
    text = open(out).read() if os.path.exists(out) else ""
    if r.get("JobState") != "CANCELLED" or int(r.get("Restarts", "0") or 0) != 0:
        raise Fail(f"scancel: expected CANCELLED without a restart, got {state_str(recs)}" + tail(out))
    time.sleep(3)  # a requeue would show up as PENDING again
    again = job_info(jobid) or []
    if any(x.get("JobState") in ("PENDING", "RUNNING", "CONFIGURING") for x in again):
        raise Fail(f"cancelled job {jobid} came back: {state_str(again)}" + tail(out))
    if "rlmpi exited with code 3" not in text or "not requeued" not in text:
        raise Fail("the job's output does not show rlmpi's exit code 3 and 'not requeued'" + tail(out))
    if os.path.exists(os.path.join(run_dir, "rlmpi.lock")) or not os.path.exists(os.path.join(run_dir, "checkpoint.h5")):
        raise Fail(f"after the cancel {run_dir} should hold a checkpoint and no lock: {os.listdir(run_dir)}")
    n = h5_epochs(rf)
    env = {k: v for k, v in dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                                 OMPI_MCA_btl_vader_single_copy_mechanism="none").items()
           if not k.startswith("SLURM_")}
    p = run(["mpirun", "-np", "2", "--oversubscribe", args.rlmpi, "--epochs", str(n + 1), "--out", run_dir,
             "--resume", "auto", "--quiet"], timeout=args.timeout, check=False, env=env)
    if p.returncode != 0 or h5_epochs(rf) != n + 1:
        raise Fail(f"resuming the cancelled run by hand failed ({p.returncode}):\n{p.stdout[-2000:]}")
    log(f"PASS: scancel of job {jobid}: CANCELLED after {n} epochs, rlmpi exit 3, not requeued; resumed by hand")


def test_sweep(args):
    """The environment interface of jobs/sweep.sbatch: SEEDS, EPOCHS, EXTRA, no axes; the default
    sweep directory is RUNS_ROOT/<job name> (not the array job id)."""
    d = workdir(args, "sweep")
    out = os.path.join(d, "sweep-%A_%a.out")
    jobid = sbatch(["--array=0-2", "--ntasks=1", "--job-name=sweep", f"--chdir={d}", f"--output={out}",
                    os.path.join(SRC, "jobs", "sweep.sbatch")],
                   job_env(args, EPOCHS="3", SEEDS="0 1 2", EXTRA="--steps-per-epoch 400 --hid 16 --quiet",
                           RUNS_ROOT=os.path.join(d, "runs")))
    outs = ",".join(out.replace("%A", jobid).replace("%a", str(i)) for i in range(3))
    try:
        wait_completed(jobid, args.timeout, expect_tasks=3)
    except Fail as e:
        raise Fail(str(e) + "".join(tail(o, 15) for o in outs.split(",")))
    sweep_dir = os.path.join(d, "runs", "sweep")
    runs = sorted(r for r in os.listdir(sweep_dir) if r.startswith("s")) if os.path.isdir(sweep_dir) else []
    expected = [f"s{s}" for s in range(3)]
    if runs != expected:
        raise Fail(f"{sweep_dir} holds {runs}, expected {expected}")
    summary = os.path.join(SRC, "tools", "summary.py")
    if os.path.exists(summary):
        p = run([PYTHON, summary, sweep_dir], timeout=60)
        print(p.stdout, flush=True)
        pc = run([PYTHON, summary, "--csv", sweep_dir], timeout=60)
        import csv
        rows = list(csv.DictReader(pc.stdout.splitlines()))
        if len(rows) != 1 or rows[0].get("n_seeds") != "3" or rows[0].get("seeds", "").split() != ["0", "1", "2"]:
            raise Fail(f"summary.py does not list one group with seeds 0 1 2:\n{pc.stdout}")
        log(f"PASS: array job {jobid} (3 tasks) COMPLETED; summary.py lists 3 seeds (0, 1, 2)")
    else:
        import h5py
        seeds = []
        for r in runs:
            with h5py.File(os.path.join(sweep_dir, r, "run.h5"), "r") as f:
                seeds.append(int(f.attrs["seed"]))
        if sorted(seeds) != [0, 1, 2]:
            raise Fail(f"sweep seeds {seeds}, expected 0 1 2")
        log(f"PASS: array job {jobid} (3 tasks) COMPLETED; seeds {seeds} (tools/summary.py not present)")


def test_grid(args):
    """A 2-point grid sweep (pi-lr=3e-4,1e-3) into a fixed SWEEP_DIR: task 1's rlmpi is SIGKILLed
    in the middle of its run, so the task FAILS (no requeue), then the same array index is submitted again as a new
    job: it continues the same run directory (epochs appended, restarts 1) and ends with /epochs
    and /episodes bit-identical (timing columns aside) to an uninterrupted mpirun run of that
    point; task 0 is untouched; --count names the array range; a different grid into the same
    SWEEP_DIR fails with exit 2 and says why."""
    import h5py
    d = workdir(args, "grid")
    script = os.path.join(SRC, "jobs", "sweep.sbatch")
    sweep_dir = os.path.join(d, "runs", "lr")
    epochs = args.epochs
    rlmpi_opts = ["--env", "CartPole-v1", "--epochs", str(epochs), "--steps-per-epoch", str(args.steps),
                  "--hid", "16", "--quiet"]
    grid = ["--grid", "pi-lr=3e-4,1e-3"]
    p = run(["bash", script, "--count", sweep_dir] + grid + ["--"] + rlmpi_opts, timeout=60)
    if "2 tasks" not in p.stdout or "sbatch --array=0-1 " not in p.stdout:
        raise Fail(f"sweep.sbatch --count: expected '2 tasks ... sbatch --array=0-1 ...', got:\n{p.stdout}")
    log("sweep.sbatch --count: " + p.stdout.strip().splitlines()[-1])

    out = os.path.join(d, "grid-%A_%a.out")
    sb = ["--ntasks=1", "--job-name=grid", f"--chdir={d}", f"--output={out}"]
    jobid = sbatch(["--array=0-1"] + sb + [script, sweep_dir] + grid + ["--"] + rlmpi_opts, job_env(args))
    out0, out1 = (out.replace("%A", jobid).replace("%a", str(i)) for i in (0, 1))
    run0 = os.path.join(sweep_dir, "pi-lr=3e-4", "s0")
    run1 = os.path.join(sweep_dir, "pi-lr=1e-3", "s0")
    rf1 = os.path.join(run1, "run.h5")
    task1 = f"{jobid}_1"

    def task1_running_with_2_epochs():
        recs = job_info(task1)
        st = recs[0].get("JobState") if recs else None
        if st in FINAL_BAD or st == "COMPLETED":
            raise Fail(f"array task {task1} reached {st} before it could be cancelled" + tail(out1))
        return st == "RUNNING" and h5_epochs(rf1) >= 2
    wait_for(f"{rf1} to hold 2 epochs", task1_running_with_2_epochs, args.timeout, task1, interval=0.1)
    # A hard failure (a crashed rank, a lost node): SIGKILL to rlmpi, whose pid its lock names.
    # The task fails (srun reports the killed rank) and, not stopped by a signal, is not requeued.
    # (A plain scancel would stop the task gracefully, without a requeue: test_cancel. Here: a crash.)
    lock = open(os.path.join(run1, "rlmpi.lock")).read()
    m = re.search(r"pid=(\d+)", lock)
    if not m:
        raise Fail(f"{run1}/rlmpi.lock does not name a pid: {lock!r}")
    os.kill(int(m.group(1)), 9)
    k = h5_epochs(rf1)
    log(f"killed rlmpi of array task {task1} (SIGKILL to pid {m.group(1)}) with {k} of {epochs} epochs in {rf1}")
    if k >= epochs - 1:
        raise Fail(f"the run was too fast to interrupt ({k} of {epochs} epochs done); raise --epochs")
    recs = wait_for(f"array task {task1} to end", lambda: [r for r in (job_info(task1) or [])
                                                         if r.get("JobState") in FINAL_BAD | {"COMPLETED"}],
                    args.timeout, task1)
    wait_completed(f"{jobid}_0", args.timeout, out0)
    stopped_at = h5_epochs(rf1)
    if recs[0].get("JobState") != "FAILED" or int(recs[0].get("Restarts", "0") or 0) != 0:
        raise Fail(f"SIGKILL of array task {task1}'s rlmpi: expected FAILED without a requeue, got "
                   f"{state_str(recs)}" + tail(out1))
    if not (2 <= stopped_at < epochs):
        raise Fail(f"after the cancel {rf1} holds {stopped_at} epochs; expected 2..{epochs - 1}"
                   f" ({state_str(recs)})" + tail(out1))
    if h5_epochs(os.path.join(run0, "run.h5")) != epochs:
        raise Fail(f"task 0's run {run0} does not hold {epochs} epochs" + tail(out0))
    log(f"array task {task1} ended {recs[0].get('JobState')} with {stopped_at} epochs in {run1}; "
        f"task 0 COMPLETED with {epochs}")
    before = sorted(os.listdir(sweep_dir))
    mtime0 = os.stat(os.path.join(run0, "run.h5")).st_mtime_ns

    # The same array index again, as a new job: it must continue run1, not start elsewhere.
    job2 = sbatch(["--array=1"] + sb + [script, sweep_dir] + grid + ["--"] + rlmpi_opts, job_env(args))
    out2 = out.replace("%A", job2).replace("%a", "1")
    wait_completed(job2, args.timeout, out2)
    after = sorted(os.listdir(sweep_dir))
    if after != before or sorted(os.listdir(os.path.join(sweep_dir, "pi-lr=1e-3"))) != ["s0"]:
        raise Fail(f"the resubmitted task changed the sweep directory: {before} -> {after}" + tail(out2))
    with h5py.File(rf1, "r") as f:
        n, restarts = len(f["epochs/Epoch"]), int(f.attrs["restarts"])
        status, lr = str(f.attrs["exit_status"]), float(f.attrs["config.pi-lr"])
    if n != epochs or restarts < 1 or status != "finished" or lr != 1e-3:
        raise Fail(f"resubmitted task: {rf1} holds {n} epochs (expected {epochs}), restarts {restarts} "
                   f"(expected >= 1), exit_status {status!r}, pi-lr {lr}" + tail(out2))
    if os.stat(os.path.join(run0, "run.h5")).st_mtime_ns != mtime0:
        raise Fail(f"the resubmission of task 1 touched task 0's run {run0}")
    ref = os.path.join(d, "reference")
    cmd = ["mpirun", "-np", "1", "--oversubscribe", args.rlmpi, "--seed", "0", "--pi-lr", "1e-3"] + \
        rlmpi_opts + ["--out", ref]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none")
    env = {k_: v for k_, v in env.items() if not k_.startswith("SLURM_")}
    p = run(cmd, timeout=args.timeout, check=False, env=env)
    if p.returncode != 0:
        raise Fail(f"reference run failed ({p.returncode}):\n{p.stdout[-3000:]}")
    verdict = compare_runs(os.path.join(ref, "run.h5"), rf1)
    log(f"resubmitted task 1 (job {job2}) continued {run1} from {stopped_at} to {epochs} epochs "
        f"(restarts {restarts}); {verdict}")

    # Another grid into the same sweep directory is refused.
    job3 = sbatch(["--array=0"] + sb + [script, sweep_dir, "--grid", "pi-lr=3e-4,1e-2", "--"] + rlmpi_opts,
                  job_env(args))
    out3 = out.replace("%A", job3).replace("%a", "0")
    recs = wait_job_end(args, job3)
    text = open(out3).read() if os.path.exists(out3) else ""
    if recs[0].get("JobState") != "FAILED" or not recs[0].get("ExitCode", "").startswith("2:") \
            or "already holds another grid" not in text:
        raise Fail(f"a different grid into {sweep_dir}: expected FAILED with exit 2 and 'already holds "
                   f"another grid'; got {state_str(recs)}" + tail(out3))
    if sorted(os.listdir(sweep_dir)) != before:
        raise Fail(f"the refused grid changed {sweep_dir}: {sorted(os.listdir(sweep_dir))}")
    err = [l for l in text.splitlines() if "already holds another grid" in l][0]
    log(f"PASS: grid sweep {jobid}: failed task 1 resubmitted as job {job2} continued its run "
        f"bit-identically; a different grid (job {job3}) FAILED exit {recs[0].get('ExitCode')}: "
        f"{err.strip()[:160]}")


def test_sanity(args):
    """Launch sanity under slurm: (1) `mpirun -np 1` inside a 2-task allocation: rlmpi sees
    SLURM_NTASKS=2 but a world of 1 and stops at once with exit 2 (this OpenMPI refuses a direct
    `srun --mpi=none` launch by itself, so the mismatch is produced with mpirun); (2) a second job on the run directory
    of a running job fails with exit 2 (DIR/rlmpi.lock names the first job)."""
    d = workdir(args, "sanity")
    out1 = os.path.join(d, "mismatch-%j.out")
    j1 = sbatch(["--ntasks=2", "--job-name=mismatch", f"--chdir={d}", f"--output={out1}", "--wrap",
                 f"mpirun -np 1 {args.rlmpi} --epochs 2 --steps-per-epoch 400 --hid 16 --out {d}/mismatch"],
                job_env(args, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1"))
    out1 = out1.replace("%j", j1)
    recs = wait_job_end(args, j1)
    text = open(out1).read() if os.path.exists(out1) else ""
    if recs[0].get("JobState") != "FAILED" or "SLURM_NTASKS=2" not in text:
        raise Fail(f"mpirun -np 1 in a 2-task job: expected FAILED with an error naming "
                   f"SLURM_NTASKS=2; got {state_str(recs)}" + tail(out1))
    if os.path.exists(os.path.join(d, "mismatch", "run.h5")):
        raise Fail(f"rlmpi wrote {d}/mismatch/run.h5 although it should stop at once")
    err = [l for l in text.splitlines() if "SLURM_NTASKS" in l][0]
    log(f"PASS: job {j1} (2 tasks, mpirun -np 1) {recs[0].get('JobState')} exit "
        f"{recs[0].get('ExitCode')}: {err.strip()}")

    run_dir = os.path.join(d, "shared-run")
    # The owner must still run when the intruder starts: an epoch budget no machine exhausts (200 epochs
    # took ~2 s on an AVX-512 core and the owner had finished); it is cancelled below.
    env = job_env(args, EPOCHS="1000000", EXTRA="--steps-per-epoch 2000 --hid 16 --quiet", RUN_DIR=run_dir)
    out2 = os.path.join(d, "owner-%j.out")
    j2 = sbatch(["--ntasks=1", "--job-name=owner", f"--chdir={d}", f"--output={out2}",
                 os.path.join(SRC, "jobs", "rlmpi.sbatch")], env)
    out2 = out2.replace("%j", j2)
    wait_for(f"job {j2} to write its first epoch", lambda: h5_epochs(os.path.join(run_dir, "run.h5")) >= 1,
             args.timeout, j2)
    out3 = os.path.join(d, "intruder-%j.out")
    j3 = sbatch(["--ntasks=1", "--job-name=intruder", f"--chdir={d}", f"--output={out3}",
                 os.path.join(SRC, "jobs", "rlmpi.sbatch")], env)
    out3 = out3.replace("%j", j3)
    recs = wait_job_end(args, j3)
    text = open(out3).read() if os.path.exists(out3) else ""
    if recs[0].get("JobState") != "FAILED" or f"in use by job {j2}" not in text:
        raise Fail(f"second job on a running job's directory: expected FAILED naming job {j2}; got "
                   f"{state_str(recs)}" + tail(out3))
    owner = job_info(j2)[0]
    if owner.get("JobState") != "RUNNING":
        raise Fail(f"the owner job {j2} did not keep running: {state_str([owner])}" + tail(out2))
    err = [l for l in text.splitlines() if "in use by job" in l][0]
    run(["scancel", j2])
    wait_job_end(args, j2)
    log(f"PASS: job {j3} on the directory of running job {j2} {recs[0].get('JobState')} exit "
        f"{recs[0].get('ExitCode')}: {err.strip()}")


FAKE_SRUN = """#!/bin/bash
# A stand-in for srun whose launches fail as slurm's srun can right after a requeue ("StepId=J.0
# aborted before step completely launched ... task 0 launch failed") and still exit 0.
# FAIL_LAUNCHES: how many launches fail so; later ones run the program under mpirun -np 1.
n=$(cat "$FAKE_DIR/launches" 2>/dev/null || echo 0)
echo $((n + 1)) > "$FAKE_DIR/launches"
if (( n < FAIL_LAUNCHES )); then
  echo "srun: error: task 0 launch failed: Unspecified error (fake srun, launch $((n + 1)))" >&2
  exit 0
fi
while [[ $1 == -* ]]; do shift; done
exec mpirun -np 1 "$@"
"""


def test_launch(args):
    """A launcher that exits 0 without running rlmpi does not pass for a finished run: (1) one
    such launch, then a good one: the job retries and COMPLETES with every epoch; (2) every launch
    fails so: the job FAILS (exit 1) after 3 attempts, naming the status file."""
    d = workdir(args, "launch")
    fake = os.path.join(d, "bin")
    os.makedirs(fake)
    with open(os.path.join(fake, "srun"), "w") as f:
        f.write(FAKE_SRUN)
    os.chmod(os.path.join(fake, "srun"), 0o755)
    for fails, good in ((1, True), (99, False)):
        case = os.path.join(d, f"fails-{fails}")
        os.makedirs(case)
        out = os.path.join(case, "job-%j.out")
        jobid = sbatch(["--ntasks=1", f"--job-name=launch-{fails}", f"--chdir={case}", f"--output={out}",
                        os.path.join(SRC, "jobs", "rlmpi.sbatch")],
                       job_env(args, PATH=fake + ":" + os.environ["PATH"], FAKE_DIR=case, FAIL_LAUNCHES=str(fails),
                               LAUNCHER="srun", LAUNCH_RETRY_DELAY="1", EPOCHS="3",
                               EXTRA="--steps-per-epoch 400 --hid 16 --quiet", RUN_DIR=os.path.join(case, "run"),
                               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1"))
        out = out.replace("%j", jobid)
        recs = wait_job_end(args, jobid)
        text = open(out).read() if os.path.exists(out) else ""
        launches = int(open(os.path.join(case, "launches")).read())
        status = os.path.join(case, "run", "status")
        if good:
            n = h5_epochs(os.path.join(case, "run", "run.h5")) if os.path.exists(status) else 0
            if recs[0].get("JobState") != "COMPLETED" or n != 3 or launches != 2 or \
                    "launch attempt 1 of 3" not in text or not open(status).read().startswith("0 finished"):
                raise Fail(f"one failed launch: expected COMPLETED after 2 launches with 3 epochs and status "
                           f"'0 finished'; got {state_str(recs)}, {launches} launches, {n} epochs" + tail(out))
        elif recs[0].get("JobState") != "FAILED" or not recs[0].get("ExitCode", "").startswith("1:") or \
                launches != 3 or "launch attempt 3 of 3" not in text:
            raise Fail(f"every launch failing: expected FAILED with exit 1 after 3 launches; got {state_str(recs)}, "
                       f"{launches} launches" + tail(out))
        log(f"PASS: {fails} failing launch(es): job {jobid} {recs[0].get('JobState')} exit {recs[0].get('ExitCode')} "
            f"after {launches} launches")


def cleanup(_args):
    if os.path.exists(MARKER):
        os.unlink(MARKER)
        p = run([SLURM_LOCAL, "stop"], timeout=120, check=False)
        print(p.stdout, flush=True)
        log("stopped the local slurm started by the tests")
    else:
        log("local slurm was not started by the tests: left as it is")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=["job", "preempt", "cancel", "sweep", "grid", "sanity", "launch",
                                             "cleanup"])
    ap.add_argument("--rlmpi", help="absolute path of the rlmpi binary")
    ap.add_argument("--workdir", default=os.path.join(os.getcwd(), "slurm-work"))
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=150, help="seconds for each wait")
    args = ap.parse_args()
    if args.test == "cleanup":
        cleanup(args)
        return 0
    args.rlmpi = os.path.abspath(args.rlmpi)
    if not os.access(args.rlmpi, os.X_OK):
        print(f"FAIL: --rlmpi {args.rlmpi} is not executable", flush=True)
        return 1
    start_slurm()
    try:
        {"job": test_job, "preempt": test_preempt, "cancel": test_cancel, "sweep": test_sweep, "grid": test_grid,
         "sanity": test_sanity, "launch": test_launch}[args.test](args)
        return 0
    except Fail as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    finally:
        cancel_ours()


if __name__ == "__main__":
    sys.exit(main())
