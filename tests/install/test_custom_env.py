#!/usr/bin/python3
"""A simulator written outside rlmpi, trained through the public contract (issue 17).

Installs rlmpi into a scratch prefix, builds examples/custom_env against it with find_package
(only the installed headers and librlmpi.so; no MuJoCo, HDF5 or Boost development files are
named by the example) and checks, with the example's own program (rlmpi::main):
  - `envs` lists PointMass-v0 and Corridor-v0 after the built-in ones;
  - PPO and TRPO on 2 ranks learn PointMass-v0 (continuous) and PPO learns Corridor-v0 (discrete);
  - a run killed with SIGKILL after some epochs and resumed with --resume auto gives the same
    run file, bit for bit, as the run that was never interrupted.

usage: test_custom_env.py BUILD_DIR SOURCE_DIR WORK_DIR MPIEXEC GENERATOR
"""
import os
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import run_files  # noqa: E402

BUILD, SOURCE, WORK, MPIEXEC, GENERATOR = sys.argv[1:6]


def sh(*args, timeout=900):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def mpi(np_, *args):
    return [MPIEXEC, "-q", "-n", str(np_), "--oversubscribe", *args]


def returns(run_dir):
    with h5py.File(f"{run_dir}/run.h5", "r") as f:
        return f["epochs/AverageEpRet"][:]


shutil.rmtree(WORK, ignore_errors=True)
prefix, build = f"{WORK}/prefix", f"{WORK}/build"
sh("cmake", "--install", BUILD, "--prefix", prefix)
for private in ["rlmpi/io/hdf5.hpp", "rlmpi/env/mujoco_env.hpp", "rlmpi/cli/config.hpp"]:
    assert not os.path.exists(f"{prefix}/include/{private}"), f"internal header installed: {private}"
sh("cmake", "-S", f"{SOURCE}/examples/custom_env", "-B", build, "-G", GENERATOR, f"-DCMAKE_PREFIX_PATH={prefix}")
sh("cmake", "--build", build)
prog = f"{build}/my_rlmpi"

listing = sh(prog, "envs").splitlines()
ids = [line.split()[0] for line in listing[1:]]
assert ids[-2:] == ["PointMass-v0", "Corridor-v0"] and "CartPole-v1" in ids, listing
assert "Box(-1.0, 1.0, (1,))" in listing[-2] and "Discrete(3)" in listing[-1], listing
print("envs lists the program's own environments:", listing[-2:], sep="\n  ")

p = subprocess.run(mpi(2, prog, "--env", "PointMss-v0", "--out", f"{WORK}/typo"), capture_output=True, text=True)
assert p.returncode == 2 and "unknown environment 'PointMss-v0'" in p.stderr and "PointMass-v0" in p.stderr, p
print("a misspelt id: exit 2,", p.stderr.strip()[:100], "...")

# Learning: 2 ranks, small batches; a random policy scores about -160 on PointMass-v0 and -4 on
# Corridor-v0 (see the headers).
common = ["--steps-per-epoch", "2000", "--quiet"]
cases = [("ppo", "PointMass-v0", 30, -25.0), ("trpo", "PointMass-v0", 30, -25.0), ("ppo", "Corridor-v0", 15, 0.0)]
for algo, env, epochs, target in cases:
    out = f"{WORK}/{algo}-{env}"
    sh(*mpi(2, prog, "--algo", algo, "--env", env, "--epochs", str(epochs), "--seed", "3", "--out", out, *common))
    r = returns(out)
    first, last = r[0], float(np.mean(r[-5:]))
    print(f"{algo} {env}: AverageEpRet epoch 0 {first:.2f}, mean of the last 5 epochs {last:.2f} (target {target})")
    assert last > target and last > first + 5 * (0.1 if env == "Corridor-v0" else 1), (algo, env, r)

# SIGKILL mid-run, then --resume auto: the same run file as the uninterrupted PPO run above.
killed = f"{WORK}/killed"
args = mpi(2, prog, "--algo", "ppo", "--env", "PointMass-v0", "--epochs", "30", "--seed", "3", "--out", killed,
           "--steps-per-epoch", "2000")
p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, start_new_session=True)
rows = 0
for line in p.stdout:
    if line.split()[:1] and line.split()[0].isdigit():
        rows += 1
        if rows == 8:  # the table's 8th epoch row: epochs 0-7 are in the run file
            break
os.killpg(p.pid, signal.SIGKILL)
p.wait()
subprocess.run(["pkill", "-KILL", "-f", killed])
done = run_files.epochs(f"{killed}/run.h5")
assert 8 <= done < 30, done
sh(*mpi(2, prog, "--algo", "ppo", "--env", "PointMass-v0", "--epochs", "30", "--seed", "3", "--out", killed,
        "--steps-per-epoch", "2000", "--resume", "auto", "--quiet"))
if diff := run_files.differences(f"{WORK}/ppo-PointMass-v0/run.h5", f"{killed}/run.h5"):
    sys.exit(f"FAIL: killed after {done} epochs and resumed != uninterrupted: {diff}")
print(f"SIGKILL after {done} epochs + --resume auto == uninterrupted run, bit for bit")
print("custom env ok")
