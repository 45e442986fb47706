"""Tests of tools/plot.py, tools/summary.py, tools/export.py (and tools/rlmpi_runs.py) on real run files.

usage: /usr/bin/python3 test_tools.py RLMPI_BINARY MPIEXEC SOURCE_DIR

1. Helpers on synthetic run files written here with h5py: smoothing = Spinning Up's formula,
   runs of different lengths cut to the shortest (with a WARNING), a non-run HDF5 file refused,
   a group without any finite value gets no legend entry.
2. Real runs (rlmpi: 3 seeds PPO with 2 ranks + 1 seed TRPO with 1 rank, CartPole, tiny):
   plot.py writes a valid PNG and SVG and prints the final smoothed values; summary.py prints
   the groups, 3 seeds for PPO, and mean/std equal to what this test computes with h5py/numpy.
3. Grouping by configuration (issue 19): runs with different --hid / --steps-per-epoch are
   separate groups whose labels and table rows name the differing options; --epochs and
   --checkpoint-every do not split; a copied run is reported as a duplicate, not a seed;
   --select/--exclude/--ignore; one column of subplots per environment, --per-seed curves,
   readable axis labels.
4. export.py: progress.txt (Spinning Up's header for PPO and TRPO, tab-separated), config.json
   (exp_name = the group) and progress.csv (every column), every value equal to the run file's.
5. Bad input: empty directory, unknown metric (lists the available ones), missing path: exit 2.
6. A run being written: summary.py and plot.py polled while rlmpi runs (epoch count grows),
   then the run is SIGKILLed and both tools still work on the killed run.
"""
import csv
import io
import json
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
EXPORT = os.path.join(SRC, "tools", "export.py")
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


def table(out):
    """summary.py table -> list of {header: cell} (cells separated by 2+ spaces)."""
    lines = out.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip()) if lines else []
    rows = []
    for line in lines[2:]:
        if line.startswith("("):
            continue
        cells = re.split(r"\s{2,}", line.strip())
        if check(len(cells) == len(header), f"table row {cells} does not fit the header {header}"):
            rows.append(dict(zip(header, cells)))
    return rows


def table_rows(out):
    """summary.py table -> {algorithm: {header: cell}}."""
    return {r["algorithm"]: r for r in table(out)}


def svg_texts(path):
    """The texts of a matplotlib SVG (it writes each as a comment next to its glyphs)."""
    return re.findall(r"<!-- (.*?) -->", open(path, encoding="utf-8").read()) if os.path.exists(path) else []


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

    # a group without any finite value (no episode ever finished): reported, no legend entry
    nan_dir = os.path.join(tmp, "fake-nan")
    write_fake_run(os.path.join(nan_dir, "s0", "run.h5"), "npg", "Fake-v0", 0,
                   {"Epoch": [0, 1], "AverageEpRet": [np.nan, np.nan], "TotalEnvInteracts": [10.0, 20.0], "Time": [1.0, 2.0]})
    svg = os.path.join(tmp, "fake.svg")
    rc, out, err = tool(PLOT, d, nan_dir, "--out", svg)
    texts = svg_texts(svg)
    check(rc == 0 and "npg Fake-v0 (1 seed): no finite value of AverageEpRet" in err
          and not any(t.startswith("npg") for t in texts) and "ppo (2 seeds), cut to the shortest run" in texts
          and "vpg (1 seed)" in texts, f"plot with an all-NaN group: rc {rc} {err}\nlegend/texts {texts}")
    # runs cut to a common length: a loud warning on stderr naming the lengths
    check("WARNING: ppo Fake-v0 (2 seeds): its runs differ in length (epochs seed 0: 8, seed 1: 5)" in err,
          f"plot cut warning:\n{err}")

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
    # PPO ran on 2 ranks, TRPO on 1: the rank count is part of the configuration, so it is named
    check(f"ppo CartPole-v1 ranks=2 (3 seeds): final AverageEpRet = {sm:.6g} +- " in out, f"plot.py ppo final {sm:.6g}:\n{out}")
    check("trpo CartPole-v1 ranks=1 (1 seed): final AverageEpRet" in out, f"plot.py trpo line:\n{out}")

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
        check(r["env"] == "CartPole-v1" and r.get("config") == "ranks=2" and r["seeds"] == "3" and r["seed list"] == "1,2,3"
              and r["epochs"] == "3" and r["finished"] == "3/3" and r["TotalEnvInteracts"] == "1800", f"ppo row {r}")
        check(re.split(r" (?:±|\+-) ", r["AverageEpRet (last 10)"]) == [f"{ppo_mean:.6g}", f"{ppo_std:.6g}"],
              f"ppo mean+-std {r['AverageEpRet (last 10)']} != {ppo_mean:.6g} +- {ppo_std:.6g}")
        check("dup" not in r, f"no dup column without duplicates: {r}")
    if "trpo" in rows:
        r = rows["trpo"]
        check(r.get("config") == "ranks=1" and r["seeds"] == "1" and r["seed list"] == "1"
              and r["AverageEpRet (last 10)"].startswith(f"{trpo_mean:.6g} "), f"trpo row {r} (want {trpo_mean:.6g})")
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


