"""Tests of tools/plot.py and tools/summary.py (and tools/rlmpi_runs.py) on real run files.

usage: /usr/bin/python3 test_tools.py RLMPI_BINARY MPIEXEC SOURCE_DIR

1. Helpers on synthetic run files written here with h5py: smoothing = Spinning Up's formula,
   runs of different lengths cut to the shortest, a non-run HDF5 file refused.
2. Real runs (rlmpi: 3 seeds PPO with 2 ranks + 1 seed TRPO with 1 rank, CartPole, tiny):
   plot.py writes a valid PNG and SVG and prints the final smoothed values; summary.py prints
   the groups, 3 seeds for PPO, and mean/std equal to what this test computes with h5py/numpy.
3. Bad input: empty directory, unknown metric (lists the available ones), missing path: exit 2.
4. A run being written: summary.py and plot.py polled while rlmpi runs (epoch count grows),
   then the run is SIGKILLed and both tools still work on the killed run.
"""
import csv
import io
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

RLMPI, MPIEXEC, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
PLOT = os.path.join(SRC, "tools", "plot.py")
SUMMARY = os.path.join(SRC, "tools", "summary.py")
sys.path.insert(0, os.path.join(SRC, "tools"))
import rlmpi_runs as rr  # noqa: E402

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL:", msg, flush=True)
    return cond


