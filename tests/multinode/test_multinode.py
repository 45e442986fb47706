#!/usr/bin/python3
"""rlmpi on two "nodes" of this machine: network namespaces made by tools/netns-cluster.sh.

usage: test_multinode.py RLMPI MPIEXEC NETNS_CLUSTER CASE
  same-run:    4 ranks on 2 nodes (2 per node, TCP between the nodes) write the same run file
               (non-timing /epochs columns, /episodes) as 4 ranks on one node over TCP
  kill-resume: SIGKILL of a rank on the second node ends the whole job within 10 s, the last
               checkpoint is intact and holds the last completed epoch, and --resume auto on the
               same 2 nodes finishes the run identical to an uninterrupted one
Every namespace and process the test makes is removed again, also on failure, SIGINT or SIGTERM.
Exits 77 (skipped) when network namespaces cannot be made here (not root, no `ip`, or
`ip netns add` refused).
"""
import ctypes
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import run_files  # noqa: E402  (the drivers' shared run-file comparison)

RLMPI, MPIEXEC, NETNS, CASE = sys.argv[1:5]
PREFIX = f"rlmpi-mn-{os.getpid()}"
OURS = re.compile(r"^rlmpi-mn-(\d+)-(hub|n\d+)$")  # this test's naming; the number is the driver's pid
TWO_NODES, ONE_NODE = "198.18.0.1:2,198.18.0.2:2", "198.18.0.1:4"
TRAIN = ["--algo", "ppo", "--env", "CartPole-v1", "--steps-per-epoch", "800", "--hid", "16",
         "--train-pi-iters", "20", "--train-v-iters", "20", "--quiet"]
# Four ranks share two cores: waiting ranks must yield. netns-cluster.sh finds our cluster by the prefix.
ENV = dict(os.environ, OMPI_MCA_mpi_yield_when_idle="1", RLMPI_NETNS_PREFIX=PREFIX, RLMPI_NETNS_MPIRUN=MPIEXEC)
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
jobs = []  # every mpirun started, reaped during cleanup


def fail(msg):
    raise AssertionError(msg)


def cluster(*args, prefix=PREFIX):
    # A session of its own: a Ctrl-C at the terminal must not kill `down` halfway.
    return subprocess.run([NETNS, *args], env=dict(ENV, RLMPI_NETNS_PREFIX=prefix), capture_output=True,
                          text=True, timeout=120, start_new_session=True)


def namespaces():
    try:
        p = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    except FileNotFoundError:
        return []  # no iproute2: no namespaces either, and the test is skipped
    return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def remove_stale_clusters():
    """Namespaces of earlier runs of this test whose driver died without cleaning up (e.g. CTest's
    timeout kill): their pid no longer exists."""
    for pid in {int(m.group(1)) for ns in namespaces() if (m := OURS.match(ns))}:
        if not os.path.exists(f"/proc/{pid}"):
            print(f"removing the namespaces of an earlier run (pid {pid})")
            cluster("down", prefix=f"rlmpi-mn-{pid}")


def launch(hosts, *args):
    p = subprocess.Popen([NETNS, "mpirun", "-n", "4", "--oversubscribe", "--host", hosts, *args], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    jobs.append(p)
    return p


def run(hosts, *args, expect=0):
    p = launch(hosts, *args)
    t0 = time.time()
    out, err = p.communicate(timeout=300)
    if p.returncode != expect:
        fail(f"mpirun --host {hosts} {' '.join(args)} exited {p.returncode}, expected {expect}\n{out}\n{err}")
    return out, time.time() - t0


def same_run(a, b):
    if diff := run_files.differences(a, b):
        fail(f"{a} and {b} differ in {', '.join(diff)}")
    return run_files.epochs(a)


def netns_inode(ns):
    return os.stat(f"/run/netns/{ns}").st_ino


def ns_pids(ns):
    p = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(pid) for pid in p.stdout.split()]


def job_pids():
    """Every process on both nodes: mpirun, the ranks, and the daemons and shells of the launch."""
    return ns_pids(f"{PREFIX}-n0") + ns_pids(f"{PREFIX}-n1")


def rlmpi_pids(ns):
    pids = []
    for pid in ns_pids(ns):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "rlmpi":
                    pids.append(pid)
        except OSError:
            pass  # exited meanwhile
    return pids


def case_same_run(tmp):
    # Ranks 0-1 run in the first namespace, 2-3 in the second.
    out, _ = run(TWO_NODES, "sh", "-c", 'echo "$OMPI_COMM_WORLD_RANK $(readlink /proc/self/ns/net)"')
    placed = dict(line.split() for line in out.splitlines())
    want = {str(r): f"net:[{netns_inode(f'{PREFIX}-n{r // 2}')}]" for r in range(4)}
    if placed != want:
        fail(f"ranks are not placed 2 per node: {placed}, expected {want}")
    _, t2 = run(TWO_NODES, RLMPI, *TRAIN, "--epochs", "20", "--out", f"{tmp}/two-nodes")
    _, t1 = run(ONE_NODE, RLMPI, *TRAIN, "--epochs", "20", "--out", f"{tmp}/one-node")
    n = same_run(f"{tmp}/two-nodes/run.h5", f"{tmp}/one-node/run.h5")
    print(f"4 ranks on 2 nodes ({t2:.1f} s) == 4 ranks on 1 node over TCP ({t1:.1f} s): {n} epochs, bit for bit")


def checkpoint_epoch(path):
    """The checkpoint's epoch after reading every dataset in it (it is written aside and renamed)."""
    with h5py.File(path, "r") as f:
        f.visititems(lambda _, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)
        return int(f.attrs["epoch"])


