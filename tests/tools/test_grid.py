"""Tests of tools/grid.py (the local grid runner and the task mapping jobs/sweep.sbatch uses).

usage: /usr/bin/python3 test_grid.py RLMPI_BINARY SOURCE_DIR

1. Mapping: `grid.py count` and `grid.py task` on a 2x2 grid with 2 seeds: 8 tasks, task i =
   point i mod 4 (axes sorted by name, first axis slowest) with seed i div 4, the run directory
   named by the point; the order of --grid arguments does not matter; bad axes and an index
   outside the grid exit 2.
2. A 2x1 grid (pi-lr=3e-4,1e-3, one seed) run locally with tiny CartPole runs (-j 2): directories
   SWEEP/pi-lr=3e-4/s0 and SWEEP/pi-lr=1e-3/s0, each with the point's pi-lr and 3 epochs; the
   summary table lists both with their final AverageEpRet; SWEEP/grid.json records the grid.
3. A second invocation (no arguments: the recorded grid) skips both finished runs (run files
   untouched).
4. A different grid into the same directory exits 2 with a clear message and changes nothing.
5. A larger --epochs continues both runs in place (restarts 1, epochs appended) with /epochs
   (timing aside) identical to an uninterrupted 5-epoch run of the same point.
6. `grid.py task` prints exactly the rlmpi arguments `grid.py run` used (one implementation).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

RLMPI, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
GRID = os.path.join(SRC, "tools", "grid.py")
TINY = ["--env", "CartPole-v1", "--epochs", "3", "--steps-per-epoch", "400", "--hid", "16",
        "--train-pi-iters", "10", "--train-v-iters", "10", "--quiet"]
TIMING = {"Time", "TimeRollout", "TimeUpdate", "TimeComm", "TimeIO", "UpdateGFLOPS", "StepsPerSecond"}
FAILS = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        FAILS.append(msg)


def grid(*args, timeout=300):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl_vader_single_copy_mechanism="none")
    p = subprocess.run([PY, GRID] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def epochs(path):
    with h5py.File(path, "r") as f:
        return {k: f["epochs"][k][()] for k in f["epochs"]}, dict(f.attrs)


def main():
    tmp = tempfile.mkdtemp(prefix="rlmpi-grid-test-")
    try:
        # 1. the mapping
        g22 = ["--grid", "pi-lr=3e-4,1e-3", "clip-ratio=0.1,0.2", "--seeds", "0,7"]
        rc, out, err = grid("count", *g22)
        check(rc == 0 and "8 tasks (4 points x 2 seeds)" in out and "--array=0-7" in out,
              f"count: 8 tasks, --array=0-7 ({out.strip()} {err.strip()})")
        m = os.path.join(tmp, "mapping")
        for i, (cr, lr, seed) in enumerate([(cr, lr, s) for s in (0, 7) for cr in ("0.1", "0.2")
                                            for lr in ("3e-4", "1e-3")]):
            rc, out, err = grid("task", m, "--index", str(i), "--rlmpi", RLMPI, *g22, "--", *TINY)
            a = out.splitlines()
            want_dir = os.path.join(m, f"clip-ratio={cr}_pi-lr={lr}", f"s{seed}")
            ok = rc == 0 and a[:6] == ["--seed", str(seed), "--clip-ratio", cr, "--pi-lr", lr] \
                and a[6:-4] == TINY and a[-4:] == ["--out", want_dir, "--resume", "auto"]
            check(ok, f"task {i}: seed {seed}, clip-ratio {cr}, pi-lr {lr} -> {os.path.relpath(want_dir, m)}"
                  + ("" if ok else f" (rc {rc}: {a} {err})"))
        rc, out, _ = grid("task", m, "--index", "5", "--grid", "clip-ratio=0.1,0.2", "pi-lr=3e-4,1e-3",
                          "--seeds", "0,7", "--", *TINY)
        check(rc == 0 and out.splitlines()[:6] == ["--seed", "7", "--clip-ratio", "0.1", "--pi-lr", "1e-3"],
              "the order of the --grid axes does not change the mapping")
        rc, _, err = grid("task", m, "--index", "8", *g22, "--", *TINY)
        check(rc == 2 and "outside the grid" in err and "--array=0-7" in err, f"index 8 refused: {err.strip()}")
        for bad, what in ((["--grid", "pi-lr"], "is not OPTION="), (["--grid", "seed=1,2"], "--seeds"),
                          (["--grid", "no-such-option=1,2"], "no option"),
                          (["--grid", "normalize-obs=on,maybe"], "switch"),
                          (["--grid", "pi-lr=1e-3,1e-3"], "twice")):
            rc, _, err = grid("task", os.path.join(tmp, "bad"), "--index", "0", "--rlmpi", RLMPI, *bad)
            check(rc == 2 and what in err, f"{' '.join(bad)}: exit 2, '{what}' ({err.strip()})")
        check(not os.path.exists(os.path.join(tmp, "bad")), "refused grids create no directory")

        # 2. a 2x1 grid run locally
        sw = os.path.join(tmp, "sweep")
        g21 = ["--grid", "pi-lr=3e-4,1e-3", "--seeds", "0"]
        rc, out, err = grid("run", sw, "-j", "2", "--rlmpi", RLMPI, *g21, "--", *TINY)
        print(out + err, flush=True)
        check(rc == 0, f"grid.py run exits 0 (got {rc})")
        dirs = sorted(d for d in os.listdir(sw) if d not in ("grid.json", "logs"))
        check(dirs == ["pi-lr=1e-3", "pi-lr=3e-4"], f"directories named by the point: {dirs}")
        runs = {lr: os.path.join(sw, f"pi-lr={lr}", "s0", "run.h5") for lr in ("3e-4", "1e-3")}
        final = {}
        for lr, path in runs.items():
            ok = os.path.exists(path)
            check(ok, f"{os.path.relpath(path, sw)} exists")
            if ok:
                ep, at = epochs(path)
                final[lr] = ep["AverageEpRet"][-1]
                check(len(ep["Epoch"]) == 3 and at["exit_status"] == "finished"
                      and float(at["config.pi-lr"]) == float(lr) and int(at["seed"]) == 0,
                      f"{lr}: 3 epochs, finished, pi-lr {at.get('config.pi-lr')}, seed {at.get('seed')}")
        lines = out.splitlines()
        for lr in ("3e-4", "1e-3"):
            row = [ln for ln in lines if f"pi-lr={lr}/s0" in ln]
            want = f"{final.get(lr, float('nan')):.6g}"
            check(len(row) == 1 and want in row[0].split() and "exit 0" in row[0],
                  f"summary row of pi-lr={lr}: final AverageEpRet {want} ({row})")
        rec = json.load(open(os.path.join(sw, "grid.json")))
        check(rec["axes"] == [{"name": "pi-lr", "values": ["3e-4", "1e-3"]}] and rec["seeds"] == [0]
              and rec["args"] == TINY, "grid.json records axes, seeds and rlmpi arguments")

        # 3. a second invocation skips the finished runs
        mt = {lr: os.stat(p).st_mtime_ns for lr, p in runs.items()}
        rc, out, err = grid("run", sw, "--rlmpi", RLMPI)
        print(out + err, flush=True)
        check(rc == 0 and out.count("skipped (finished)") == 2 and "0 to run, 2 finished" in err,
              "second invocation (recorded grid): both runs skipped")
        check(all(os.stat(p).st_mtime_ns == mt[lr] for lr, p in runs.items()), "run files untouched")

        # 4. another grid into the same directory
        before = sorted(os.listdir(sw))
        rc, out, err = grid("run", sw, "--rlmpi", RLMPI, "--grid", "pi-lr=3e-4,1e-2", "--", *TINY)
        check(rc == 2 and "already holds another grid" in err and "pi-lr=3e-4,1e-3" in err,
              f"a different grid: exit 2 ({err.strip()})")
        rc2, _, err2 = grid("run", sw, "--rlmpi", RLMPI, *g21[:2], "--seeds", "0,1", "--", *TINY)
        check(rc2 == 2 and "already holds another grid" in err2, "other seeds: exit 2")
        check(sorted(os.listdir(sw)) == before and all(os.stat(p).st_mtime_ns == mt[lr] for lr, p in runs.items()),
              "the refused grids changed nothing")

        # 5. more epochs: both runs continue in place, identical to an uninterrupted run
        more = [x if x != "3" else "5" for x in TINY]
        rc, out, err = grid("run", sw, "-j", "2", "--rlmpi", RLMPI, *g21, "--", *more)
        print(out + err, flush=True)
        check(rc == 0 and out.count("exit 0") == 2, "--epochs 5: both runs continued")
        ref = os.path.join(tmp, "ref")
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl_vader_single_copy_mechanism="none")
        p = subprocess.run(["mpirun", "-np", "1", RLMPI, "--seed", "0", "--pi-lr", "1e-3"] + more + ["--out", ref],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=300)
        check(p.returncode == 0, f"reference run ({p.stdout[-500:]})")
        ep, at = epochs(runs["1e-3"])
        rep, _ = epochs(os.path.join(ref, "run.h5"))
        same = [k for k in rep if k not in TIMING and ep.get(k) is not None
                and ep[k].tobytes() == rep[k].tobytes()]
        want = [k for k in rep if k not in TIMING]
        check(len(ep["Epoch"]) == 5 and int(at["restarts"]) == 1 and same == want,
              f"continued run: 5 epochs, restarts {at['restarts']}, {len(same)} of {len(want)} /epochs "
              "columns identical to the uninterrupted run")
        check(json.load(open(os.path.join(sw, "grid.json")))["args"] == more, "grid.json keeps the new arguments")

        # 6. one implementation: `task` prints what `run` ran
        log = open(os.path.join(sw, "logs", "pi-lr=1e-3__s0.log")).read()
        ran = [ln for ln in log.splitlines() if ln.startswith("# ")][-1]
        rc, out, _ = grid("task", sw, "--index", "1", "--rlmpi", RLMPI)
        check(rc == 0 and ran.endswith(" ".join([RLMPI] + out.splitlines())),
              "grid.py task 1 gives the arguments grid.py run used")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print(f"{len(FAILS)} check(s) failed:\n  " + "\n  ".join(FAILS))
        return 1
    print("all grid checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
