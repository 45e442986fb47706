#!/usr/bin/python3
"""End-to-end tests of `rlmpi` runs: run file, checkpoints, bit-exact resume, signals, locks, eval.

usage: test_run.py RLMPI MPIEXEC CASE   (CASE: resume-1, resume-2, signal-1, signal-2, errors, eval)
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

RLMPI, MPIEXEC, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
TIMING = {"Time", "TimeRollout", "TimeUpdate", "TimeComm", "TimeIO", "UpdateGFLOPS", "StepsPerSecond"}
SMALL = ["--steps-per-epoch", "800", "--hid", "16", "--train-pi-iters", "20", "--train-v-iters", "20", "--quiet"]


def cmd(np_, *args):
    return [MPIEXEC, "-q", "-n", str(np_), "--oversubscribe", RLMPI, *args]


def run(np_, *args, expect=0):
    p = subprocess.run(cmd(np_, *args), capture_output=True, text=True, timeout=600)
    if p.returncode != expect:
        sys.exit(f"FAIL: {' '.join(cmd(np_, *args))} exited {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}")
    return p


def epochs(path):
    with h5py.File(path, "r") as f:
        return {k: f["epochs"][k][:] for k in f["epochs"]}, {k: f["episodes"][k][:] for k in f["episodes"]}


def same_run(a, b):
    ea, pa = epochs(a)
    eb, pb = epochs(b)
    assert ea.keys() == eb.keys(), (ea.keys(), eb.keys())
    for k in ea:
        if k in TIMING:
            continue
        if not np.array_equal(ea[k], eb[k], equal_nan=True):
            sys.exit(f"FAIL: /epochs/{k} differs:\n{ea[k]}\n{eb[k]}")
    for k in pa:
        if not np.array_equal(pa[k], pb[k]):
            sys.exit(f"FAIL: /episodes/{k} differs")
    return len(ea["Epoch"])


def case_resume(np_, tmp):
    for algo in ["ppo", "trpo", "vpg"]:
        straight, split = f"{tmp}/{algo}-straight", f"{tmp}/{algo}-split"
        run(np_, "--algo", algo, "--env", "Pendulum-v1" if algo == "trpo" else "CartPole-v1", "--epochs", "6",
            "--out", straight, *SMALL)
        common = ["--algo", algo, "--env", "Pendulum-v1" if algo == "trpo" else "CartPole-v1", "--out", split, *SMALL]
        run(np_, *common, "--epochs", "3")
        run(np_, *common, "--epochs", "3", expect=2)  # an existing run is never overwritten silently
        run(np_, *common, "--epochs", "6", "--resume", "auto")
        n = same_run(f"{straight}/run.h5", f"{split}/run.h5")
        assert n == 6, n
        print(f"{algo}: 6 epochs straight == 3 + resumed 3, bit for bit ({np_} rank(s))")
    # Float networks with the observation normaliser: resume is bit-exact too, and the run file
    # holds the normaliser's final statistics (the checkpoint's, in the documented layout).
    straight, split = f"{tmp}/float-straight", f"{tmp}/float-split"
    common = ["--env", "Pendulum-v1", "--precision", "float", "--normalize-obs", *SMALL]
    run(np_, *common, "--epochs", "4", "--out", straight)
    run(np_, *common, "--epochs", "2", "--out", split)
    run(np_, *common, "--epochs", "4", "--out", split, "--resume", "auto")
    assert same_run(f"{straight}/run.h5", f"{split}/run.h5") == 4
    with h5py.File(f"{straight}/run.h5", "r") as f, h5py.File(f"{split}/checkpoint.h5", "r") as c:
        norm = c["arrays/obs_norm"][:]
        d = (len(norm) - 1) // 2
        assert f["normalizer/obs_count"][0] == norm[0] >= 4 * 800  # every step's observation, plus resets
        assert np.array_equal(f["normalizer/obs_mean"][:], norm[1:1 + d]), (f["normalizer/obs_mean"][:], norm)
        assert np.array_equal(f["normalizer/obs_var"][:], norm[1 + d:])
        assert d == 3 and np.all(f["normalizer/obs_var"][:] > 0)
    print(f"float + normalize-obs: 4 epochs straight == 2 + resumed 2, run-file normaliser == checkpoint's")


def case_signal(np_, tmp):
    ref, cut = f"{tmp}/ref", f"{tmp}/cut"
    args = ["--epochs", "8", "--steps-per-epoch", "4000", "--hid", "32", "--quiet"]
    run(np_, *args, "--out", ref)
    for attempt in range(3):
        p = subprocess.Popen(cmd(np_, *args, "--out", cut, "--resume", "auto"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while time.time() < deadline:  # wait until 2 epochs are durable, then signal mid-epoch
            if os.path.exists(f"{cut}/checkpoint.h5"):
                try:
                    with h5py.File(f"{cut}/run.h5", "r") as f:
                        if len(f["epochs/Epoch"]) >= 2:
                            break
                except OSError:
                    pass
            if p.poll() is not None:
                break
            time.sleep(0.05)
        if p.poll() is None:
            p.send_signal(signal.SIGUSR1)  # mpirun forwards SIGUSR1 to the ranks
            time.sleep(0.05)
            p.send_signal(signal.SIGUSR1)  # a second signal during the stop must not corrupt anything
        out, err = p.communicate(timeout=300)
        if p.returncode == 3:
            break
        if p.returncode != 0:
            sys.exit(f"FAIL: signalled run exited {p.returncode}\n{err}")
        # finished before the signal landed: start over
        subprocess.run(["rm", "-rf", cut])
    else:
        sys.exit("FAIL: never managed to signal the run mid-way")
    assert "resume with --resume auto" in err, err
    with h5py.File(f"{cut}/run.h5", "r") as f:
        stopped_at = len(f["epochs/Epoch"])
    assert 2 <= stopped_at < 8, stopped_at
    run(np_, *args, "--out", cut, "--resume", "auto")
    assert same_run(f"{ref}/run.h5", f"{cut}/run.h5") == 8
    print(f"stopped by SIGUSR1 after {stopped_at} epochs, exit 3, resumed: identical to the straight run ({np_} rank(s))")


def case_errors(tmp):
    d = f"{tmp}/r"
    run(1, "--epochs", "2", "--out", d, *SMALL)
    p = run(1, "--epochs", "4", "--out", d, "--resume", "auto", "--algo", "trpo", *SMALL, expect=2)
    assert "--algo ppo, this run has trpo" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    p = run(1, "--epochs", "4", "--out", d, "--resume", "auto", "--hid", "8", expect=2)
    assert "--hid 16, this run has 8" in p.stderr, p.stderr
    with open(f"{d}/checkpoint.h5", "r+b") as f:  # corrupt the checkpoint
        f.seek(0)
        f.write(b"garbage" * 100)
    p = run(1, "--epochs", "4", "--out", d, "--resume", "auto", *SMALL, expect=2)
    assert "corrupt or unreadable" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    os.truncate(f"{d}/checkpoint.h5", 100)
    p = run(2, "--epochs", "4", "--out", d, "--resume", f"{d}/checkpoint.h5", *SMALL, expect=2)
    assert "corrupt or unreadable" in p.stderr, p.stderr
    p = run(1, "--epochs", "4", "--resume", f"{tmp}/nothing-here", *SMALL, expect=2)
    assert "for --resume" in p.stderr, p.stderr
    run(1, "--epochs", "2", "--out", d, "--force", *SMALL)  # --force starts over
    assert same_run(f"{d}/run.h5", f"{d}/run.h5") == 2
    # A live lock holder blocks a second writer.
    holder = subprocess.Popen(cmd(1, "--epochs", "500", "--out", f"{tmp}/busy", *SMALL), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(600):
            if os.path.exists(f"{tmp}/busy/rlmpi.lock"):
                break
            time.sleep(0.05)
        p = run(1, "--epochs", "3", "--out", f"{tmp}/busy", "--resume", "auto", *SMALL, expect=2)
        assert "is in use by job" in p.stderr, p.stderr
    finally:  # the whole process group: mpiexec and the rank still writing into tmp
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        for _ in range(200):  # a rank in a process group of its own: make sure it is gone too
            if subprocess.run(["pkill", "-KILL", "-f", f"{tmp}/busy"]).returncode != 0:
                break
            time.sleep(0.05)
        time.sleep(0.5)
    print("mismatched, corrupt and truncated checkpoints, missing resume targets and locked directories: exit 2")


def case_eval(tmp):
    d = f"{tmp}/e"
    run(2, "--epochs", "2", "--out", d, *SMALL)
    p = run(2, "eval", d, "--episodes", "6", "--deterministic")
    assert "6 episodes (deterministic)" in p.stdout, p.stdout
    q = run(1, "eval", f"{d}/run.h5", "--episodes", "6", "--deterministic")
    # Episode seeds do not depend on the rank count: same report with 1 and 2 ranks.
    assert p.stdout.split(":", 1)[1] == q.stdout.split(":", 1)[1], (p.stdout, q.stdout)
    p = run(1, "eval", f"{tmp}/none", expect=2)
    assert "does not exist" in p.stderr
    print("eval: same figures with 1 and 2 ranks;", q.stdout.strip())


with tempfile.TemporaryDirectory(prefix="rlmpi-run-test-", ignore_cleanup_errors=True) as tmp:
    if CASE.startswith("resume-"):
        case_resume(int(CASE[-1]), tmp)
    elif CASE.startswith("signal-"):
        case_signal(int(CASE[-1]), tmp)
    elif CASE == "errors":
        case_errors(tmp)
    elif CASE == "eval":
        case_eval(tmp)
    else:
        sys.exit(f"unknown case {CASE}")
print("1 passed, 0 failed")
