#!/usr/bin/python3
"""End-to-end tests of `rlmpi` runs: run file, checkpoints, bit-exact resume, signals, locks, eval.

usage: test_run.py RLMPI MPIEXEC CASE   (CASE: resume-1, resume-2, signal-1, signal-2, errors, eval, stall,
       reproduce, presets, evaluation, isa, keep-checkpoints)
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import run_files  # noqa: E402  (the drivers' shared run-file comparison)

RLMPI, MPIEXEC, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
SMALL = ["--steps-per-epoch", "800", "--hid", "16", "--train-pi-iters", "20", "--train-v-iters", "20", "--quiet"]


def cmd(np_, *args):
    return [MPIEXEC, "-q", "-n", str(np_), "--oversubscribe", RLMPI, *args]


def run(np_, *args, expect=0):
    p = subprocess.run(cmd(np_, *args), capture_output=True, text=True, timeout=600)
    if p.returncode != expect:
        sys.exit(f"FAIL: {' '.join(cmd(np_, *args))} exited {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}")
    return p


def same_run(a, b):
    if diff := run_files.differences(a, b):
        sys.exit(f"FAIL: {a} and {b} differ: {', '.join(diff)}")
    return run_files.epochs(a)


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
    # Spinning Up's --epoch-end reset resumes bit for bit too (the default continue is above).
    straight, split = f"{tmp}/reset-straight", f"{tmp}/reset-split"
    run(np_, "--epoch-end", "reset", "--epochs", "4", "--out", straight, *SMALL)
    run(np_, "--epoch-end", "reset", "--epochs", "2", "--out", split, *SMALL)
    p = run(np_, "--epoch-end", "continue", "--epochs", "4", "--out", split, "--resume", "auto", *SMALL,
            expect=2)  # modes do not mix
    assert "cannot resume with --epoch-end 'continue': the run was made with 'reset'" in p.stderr, p.stderr
    run(np_, "--epochs", "4", "--out", split, "--resume", "auto", *SMALL)  # the run's own mode
    assert same_run(f"{straight}/run.h5", f"{split}/run.h5") == 4
    print(f"--epoch-end reset: 4 epochs straight == 2 + resumed 2 ({np_} rank(s))")
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
            ranks = list(rank_pids(cut).values())
            p.send_signal(signal.SIGUSR1)  # mpirun forwards SIGUSR1 to the ranks
            # More signals while the ranks stop and exit must change nothing and kill nothing (sent
            # to the ranks: mpirun itself may already be exiting and die of it), up to their last
            # moment: every 5 ms until mpirun is gone.
            t_end = time.time() + 60
            while p.poll() is None and time.time() < t_end:
                for pid in ranks:
                    try:
                        os.kill(pid, signal.SIGUSR1)
                    except ProcessLookupError:
                        pass
                time.sleep(0.005)
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


def rank_pids(marker):
    """{rank: pid} of the rlmpi ranks whose command line holds `marker` (not mpirun)."""
    out = {}
    for pid in subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                exe = f.read().split(b"\0")[0]
        except OSError:
            continue
        if b"OMPI_COMM_WORLD_RANK" in env and exe.endswith(b"rlmpi"):
            out[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(pid)
    return out


def case_stall(tmp):
    """--stall-timeout: a SIGSTOPped rank (1, then 0) makes the job abort naming it, within the
    timeout plus a few seconds, and the run file keeps every finished epoch."""
    timeout = 3
    for np_, victim in [(2, 1), (4, 0)]:
        d = f"{tmp}/stall-{np_}-{victim}"
        p = subprocess.Popen(cmd(np_, "--epochs", "1000", "--out", d, "--stall-timeout", str(timeout), *SMALL),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pids = {}
        try:
            deadline = time.time() + 120
            while time.time() < deadline and p.poll() is None:
                try:
                    with h5py.File(f"{d}/run.h5", "r") as f:
                        if len(f["epochs/Epoch"]) >= 2:
                            break
                except (OSError, KeyError):
                    pass
                time.sleep(0.05)
            pids = rank_pids(d)
            assert len(pids) == np_ and p.poll() is None, (pids, p.poll(), p.stderr.read() if p.poll() else "")
            os.kill(pids[victim], signal.SIGSTOP)
            t0 = time.time()
            out, err = p.communicate(timeout=60)
            waited = time.time() - t0
        finally:
            for pid in pids.values():  # never leave a stopped rank behind
                for sig in (signal.SIGKILL, signal.SIGCONT):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
            if p.poll() is None:
                p.kill()
                p.wait()
        if p.returncode == 0 or "stall watchdog" not in err or f"rank {victim} (host" not in err:
            sys.exit(f"FAIL: stopped rank {victim} of {np_}: exit {p.returncode} after {waited:.1f} s\n{err}")
        assert waited < timeout + 10, waited
        with h5py.File(f"{d}/run.h5", "r") as f:  # every finished epoch is still there
            assert len(f["epochs/Epoch"]) >= 2
        line = next(l for l in err.splitlines() if "stall watchdog" in l)
        print(f"{np_} ranks, rank {victim} stopped: job ended after {waited:.1f} s, exit {p.returncode}: {line}")

    # A hung file system: rank 0's next checkpoint write blocks for ever in open() on a FIFO put
    # where the temporary file goes; rank 0 still answers, but rank 1 waits for it in MPI.
    d = f"{tmp}/stall-fs"
    p = subprocess.Popen(cmd(2, "--epochs", "1000", "--out", d, "--stall-timeout", str(timeout), *SMALL),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fifo = f"{d}/checkpoint.h5.tmp"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None:
            if os.path.exists(f"{d}/checkpoint.h5"):
                try:
                    os.mkfifo(fifo)
                    break
                except FileExistsError:  # a write is under way: try again
                    pass
            time.sleep(0.01)
        t0 = time.time()
        out, err = p.communicate(timeout=60)
        waited = time.time() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        subprocess.run(["pkill", "-KILL", "-f", d])
        if os.path.exists(fifo):
            os.unlink(fifo)
    if p.returncode == 0 or "rank 0 (host" not in err or "has not reached the collective" not in err:
        sys.exit(f"FAIL: hung checkpoint write on rank 0: exit {p.returncode} after {waited:.1f} s\n{err}")
    assert waited < timeout + 10, waited
    line = next(l for l in err.splitlines() if "stall watchdog" in l)
    print(f"2 ranks, rank 0 hung in a file write: job ended after {waited:.1f} s, exit {p.returncode}: {line}")


def case_errors(tmp):
    d = f"{tmp}/r"
    run(1, "--epochs", "2", "--out", d, *SMALL)
    p = run(1, "--epochs", "4", "--out", d, "--resume", "auto", "--algo", "trpo", *SMALL, expect=2)
    assert "cannot resume with --algo 'trpo': the run was made with 'ppo'" in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1, p.stderr
    p = run(1, "--epochs", "4", "--out", d, "--resume", "auto", "--hid", "8", expect=2)
    assert "cannot resume with --hid '8': the run was made with '16'" in p.stderr, p.stderr
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
    holder = subprocess.Popen(cmd(1, "--epochs", "1000000", "--out", f"{tmp}/busy", *SMALL), stdout=subprocess.DEVNULL,
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
    p = run(2, "eval", d, "--episodes", "6", "--deterministic", "--save", f"{tmp}/e2.h5")
    assert "6 episodes (deterministic)" in p.stdout, p.stdout
    q = run(1, "eval", f"{d}/run.h5", "--episodes", "6", "--deterministic", "--save", f"{tmp}/e1.h5")
    # Episode seeds do not depend on the rank count: same report with 1 and 2 ranks.
    assert p.stdout.split(":", 1)[1].split("; written")[0] == q.stdout.split(":", 1)[1].split("; written")[0], \
        (p.stdout, q.stdout)
    # The result file: every episode in episode order (the same with 1 and 2 ranks), and the options.
    with h5py.File(f"{tmp}/e1.h5", "r") as a, h5py.File(f"{tmp}/e2.h5", "r") as b:
        assert np.array_equal(a["episodes/return"][:], b["episodes/return"][:]) and len(a["episodes/return"]) == 6
        assert np.array_equal(a["episodes/length"][:], b["episodes/length"][:])
        assert a.attrs["deterministic"] == 1 and a.attrs["episodes"] == 6 and b.attrs["num_ranks"] == 2
        assert np.isclose(a.attrs["return_mean"], np.mean(a["episodes/return"][:]), rtol=1e-12)
    r = run(1, "eval", d, "--episodes", "2")  # default file: eval-<UTC time>.h5 beside the checkpoint
    written = r.stdout.strip().rsplit("written to ", 1)[1]
    assert os.path.dirname(written) == d and os.path.basename(written).startswith("eval-"), written
    assert os.path.exists(written)
    p = run(1, "eval", f"{tmp}/none", expect=2)
    assert "does not exist" in p.stderr
    print("eval: same figures with 1 and 2 ranks;", q.stdout.strip())


def case_reproduce(tmp):
    """A run made from a preset, a --config file with an [algo] section and switches reproduces
    from its run file (--config RUN/run.h5) and from `rlmpi config RUN` (an INI that round-trips)."""
    ini = f"{tmp}/mine.ini"
    with open(ini, "w") as f:
        f.write("# general part, then per-algorithm sections\nhid = 16\ntrain-v-iters = 20\nnormalize-obs = yes\n"
                "[trpo]\nhid = 8\n[ppo]\ntrain-pi-iters = 10\nminibatch-size = 50\n")
    first = f"{tmp}/first"
    run(2, "--preset", "ppo/Pendulum-v1", "--config", ini, "--clip-vloss", "--steps-per-rank", "200", "--epochs", "3",
        "--out", first, "--quiet")
    text = run(1, "config", first).stdout
    for line in ["hid = 16", "train-pi-iters = 10", "minibatch-size = 50", "gamma = 0.9", "update-epochs = 10",
                 "normalize-obs = 1", "clip-vloss = 1", "steps-per-rank = 200", "activation = relu"]:
        assert f"\n{line}\n" in text, (line, text)
    assert "\nout = " not in text and "resume" not in text and "steps-per-epoch" not in text, text
    with open(f"{tmp}/exported.ini", "w") as f:
        f.write(text)
    run(2, "--config", f"{first}/run.h5", "--out", f"{tmp}/from-h5")
    run(2, "--config", first, "--out", f"{tmp}/from-dir", "--quiet")
    run(2, "--config", f"{tmp}/exported.ini", "--out", f"{tmp}/from-ini", "--quiet")
    for other in ["from-h5", "from-dir", "from-ini"]:
        assert same_run(f"{first}/run.h5", f"{tmp}/{other}/run.h5") == 3, other
    again = run(1, "config", f"{tmp}/from-ini").stdout
    assert again.split("\n", 1)[1] == text.split("\n", 1)[1], (again, text)  # same INI, bar the header
    # The command line still wins over a reproduced configuration.
    run(1, "--config", f"{first}/run.h5", "--epochs", "1", "--out", f"{tmp}/shorter", "--quiet")
    assert run_files.epochs(f"{tmp}/shorter/run.h5") == 1
    p = run(1, "config", f"{tmp}/nothing", expect=2)
    assert "no run file at" in p.stderr, p.stderr
    p = run(1, "--config", ini, "--preset", "ppo/Nope-v9", expect=2)
    assert "unknown preset 'ppo/Nope-v9' (allowed: " in p.stderr and "ppo/Hopper-v4" in p.stderr, p.stderr
    with open(f"{tmp}/bad.ini", "w") as f:
        f.write("[sac]\ngamma = 0.9\n")
    p = run(1, "--config", f"{tmp}/bad.ini", expect=2)
    assert "unknown section [sac]" in p.stderr and "[ppo]" in p.stderr, p.stderr
    print("preset + [ppo] section + switches: --config RUN/run.h5, --config RUN and `rlmpi config` INI all reproduce "
          "the run bit for bit")


def eval_table(path):
    with h5py.File(path, "r") as f:
        return {k: f["eval"][k][:] for k in f["eval"]}


def case_evaluation(tmp):
    """--eval-every: /eval rows, best.h5 that `rlmpi eval` reproduces, --target-return stops the run
    (exit 0, recorded), and a resumed run's /eval equals an uninterrupted run's."""
    d = f"{tmp}/target"
    p = run(2, "--eval-every", "5", "--target-return", "475", "--epochs", "60", "--out", d)
    assert "rlmpi: reached the target return 475" in p.stdout, p.stdout
    ev = eval_table(f"{d}/run.h5")
    n = run_files.epochs(f"{d}/run.h5")
    assert n < 60 and n % 5 == 0 and list(ev["epoch"]) == list(range(4, n, 5)), (n, ev["epoch"])
    assert ev["return_mean"][-1] >= 475 and np.all(ev["return_mean"][:-1] < 475), ev["return_mean"]
    assert np.all(ev["episodes"] == 10) and np.all(np.diff(ev["env_steps"]) == 5 * 4000), ev
    with h5py.File(f"{d}/run.h5", "r") as f:
        status = f.attrs["exit_status"]
        assert status.startswith("reached the target return 475"), status
        assert f["eval/return_mean"].attrs["description"], "no description"
    assert open(f"{d}/status").read().startswith("0 reached the target return 475")
    best = float(np.max(ev["return_mean"]))
    q = run(1, "eval", f"{d}/best.h5", "--deterministic", "--episodes", "10", "--seed", "0")
    assert f"return mean {best:.6g} " in q.stdout, (best, q.stdout)
    assert "nothing to do" in run(2, "--resume", "auto", "--out", d, "--epochs", str(n)).stdout  # exit 0
    print(f"--target-return 475 stopped after {n} epochs (exit 0), /eval {list(np.round(ev['return_mean'], 1))}, "
          f"rlmpi eval best.h5 reproduces {best:.6g}")

    # Resume: /eval rows of epochs not checkpointed are dropped and recomputed, best.h5 carries on.
    straight, split = f"{tmp}/ev-straight", f"{tmp}/ev-split"
    common = ["--eval-every", "2", "--eval-episodes", "4", *SMALL]
    run(2, *common, "--epochs", "6", "--out", straight)
    run(2, *common, "--epochs", "4", "--out", split)
    run(2, *common, "--epochs", "6", "--out", split, "--resume", "auto")
    a, b = eval_table(f"{straight}/run.h5"), eval_table(f"{split}/run.h5")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), (a, b)
    assert list(a["epoch"]) == [1, 3, 5], a["epoch"]  # every 2 epochs and the last
    assert same_run(f"{straight}/run.h5", f"{split}/run.h5") == 6
    p = run(1, "--target-return", "100", expect=2)
    assert "--target-return 100 needs evaluations" in p.stderr, p.stderr

    # --scale-actions: the evaluation in training and `rlmpi eval` of best.h5 both scale the actions.
    sa = f"{tmp}/scaled"
    run(2, "--env", "Pendulum-v1", "--scale-actions", "--eval-every", "1", "--eval-episodes", "4", "--epochs", "3",
        "--out", sa, *SMALL)
    best = float(np.max(eval_table(f"{sa}/run.h5")["return_mean"]))
    q = run(1, "eval", f"{sa}/best.h5", "--deterministic", "--episodes", "4", "--seed", "0")
    assert f"return mean {best:.6g} " in q.stdout, (best, q.stdout)
    p = run(1, "--scale-actions", "--out", f"{tmp}/discrete", expect=2)
    assert "--scale-actions needs a Box action space (CartPole-v1 has Discrete(2))" in p.stderr, p.stderr

    # --time-feature: the policy sees one more input, in training, in its evaluations and in
    # `rlmpi eval` of best.h5; a resume keeps it and stays bit-identical.
    tf, tf_split = f"{tmp}/time-feature", f"{tmp}/time-feature-split"
    tf_args = ["--time-feature", "--eval-every", "1", "--eval-episodes", "4", *SMALL]
    run(2, *tf_args, "--epochs", "3", "--out", tf)
    with h5py.File(f"{tf}/checkpoint.h5", "r") as f:
        n_pi = f["arrays/pi_params"].shape[0]
    assert n_pi == (5 * 16 + 16) + (16 * 2 + 2), n_pi  # --hid 16; CartPole's 4 inputs + the feature
    best = float(np.max(eval_table(f"{tf}/run.h5")["return_mean"]))
    q = run(1, "eval", f"{tf}/best.h5", "--deterministic", "--episodes", "4", "--seed", "0")
    assert f"return mean {best:.6g} " in q.stdout, (best, q.stdout)
    run(2, *tf_args, "--epochs", "2", "--out", tf_split)
    run(2, "--epochs", "3", "--out", tf_split, "--resume", "auto")  # the option comes from the run
    assert same_run(f"{tf}/run.h5", f"{tf_split}/run.h5") == 3

    # --time-limit: stops after the last epoch that fits, checkpointed, exit 3; resume continues.
    t = f"{tmp}/timed"
    # More epochs than any machine runs in 6 s: 200 tiny epochs took under a second on an AVX-512 core.
    p = run(2, "--time-limit", "0:06", "--epochs", "1000000", "--out", t, *SMALL, expect=3)
    done = run_files.epochs(f"{t}/run.h5")
    with h5py.File(f"{t}/run.h5", "r") as f:
        assert f.attrs["exit_status"].startswith("stopped before the time limit (6 s) after epoch"), f.attrs["exit_status"]
    status = open(f"{t}/status").read()
    assert status.startswith(f"3 stopped before the time limit (6 s) after epoch {done - 1} ({done} epochs"), status
    assert 1 <= done < 1000000 and "resume with --resume auto" in p.stderr, (done, p.stderr)
    run(2, "--resume", "auto", "--time-limit", "off", "--epochs", str(done + 2), "--out", t, *SMALL)
    assert run_files.epochs(f"{t}/run.h5") == done + 2
    print("eval during training: resumed run's /eval == uninterrupted run's; --target-return without --eval-every: exit 2")


def case_presets(tmp):
    """Every shipped preset loads and trains one tiny epoch (its options are valid together)."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs")
    names = sorted(f"{a}/{f[:-4]}" for a in os.listdir(root) for f in os.listdir(f"{root}/{a}") if f.endswith(".ini"))
    assert len(names) >= 10, names
    for name in names:
        algo, env = name.split("/")
        d = f"{tmp}/{algo}-{env}"
        run(1, "--preset", name, "--epochs", "1", "--steps-per-epoch", "200", "--out", d, "--quiet")
        text = run(1, "config", d).stdout
        assert f"\nalgo = {algo}\n" in text and f"\nenv = {env}\n" in text, (name, text)
    print(f"{len(names)} presets load and train:", ", ".join(names))