def tool(script, *args):
    p = subprocess.run([PY, script, *map(str, args)], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def table_rows(out):
    """summary.py table -> {algorithm: [cells]} (cells separated by 2+ spaces)."""
    rows = {}
    for line in out.splitlines()[2:]:
        if line.startswith("("):
            continue
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


def read_csv(out):
    return {r["algorithm"]: r for r in csv.DictReader(io.StringIO(out))}


def write_fake_run(path, algo, env, seed, cols):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w", track_order=True) as f:
        f.attrs["algorithm"] = algo
        f.attrs["environment"] = env
        f.attrs["seed"] = np.int64(seed)
        f.attrs["config.epochs"] = np.int64(100)
        f.attrs["rlmpi_file_format"] = "rlmpi-run-1"
        g = f.create_group("epochs", track_order=True)
        for k, v in cols.items():
            g.create_dataset(k, data=np.asarray(v, dtype=np.float64))
        e = f.create_group("episodes")
        for k in ("return", "length", "rank", "epoch"):
            e.create_dataset(k, data=np.zeros(0))


def mpirun(np_, *args):
    return [MPIEXEC, "-n", str(np_), "--oversubscribe", RLMPI, *map(str, args)]


def test_synthetic(tmp):
    print("== synthetic run files", flush=True)
    # smoothing: Spinning Up's formula, checked on its own terms
    y = np.array([1.0, 5.0, 2.0, 8.0, 3.0, 0.0, 7.0])
    for k in (1, 2, 3, 4, 10):
        want = np.convolve(y, np.ones(k), "same") / np.convolve(np.ones_like(y), np.ones(k), "same")
        check(np.allclose(rr.smooth(y, k), want, rtol=0, atol=1e-12), f"smooth k={k}")
    s = rr.smooth(np.array([1.0, np.nan, 3.0]), 3)
    check(np.allclose(s, [1.0, 2.0, 3.0]), f"smooth skips NaN: {s}")

    d = os.path.join(tmp, "fake")
    n_a, n_b = 8, 5  # different lengths: group mean cut to 5 epochs
    ya = np.arange(n_a, dtype=float) * 2.0
    yb = np.arange(n_b, dtype=float) * 4.0
    for seed, yv in ((0, ya), (1, yb)):
        n = len(yv)
        write_fake_run(os.path.join(d, f"a-s{seed}", "run.h5"), "ppo", "Fake-v0", seed,
                       {"Epoch": np.arange(n), "AverageEpRet": yv, "TotalEnvInteracts": 100.0 * (np.arange(n) + 1),
                        "Time": 0.5 * (np.arange(n) + 1)})
    write_fake_run(os.path.join(d, "b-s7", "run.h5"), "vpg", "Fake-v0", 7,
                   {"Epoch": np.arange(3), "AverageEpRet": [1.0, np.nan, 3.0], "TotalEnvInteracts": [10.0, 20.0, 30.0],
                    "Time": [1.0, 2.0, 3.0]})
    open(os.path.join(d, "a-s0", "checkpoint.h5"), "wb").write(b"not hdf5")  # must be ignored
    runs = rr.load_runs([d])
    check(len(runs) == 3, f"found {len(runs)} fake runs, want 3")
    check(list(runs[0].epochs)[:2] == ["Epoch", "AverageEpRet"], f"column order {list(runs[0].epochs)}")
    g = rr.group_runs(runs)
    check(list(g) == [("ppo", "Fake-v0"), ("vpg", "Fake-v0")], f"groups {list(g)}")
    x, Y, cut = rr.aligned(g[("ppo", "Fake-v0")], "TotalEnvInteracts", "AverageEpRet", 1)
    check(cut and len(x) == n_b and Y.shape == (2, n_b), f"aligned to the shortest: {len(x)} {Y.shape} {cut}")
    m, s = rr.mean_std(Y)
    check(np.allclose(m, (ya[:n_b] + yb) / 2) and np.allclose(s, np.abs(ya[:n_b] - yb) / 2), "mean/std of aligned")

    rc, out, err = tool(PLOT, d, "--smooth", "3", "--out", os.path.join(tmp, "fake.png"))
    check(rc == 0, f"plot fake: rc {rc} {err}")
    want = np.mean([rr.smooth(ya, 3)[n_b - 1], rr.smooth(yb, 3)[n_b - 1]])
    check(f"ppo Fake-v0 (2 seeds): final AverageEpRet = {want:.6g} " in out and "cut to the shortest run, 5 epochs" in out,
          f"plot fake final value {want:.6g}:\n{out}")
    rc, out, err = tool(SUMMARY, d, "--csv", "--last", "3")
    rows = read_csv(out)
    want = [ya[-3:].mean(), yb[-3:].mean()]
    check(rc == 0 and math.isclose(float(rows["ppo"]["mean"]), np.mean(want), abs_tol=1e-12)
          and math.isclose(float(rows["ppo"]["std"]), np.std(want), abs_tol=1e-12)
          and rows["ppo"]["epochs_min"] == "5" and rows["ppo"]["epochs_max"] == "8"
          and math.isclose(float(rows["vpg"]["mean"]), 2.0), f"summary fake csv:\n{out}{err}")

    with h5py.File(os.path.join(tmp, "other.h5"), "w") as f:
        f["x"] = [1, 2, 3]
    rc, out, err = tool(SUMMARY, os.path.join(tmp, "other.h5"))
    check(rc == 2 and "not an rlmpi run file" in err and len(err.strip().splitlines()) == 1, f"non-run file: {rc} {err}")


def test_real_runs(tmp):
    print("== real runs", flush=True)
    runs_dir = os.path.join(tmp, "runs")
    common = ["--env", "CartPole-v1", "--epochs", 3, "--steps-per-epoch", 600, "--hid", 8, "--quiet"]
    jobs = [(2, "ppo", s) for s in (1, 2, 3)] + [(1, "trpo", 1)]
    for np_, algo, seed in jobs:
        out = os.path.join(runs_dir, f"{algo}-s{seed}")
        p = subprocess.run(mpirun(np_, "--algo", algo, "--seed", seed, "--out", out, *common),
                           capture_output=True, text=True, timeout=200)
        if not check(p.returncode == 0 and os.path.exists(os.path.join(out, "run.h5")),
                     f"rlmpi {algo} seed {seed}: rc {p.returncode}\n{p.stdout}{p.stderr}"):
            return

    # independent numbers, straight from the files
    def col(algo, seed, name):
        with h5py.File(os.path.join(runs_dir, f"{algo}-s{seed}", "run.h5"), "r") as f:
            return f["epochs/" + name][:]

    ppo_final = [col("ppo", s, "AverageEpRet")[-10:].mean() for s in (1, 2, 3)]  # 3 epochs < 10: all
    ppo_mean, ppo_std = np.mean(ppo_final), np.std(ppo_final)
    trpo_mean = col("trpo", 1, "AverageEpRet").mean()
    ppo_steps = col("ppo", 1, "TotalEnvInteracts")[-1]
    check(ppo_steps == 1800, f"TotalEnvInteracts {ppo_steps}")

    # plot.py: PNG
    png = os.path.join(tmp, "curves.png")
    rc, out, err = tool(PLOT, runs_dir, "--metric", "AverageEpRet", "--smooth", "2", "--out", png, "--title", "tools test")
    check(rc == 0, f"plot.py rc {rc}: {err}")
    check(f"wrote {png} (4 run(s) in 2 group(s))" in out, f"plot.py output:\n{out}")
    with open(png, "rb") as f:
        head = f.read(24)
    size = os.path.getsize(png)
    check(head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", "PNG signature")
    w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    check(size > 10000 and w >= 600 and h >= 300, f"PNG size {size} bytes, {w}x{h}")
    sm = np.mean([rr_free_smooth(col("ppo", s, "AverageEpRet"), 2)[-1] for s in (1, 2, 3)])
    check(f"ppo CartPole-v1 (3 seeds): final AverageEpRet = {sm:.6g} +- " in out, f"plot.py ppo final {sm:.6g}:\n{out}")
    check("trpo CartPole-v1 (1 seed): final AverageEpRet" in out, f"plot.py trpo line:\n{out}")

    # plot.py: SVG, two metrics, x = Epoch, run files given one by one
    svg = os.path.join(tmp, "curves.svg")
    files = [os.path.join(runs_dir, f"ppo-s{s}", "run.h5") for s in (1, 2, 3)]
    rc, out, err = tool(PLOT, *files, "--metric", "AverageEpRet", "--metric", "LossV", "--x", "Epoch", "--out", svg)
    text = open(svg).read() if os.path.exists(svg) else ""
    check(rc == 0 and "<svg" in text and text.count("<g id=\"axes_") == 2, f"plot.py svg: rc {rc} {err}")
    check("final LossV" in out and "in 1 group(s))" in out, f"plot.py svg output:\n{out}")

    # summary.py: table
    rc, out, err = tool(SUMMARY, runs_dir)
    print(out, flush=True)
    rows = table_rows(out)
    check(rc == 0 and set(rows) == {"ppo", "trpo"}, f"summary groups: rc {rc} {sorted(rows)} {err}")
    if "ppo" in rows:
        r = rows["ppo"]
        check(r[1] == "CartPole-v1" and r[2] == "3" and r[3] == "1,2,3" and r[4] == "3" and r[5] == "3/3"
              and r[6] == "1800", f"ppo row {r}")
        check(re.split(r" (?:±|\+-) ", r[7]) == [f"{ppo_mean:.6g}", f"{ppo_std:.6g}"],
              f"ppo mean+-std {r[7]} != {ppo_mean:.6g} +- {ppo_std:.6g}")
    if "trpo" in rows:
        r = rows["trpo"]
        check(r[2] == "1" and r[3] == "1" and r[7].startswith(f"{trpo_mean:.6g} "), f"trpo row {r} (want {trpo_mean:.6g})")
    # summary.py: csv, full precision
    rc, out, err = tool(SUMMARY, runs_dir, "--csv", "--last", "2")
    rows = read_csv(out)
    want2 = [col("ppo", s, "AverageEpRet")[-2:].mean() for s in (1, 2, 3)]
    check(rc == 0 and rows["ppo"]["n_seeds"] == "3" and rows["ppo"]["seeds"] == "1 2 3"
          and math.isclose(float(rows["ppo"]["mean"]), np.mean(want2), rel_tol=1e-12, abs_tol=1e-12)
          and math.isclose(float(rows["ppo"]["std"]), np.std(want2), rel_tol=1e-9, abs_tol=1e-12)
          and math.isclose(float(rows["ppo"]["best"]), max(want2), rel_tol=1e-12)
          and math.isclose(float(rows["ppo"]["wall_time_s_max"]), max(col("ppo", s, "Time")[-1] for s in (1, 2, 3))),
          f"summary csv:\n{out}{err}")
    rc, out, err = tool(SUMMARY, runs_dir, "--metric", "LossV", "--csv")
    rows = read_csv(out)
    want = np.mean([col("ppo", s, "LossV").mean() for s in (1, 2, 3)])
    check(rc == 0 and math.isclose(float(rows["ppo"]["mean"]), want, rel_tol=1e-12), f"summary LossV:\n{out}{err}")
    return runs_dir


def rr_free_smooth(y, k):
    return np.convolve(y, np.ones(k), "same") / np.convolve(np.ones_like(y), np.ones(k), "same")


def test_errors(tmp, runs_dir):
    print("== bad input", flush=True)
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    for script, extra in ((SUMMARY, []), (PLOT, ["--out", os.path.join(tmp, "e.png")])):
        name = os.path.basename(script)
        rc, out, err = tool(script, empty, *extra)
        check(rc == 2 and "no run files (run.h5) found" in err and len(err.strip().splitlines()) == 1,
              f"{name} empty dir: rc {rc} {err!r}")
        rc, out, err = tool(script, os.path.join(tmp, "does-not-exist"), *extra)
        check(rc == 2 and "does not exist" in err, f"{name} missing path: rc {rc} {err!r}")
        if runs_dir:
            rc, out, err = tool(script, runs_dir, "--metric", "AvgReturn", *extra)
            check(rc == 2 and "unknown metric 'AvgReturn'" in err and "AverageEpRet" in err and "LossV" in err
                  and len(err.strip().splitlines()) == 1, f"{name} unknown metric: rc {rc} {err!r}")
    if runs_dir:
        rc, out, err = tool(PLOT, runs_dir, "--x", "Steps", "--out", os.path.join(tmp, "e.png"))
        check(rc == 2 and "unknown x column 'Steps'" in err and "TotalEnvInteracts" in err, f"plot bad x: {rc} {err!r}")
        rc, out, err = tool(PLOT, runs_dir, "--out", os.path.join(tmp, "e.jpg2"))
        check(rc == 2 and "unsupported extension" in err, f"plot bad ext: {rc} {err!r}")
        check(not os.path.exists(os.path.join(tmp, "e.png")), "no figure written on error")


def test_live(tmp):
    print("== a run being written, then SIGKILLed", flush=True)
    out_dir = os.path.join(tmp, "live", "ppo-s5")
    epochs = 30
    # one rank under mpirun, in its own process group so that the SIGKILL reaches every process
    proc = subprocess.Popen(mpirun(1, "--algo", "ppo", "--env", "CartPole-v1", "--seed", 5, "--epochs", epochs,
                                   "--steps-per-epoch", 4000, "--hid", 32, "--out", out_dir, "--quiet"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    run_file = os.path.join(out_dir, "run.h5")
    seen, calls, plotted = [], 0, False
    try:
        t0 = time.time()
        while proc.poll() is None and time.time() - t0 < 120:
            if not os.path.exists(run_file):
                time.sleep(0.05)
                continue
            rc, out, err = tool(SUMMARY, os.path.join(tmp, "live"), "--csv")
            calls += 1
            if "no epoch written yet" in err and rc == 2:
                continue
            if not check(rc == 0, f"summary on a live run: rc {rc} {err}"):
                break
            n = int(read_csv(out)["ppo"]["epochs_max"])
            check(not seen or n >= seen[-1], f"epoch count went back {seen[-1:]} -> {n}")
            seen.append(n)
            if not plotted and n >= 2:
                rc, pout, err = tool(PLOT, run_file, "--smooth", "3", "--out", os.path.join(tmp, "live.png"))
                check(rc == 0 and os.path.getsize(os.path.join(tmp, "live.png")) > 5000, f"plot on a live run: {rc} {err}")
                plotted = True
            if len(set(seen)) >= 3 and plotted and n >= 4:
                break
            time.sleep(0.2)
        still_running = proc.poll() is None
        print(f"summary.py called {calls} times while running; epoch counts seen {seen}", flush=True)
        check(still_running, f"the run ended before the test killed it (rc {proc.returncode}): make it longer "
              f"{proc.stderr.read().decode() if proc.returncode is not None else ''}")
        check(len(set(seen)) >= 2, f"epoch count did not grow while polling: {seen}")
        check(plotted, "plot.py was never run on the live run")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        # OpenMPI may start the rank in a process group of its own: kill whatever still runs
        # on this run directory, and wait until nothing does (bounded), so the file is final.
        for _ in range(200):
            if subprocess.run(["pkill", "-KILL", "-f", out_dir]).returncode != 0:
                break
            time.sleep(0.05)
    time.sleep(0.5)
    rc, out, err = tool(SUMMARY, run_file, "--csv")
    rows = read_csv(out) if rc == 0 else {}
    with h5py.File(run_file, "r") as f:  # as a user would
        n_file = len(f["epochs/AverageEpRet"][:])
        mean_file = f["epochs/AverageEpRet"][-10:].mean()
    check(rc == 0 and int(rows["ppo"]["epochs_max"]) == n_file and n_file >= max(seen or [0])
          and n_file < epochs and rows["ppo"]["finished"] == "0"
          and math.isclose(float(rows["ppo"]["mean"]), mean_file, rel_tol=1e-12),
          f"summary on the killed run (file has {n_file} epochs): rc {rc}\n{out}{err}")
    rc, out, err = tool(PLOT, run_file, "--out", os.path.join(tmp, "killed.svg"))
    check(rc == 0 and os.path.getsize(os.path.join(tmp, "killed.svg")) > 5000, f"plot on the killed run: {rc} {err}")
    print(f"killed run: {n_file} of {epochs} epochs, summary and plot OK", flush=True)


def main():
    tmp = tempfile.mkdtemp(prefix="rlmpi-tools-")
    try:
        test_synthetic(tmp)
        runs_dir = test_real_runs(tmp)
        test_errors(tmp, runs_dir)
        test_live(tmp)
    finally:
        if FAILS or os.environ.get("RLMPI_KEEP_TMP"):
            print(f"files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print(f"{len(FAILS)} check(s) failed")
        return 1
    print("OK: all tools checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