def case_kill_resume(tmp):
    epochs, cut, straight = 100, f"{tmp}/cut", f"{tmp}/straight"
    args = [RLMPI, *TRAIN, "--epochs", str(epochs), "--checkpoint-every", "1"]
    _, t = run(TWO_NODES, *args, "--out", straight)
    print(f"uninterrupted: {epochs} epochs on 2 nodes, {t:.1f} s")

    job = launch(TWO_NODES, *args, "--out", cut)
    # Polls the checkpoint, not the run file: it is renamed into place, so reading it never races a
    # write, and epoch N checkpointed means N rows in the run file.
    deadline = time.time() + 120
    while time.time() < deadline and job.poll() is None:
        try:
            if checkpoint_epoch(f"{cut}/checkpoint.h5") >= 2:
                break
        except (OSError, KeyError):
            pass  # not written yet
        time.sleep(0.05)
    victims = rlmpi_pids(f"{PREFIX}-n1")
    if job.poll() is not None or len(victims) != 2:
        fail(f"the run was not running 2 ranks on the second node when it should have been killed: "
             f"exit {job.poll()}, ranks there {victims}")
    os.kill(victims[0], signal.SIGKILL)
    t0 = time.time()
    try:
        out, err = job.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        fail("mpirun still runs 30 s after a rank was killed")
    while time.time() - t0 < 10 and job_pids():
        time.sleep(0.05)
    elapsed, left = time.time() - t0, job_pids()
    if elapsed > 10 or left:
        fail(f"the job took {elapsed:.1f} s to end after SIGKILL of rank pid {victims[0]} (processes left: {left})")
    if job.returncode == 0:
        fail(f"mpirun exited 0 after a rank was killed\n{out}\n{err}")

    done = checkpoint_epoch(f"{cut}/checkpoint.h5")
    with h5py.File(f"{cut}/run.h5", "r") as f:
        rows = len(f["epochs/Epoch"])
    # Each epoch appends its run-file row, then renames its checkpoint into place: a kill between the
    # two leaves the run file one epoch ahead, which the resume discards.
    if not (2 <= done < epochs and rows - 1 <= done <= rows):
        fail(f"checkpoint at epoch {done}, run file has {rows} epochs")
    print(f"SIGKILL of a rank on node 2 after epoch {done}: mpirun exit {job.returncode}, whole job gone in "
          f"{elapsed:.1f} s; checkpoint intact at epoch {done} (run file: {rows} epochs)")

    _, t = run(TWO_NODES, *args, "--out", cut, "--resume", "auto")
    n = same_run(f"{straight}/run.h5", f"{cut}/run.h5")
    if n != epochs:
        fail(f"resumed run has {n} epochs, expected {epochs}")
    print(f"--resume auto on 2 nodes: exit 0, {t:.1f} s; {n} epochs identical to the uninterrupted run")


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def children():
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                    pids.append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            pass  # exited meanwhile
    return pids


def reap_orphans():
    """Waits for every child, including the orphans we inherited as subreaper; returns the survivors."""
    deadline = time.time() + 10
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                if time.time() > deadline:
                    return children()
                time.sleep(0.05)
        except ChildProcessError:
            return []


def cleanup(ns_inodes):
    """Removes our namespaces and every process in them; returns what is left behind, if anything."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
    p = cluster("down")
    for job in jobs:
        try:
            job.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)  # not reachable through a namespace: should not happen
            job.communicate()
    problems = [f"child process {pid} did not exit" for pid in reap_orphans()]
    problems += [f"namespace {ns} still exists" for ns in namespaces() if ns.startswith(PREFIX + "-")]
    for link in glob.glob("/proc/[0-9]*/ns/net"):
        try:
            if os.stat(link).st_ino in ns_inodes:
                problems.append(f"process {link.split('/')[2]} still runs in one of our namespaces")
        except OSError:
            pass  # exited meanwhile
    if p.returncode != 0:
        problems.append(f"netns-cluster.sh down failed: {p.stderr.strip()}")
    return problems


def main():
    cases = {"same-run": case_same_run, "kill-resume": case_kill_resume}
    if CASE not in cases:
        sys.exit(f"unknown case {CASE}")
    # SIGINT too: a shell starting us in the background may have set it to "ignore".
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    # Ranks and daemons orphaned by a killed mpirun become our children, so that the cleanup can reap
    # them: a container's init may never do it, leaving zombies behind.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if os.geteuid() == 0:
        remove_stale_clusters()
    ns_inodes, status, tmp = set(), 0, tempfile.mkdtemp(prefix="rlmpi-multinode-")
    try:
        up = cluster("up", "2")
        if up.returncode == 3:
            print(f"SKIP: network namespaces cannot be made here: {up.stderr.strip()}")
            status = 77
        elif up.returncode != 0:
            fail(f"netns-cluster.sh up 2 failed:\n{up.stdout}{up.stderr}")
        else:
            ns_inodes = {netns_inode(ns) for ns in namespaces() if ns.startswith(PREFIX + "-")}
            cases[CASE](tmp)
    except AssertionError as e:
        print(f"FAIL: {e}")
        status = 1
    except KeyboardInterrupt as e:
        print(f"interrupted ({e}): cleaning up")
        status = 130
    finally:
        problems = cleanup(ns_inodes)
        shutil.rmtree(tmp, ignore_errors=True)  # only now: no rank writes into it any more
    if problems:
        print("FAIL: left behind:\n  " + "\n  ".join(problems))
        return 1
    if status != 77:
        print(f"namespaces {PREFIX}-* and their processes removed")
    if status == 0:
        print("1 passed, 0 failed")
    return status


sys.exit(main())