def test_grouping(tmp):
    print("== grouping by configuration, duplicates, selection, subplots (issue 19)", flush=True)
    d = os.path.join(tmp, "mixed")
    base = {"--env": "CartPole-v1", "--epochs": 3, "--steps-per-epoch": 400, "--hid": "32,32"}
    jobs = [("h32-s1", {"--seed": 1}),
            ("h32-s2", {"--seed": 2, "--checkpoint-every": 2}),   # operational: same group
            ("h32-s3", {"--seed": 3, "--epochs": 4}),             # longer: same group, cut
            ("h64-s1", {"--hid": "64,64", "--seed": 1}),
            ("h64-s2", {"--hid": "64,64", "--seed": 2}),
            ("b800-s1", {"--seed": 1, "--steps-per-epoch": 800}),
            ("pend-s1", {"--seed": 1, "--env": "Pendulum-v1"})]
    for name, extra in jobs:
        args = [str(x) for kv in dict(base, **extra).items() for x in kv]
        p = subprocess.run([RLMPI, *args, "--quiet", "--out", os.path.join(d, name)],
                           capture_output=True, text=True, timeout=200)
        if not check(p.returncode == 0, f"rlmpi {name}: rc {p.returncode}\n{p.stdout}{p.stderr}"):
            return None
    shutil.copytree(os.path.join(d, "h32-s1"), os.path.join(d, "zz-copy-of-h32-s1"))  # a duplicate

    def col(name, c):
        with h5py.File(os.path.join(d, name, "run.h5"), "r") as f:
            return f["epochs/" + c][:]

    # summary: separate groups naming the differences, the duplicate reported, not a seed
    rc, out, err = tool(SUMMARY, d)
    print(out, err, flush=True)
    rows = {(r["env"], r.get("config")): r for r in table(out)}
    # the differing options in the run file's order (that of rlmpi --help)
    g32, g64, g800 = (("CartPole-v1", f"steps-per-epoch={n} hid={h}") for h, n in
                      (("32,32", 400), ("64,64", 400), ("32,32", 800)))
    check(rc == 0 and set(rows) == {g32, g64, g800, ("Pendulum-v1", "-")}, f"summary groups {sorted(rows)}:\n{out}{err}")
    want32 = [col(n, "AverageEpRet").mean() for n in ("h32-s1", "h32-s2", "h32-s3")]
    if g32 in rows:
        r = rows[g32]
        check(r["seeds"] == "3" and r["seed list"] == "1,2,3" and r["epochs"] == "3-4" and r.get("dup") == "1"
              and re.split(r" (?:±|\+-) ", r["AverageEpRet (last 10)"]) == [f"{np.mean(want32):.6g}", f"{np.std(want32):.6g}"],
              f"hid=32,32 row {r} (want {np.mean(want32):.6g} +- {np.std(want32):.6g})")
    if g64 in rows:
        check(rows[g64]["seed list"] == "1,2" and rows[g64].get("dup") == "0", f"hid=64,64 row {rows[g64]}")
    if g800 in rows:
        check(rows[g800]["seed list"] == "1" and rows[g800]["TotalEnvInteracts"] == "2400", f"batch 800 row {rows[g800]}")
    check(re.search(r"warning: duplicate runs of ppo CartPole-v1 steps-per-epoch=400 hid=32,32 seed 1 .*"
                    r"using '[^']*/h32-s1/run.h5' \(3 epochs\), not counting '[^']*/zz-copy-of-h32-s1/run.h5'", err),
          f"duplicate not reported:\n{err}")
    check("runs differ in length (seed 1: 3, seed 2: 3, seed 3: 4 epochs)" in err, f"summary length warning:\n{err}")
    rc, out, err = tool(SUMMARY, d, "--csv")
    rows = {(r["environment"], r.get("config")): r for r in csv.DictReader(io.StringIO(out))}
    check(rc == 0 and rows.get(g32, {}).get("seeds") == "1 2 3" and rows[g32]["duplicates"] == "1"
          and rows.get(g64, {}).get("n_seeds") == "2" and rows.get(("Pendulum-v1", ""), {}).get("n_seeds") == "1",
          f"summary csv groups:\n{out}{err}")

    # --select / --exclude / --ignore
    rc, out, err = tool(SUMMARY, d, "--select", "hid=64,64", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    check(rc == 0 and len(rows) == 1 and rows[0]["seeds"] == "1 2" and rows[0]["config"] == "", f"--select hid:\n{out}{err}")
    rc, out, err = tool(SUMMARY, d, "--exclude", "hid=64,64", "--exclude", "env=Pend*", "--select", "seed=2",
                        "--select", "seed=3", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    check(rc == 0 and len(rows) == 1 and rows[0]["seeds"] == "2 3" and rows[0]["config"] == "", f"--exclude/--select:\n{out}{err}")
    rc, out, err = tool(SUMMARY, d, "--ignore", "steps-per-epoch", "--select", "env=CartPole-v1", "--csv")
    rows = {r.get("config"): r for r in csv.DictReader(io.StringIO(out))}
    check(rc == 0 and set(rows) == {"hid=32,32", "hid=64,64"} and rows["hid=32,32"]["seeds"] == "1 1 2 3"
          and rows["hid=32,32"]["duplicates"] == "1", f"--ignore steps-per-epoch:\n{out}{err}")
    for bad, msg in ((["--select", "hidden=64"], "no run has the option 'hidden'"),
                     (["--select", "hid"], "expected OPTION=VALUE"),
                     (["--select", "seed=99"], "no run left after --select/--exclude"),
                     (["--ignore", "env"], "always kept apart")):
        rc, out, err = tool(SUMMARY, d, *bad)
        check(rc == 2 and msg in err and len(err.strip().splitlines()) == 1, f"summary {bad}: rc {rc} {err!r}")

    # plot: a column of subplots per environment, labels naming the difference, readable axes
    svg = os.path.join(tmp, "mixed.svg")
    rc, out, err = tool(PLOT, d, "--metric", "AverageEpRet", "--metric", "LossV", "--out", svg)
    text, texts = (open(svg).read() if os.path.exists(svg) else ""), svg_texts(svg)
    check(rc == 0 and text.count('<g id="axes_') == 4 and texts.count("CartPole-v1") == 2
          and texts.count("Pendulum-v1") == 2, f"plot: 2 metrics x 2 environments = 4 subplots: rc {rc} {err}")
    for t in ("ppo steps-per-epoch=400 hid=32,32 (3 seeds), cut to the shortest run", "ppo steps-per-epoch=400 hid=64,64 (2 seeds)",
              "ppo steps-per-epoch=800 hid=32,32 (1 seed)", "ppo (1 seed)", "Environment steps", "Average episode return",
              "Value loss"):
        check(t in texts, f"plot: no text '{t}' in the figure: {sorted(set(texts))}")
    check("TotalEnvInteracts" not in texts and "AverageEpRet" not in texts, "plot: raw column names as axis labels")
    check("ppo CartPole-v1 steps-per-epoch=400 hid=32,32 (3 seeds): final AverageEpRet" in out
          and "WARNING: ppo CartPole-v1 steps-per-epoch=400 hid=32,32 (3 seeds): its runs differ in length" in err
          and "warning: duplicate runs" in err, f"plot report:\n{out}{err}")
    rc, out, err = tool(PLOT, d, "--envs-together", "--x", "Epoch", "--out", svg)
    texts = svg_texts(svg)
    check(rc == 0 and open(svg).read().count('<g id="axes_') == 1 and "ppo Pendulum-v1 (1 seed)" in texts
          and "Epoch" in texts, f"plot --envs-together: rc {rc} {err}")
    # --per-seed: one more line per run (7 distinct runs; the duplicate is not drawn)
    counts = []
    for extra in ([], ["--per-seed"]):
        rc, out, err = tool(PLOT, d, *extra, "--out", svg)
        counts.append(open(svg).read().count('<g id="line2d_') if rc == 0 else -1)
    check(counts[1] - counts[0] == 7, f"plot --per-seed: {counts[1] - counts[0]} more lines, want 7")
    return d


def test_export(tmp, mixed_dir, runs_dir):
    print("== export.py: CSV and Spinning Up progress.txt", flush=True)
    spin_ppo = ("Epoch AverageEpRet StdEpRet MaxEpRet MinEpRet EpLen AverageVVals StdVVals MaxVVals MinVVals "
                "TotalEnvInteracts LossPi LossV DeltaLossPi DeltaLossV Entropy KL ClipFrac StopIter Time").split()
    spin_trpo = spin_ppo[:15] + ["KL", "BacktrackIters", "Time"]

    def same(text, value):
        v = float(text)
        return (math.isnan(v) and math.isnan(value)) or v == value

    def check_table(path, h5path, sep, want_header, what):
        lines = open(path, encoding="utf-8").read().split("\n") if os.path.exists(path) else []
        if not check(len(lines) > 2 and lines[-1] == "", f"{what}: no table in {path}"):
            return
        header = lines[0].split(sep)
        with h5py.File(h5path, "r") as f:
            cols = {k: f["epochs"][k][:] for k in f["epochs"]}
            names = list(f["epochs"])
        check(header == (want_header if want_header else names), f"{what}: header {header}")
        body = [l.split(sep) for l in lines[1:-1]]
        check(len(body) == len(cols["Epoch"]), f"{what}: {len(body)} rows, want {len(cols['Epoch'])}")
        bad = [(c, i, row[j]) for i, row in enumerate(body) for j, c in enumerate(header) if not same(row[j], cols[c][i])]
        check(not bad, f"{what}: values differ from the run file: {bad[:5]}")
        check([row[0] for row in body] == [str(i) for i in range(len(body))], f"{what}: Epoch column {[r[0] for r in body]}")

    if mixed_dir:
        out_dir = os.path.join(tmp, "spinup")
        rc, out, err = tool(EXPORT, mixed_dir, "--out-dir", out_dir)
        check(rc == 0 and "warning: duplicate runs" in err, f"export: rc {rc} {out}{err}")
        check_table(os.path.join(out_dir, "h32-s3", "progress.txt"), os.path.join(mixed_dir, "h32-s3", "run.h5"), "\t",
                    spin_ppo, "progress.txt (ppo)")
        check_table(os.path.join(out_dir, "pend-s1", "progress.csv"), os.path.join(mixed_dir, "pend-s1", "run.h5"), ",",
                    None, "progress.csv")
        cfg = json.load(open(os.path.join(out_dir, "h64-s2", "config.json")))
        check(cfg.get("exp_name") == "ppo CartPole-v1 steps-per-epoch=400 hid=64,64" and cfg.get("seed") == 2
              and cfg.get("hid") == "64,64", f"config.json {cfg}")
        check(not os.path.exists(os.path.join(out_dir, "zz-copy-of-h32-s1")), "export wrote the duplicate run too")
        check(not os.path.exists(os.path.join(mixed_dir, "h32-s1", "progress.txt")), "export with --out-dir wrote next to run.h5")
        rc, out, err = tool(EXPORT, mixed_dir, "--select", "hid=64,64", "--select", "seed=1", "--format", "csv", "--stdout")
        check(rc == 0 and out == open(os.path.join(out_dir, "h64-s1", "progress.csv")).read(), f"export --stdout: rc {rc} {err}")
        rc, out, err = tool(EXPORT, mixed_dir, "--format", "csv", "--stdout")
        check(rc == 2 and "exactly one run" in err, f"export --stdout with many runs: rc {rc} {err!r}")
    if runs_dir:  # next to run.h5 (the default), TRPO's columns
        rc, out, err = tool(EXPORT, os.path.join(runs_dir, "trpo-s1"), "--format", "spinup")
        check(rc == 0 and not os.path.exists(os.path.join(runs_dir, "trpo-s1", "progress.csv")), f"export trpo: {rc} {err}")
        check_table(os.path.join(runs_dir, "trpo-s1", "progress.txt"), os.path.join(runs_dir, "trpo-s1", "run.h5"), "\t",
                    spin_trpo, "progress.txt (trpo)")
        rc, out, err = tool(EXPORT, os.path.join(runs_dir, "trpo-s1"), "--format", "spinup", "--stdout", "--all-columns")
        header = out.split("\n")[0].split("\t")
        check(rc == 0 and header[:len(spin_trpo)] == spin_trpo and "Episodes" in header and "StepsPerSecond" in header,
              f"export --all-columns header {header}")


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
    epochs = 300  # killed long before the end (a float run of 30 epochs could finish first)
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
        mixed_dir = test_grouping(tmp)
        test_export(tmp, mixed_dir, runs_dir)
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