def cpu_isas():
    """The kernel instruction sets this CPU runs (x86-64 levels, as rlmpi's nn/isa.cpp checks)."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    isas = ["sse2"]
    if {"avx2", "fma", "bmi2", "movbe"} <= flags:
        isas.append("avx2")
        if {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= flags:
            isas.append("avx512")
    return isas


def case_isa(tmp):
    """--isa: every set this CPU runs trains on 2 ranks; the set is printed and recorded in the
    run file and checkpoint; sets differ only by rounding; auto is the best; a resume on another
    set says its bits may differ; a set the CPU lacks, or a bad name, is exit 2 before any
    directory is made."""
    isas = cpu_isas()
    args = ["--epochs", "2", "--steps-per-epoch", "2000", "--quiet"]
    returns = {}
    for isa in ["auto", *isas]:
        d = f"{tmp}/{isa}"
        p = run(2, *args, "--isa", isa, "--out", d)
        used = isas[-1] if isa == "auto" else isa
        assert f", {used} float kernels)" in p.stdout, p.stdout
        with h5py.File(f"{d}/run.h5", "r") as f:
            assert f.attrs["isa"] == used and f.attrs["config.isa"] == isa, dict(f.attrs)
            returns[isa] = f["epochs/AverageEpRet"][:]
            losses = f["epochs/LossV"][:]
        with h5py.File(f"{d}/checkpoint.h5", "r") as f:
            assert f.attrs["isa"] == used, dict(f.attrs)
        returns[isa + "-lossv"] = losses
    assert same_run(f"{tmp}/auto/run.h5", f"{tmp}/{isas[-1]}/run.h5") == 2  # auto is the best set, bit for bit
    # Rounding differences only: the first epoch's losses agree to float precision.
    for isa in isas:
        a, b = returns[isa + "-lossv"][0], returns["sse2-lossv"][0]
        assert abs(a - b) <= 1e-4 * abs(b), (isa, a, b)
    if len(isas) > 1:
        p = run(2, "--epochs", "3", "--steps-per-epoch", "2000", "--out", f"{tmp}/sse2", "--resume", "auto",
                "--isa", isas[-1])
        assert f"written by the sse2 kernels and this run uses {isas[-1]}" in p.stdout, p.stdout
    for bad, words in [("avx", "invalid value 'avx' for --isa"), *[(i, "not every rank's CPU runs it")
                                                         for i in ["avx2", "avx512"] if i not in isas]]:
        d = f"{tmp}/bad-{bad}"
        p = run(2, *args, "--isa", bad, "--out", d, expect=2)
        assert words in p.stderr and p.stderr.count("\n") == 1, p.stderr
        assert not os.path.exists(d), d
    print("--isa: " + ", ".join(isas) + " train; auto = " + isas[-1] + "; recorded; resume note; bad sets refused")


def case_keep_checkpoints(tmp):
    """--keep-checkpoints N keeps the newest N checkpoints by epoch beside checkpoint.h5; a kept one
    resumes (rolling the run back to it, bit-identical to the straight run), evaluates, and is
    never overwritten by the run it resumed; --force removes an old run's kept checkpoints."""
    def kept(d):
        return sorted(f for f in os.listdir(d) if f.startswith("checkpoint-epoch"))
    straight, d = f"{tmp}/straight", f"{tmp}/kept"
    run(2, "--epochs", "6", "--out", straight, *SMALL)
    run(2, "--epochs", "5", "--keep-checkpoints", "2", "--out", d, *SMALL)
    assert kept(d) == ["checkpoint-epoch000003.h5", "checkpoint-epoch000004.h5"], kept(d)
    with open(f"{d}/checkpoint.h5", "rb") as a, open(f"{d}/checkpoint-epoch000004.h5", "rb") as b:
        assert a.read() == b.read()
    run(1, "eval", f"{d}/checkpoint-epoch000003.h5", "--episodes", "2")
    with open(f"{d}/checkpoint-epoch000003.h5", "rb") as f:
        before = f.read()
    # Roll back to the end of epoch 3 and run to 6 epochs: the straight run's epochs, bit for bit.
    p = run(2, "--epochs", "6", "--resume", f"{d}/checkpoint-epoch000003.h5", "--keep-checkpoints", "3", *SMALL)
    assert same_run(f"{straight}/run.h5", f"{d}/run.h5") == 6
    with open(f"{d}/checkpoint-epoch000003.h5", "rb") as f:
        assert f.read() == before, "the checkpoint resumed from was overwritten"
    assert kept(d) == ["checkpoint-epoch000003.h5", "checkpoint-epoch000004.h5", "checkpoint-epoch000005.h5"], kept(d)
    # --checkpoint-every 2: the epochs that were checkpointed (1, 3, and the last, 4).
    e = f"{tmp}/every2"
    run(1, "--epochs", "5", "--checkpoint-every", "2", "--keep-checkpoints", "9", "--out", e, *SMALL)
    assert kept(e) == ["checkpoint-epoch000001.h5", "checkpoint-epoch000003.h5", "checkpoint-epoch000004.h5"], kept(e)
    run(1, "--epochs", "1", "--out", e, "--force", *SMALL)
    assert kept(e) == [], kept(e)
    run(1, "--epochs", "2", "--keep-checkpoints", "-1", "--out", f"{tmp}/neg", *SMALL, expect=2)
    print("--keep-checkpoints: newest N by epoch kept, resumable (rollback bit-identical), evaluable, untouched")


with tempfile.TemporaryDirectory(prefix="rlmpi-run-test-", ignore_cleanup_errors=True) as tmp:
    if CASE.startswith("resume-"):
        case_resume(int(CASE[-1]), tmp)
    elif CASE.startswith("signal-"):
        case_signal(int(CASE[-1]), tmp)
    elif CASE == "errors":
        case_errors(tmp)
    elif CASE == "eval":
        case_eval(tmp)
    elif CASE == "stall":
        case_stall(tmp)
    elif CASE == "reproduce":
        case_reproduce(tmp)
    elif CASE == "presets":
        case_presets(tmp)
    elif CASE == "evaluation":
        case_evaluation(tmp)
    elif CASE == "isa":
        case_isa(tmp)
    elif CASE == "keep-checkpoints":
        case_keep_checkpoints(tmp)
    else:
        sys.exit(f"unknown case {CASE}")
print("1 passed, 0 failed")
