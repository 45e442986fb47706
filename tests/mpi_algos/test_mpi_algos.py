#!/usr/bin/python3
"""The MPI unit tests and short trainings under each Open MPI allreduce algorithm and over TCP only.

usage: test_mpi_algos.py RLMPI TEST_MPI MPIEXEC WORKDIR VARIANT
  VARIANT reference: 2-rank trainings with Open MPI's default choices, into WORKDIR/reference
          1..6:      coll_tuned_allreduce_algorithm K forced (basic linear, nonoverlapping, recursive
                     doubling, ring, segmented ring, Rabenseifner)
          tcp:       shared memory off (btl tcp,self)
  For 1..6 and tcp: test_mpi with 2 and 4 ranks must pass, and the same trainings must write run
  files identical to the reference's (every non-timing /epochs column and /episodes): with 2 ranks
  each reduction is a single a+b, exact in any order, so the algorithm must not change one bit.
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import run_files  # noqa: E402  (the drivers' shared run-file comparison)

RLMPI, TEST_MPI, MPIEXEC, WORK, VARIANT = sys.argv[1:6]
SMALL = ["--epochs", "3", "--steps-per-epoch", "800", "--hid", "16", "--train-pi-iters", "20",
         "--train-v-iters", "20", "--quiet"]
TRAININGS = {"ppo": ["--algo", "ppo", "--env", "CartPole-v1", *SMALL],
             "trpo": ["--algo", "trpo", "--env", "Pendulum-v1", *SMALL]}
ALGORITHMS = {"1": "basic linear", "2": "nonoverlapping", "3": "recursive doubling", "4": "ring",
              "5": "segmented ring", "6": "Rabenseifner"}
# More ranks than cores: ranks must yield while they wait, or the 4-rank tests crawl.
ENV = dict(os.environ, OMPI_MCA_mpi_yield_when_idle="1")


def mca_args(variant):
    if variant in ALGORITHMS:
        return ["--mca", "coll_tuned_use_dynamic_rules", "1", "--mca", "coll_tuned_allreduce_algorithm", variant]
    if variant == "tcp":
        return ["--mca", "btl", "tcp,self"]
    if variant == "reference":
        return []
    sys.exit(f"unknown variant {variant}")


def run(np_, mca, *args):
    """Runs one MPI job; returns None if it succeeded, else what went wrong."""
    cmd = [MPIEXEC, "-n", str(np_), "--oversubscribe", *mca, *args]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    print(f"mpiexec {' '.join(cmd[1:])}: exit {p.returncode}, {time.time() - t0:.1f} s", flush=True)
    if p.returncode != 0:
        return f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return None


def compare(ref, got):
    diff = run_files.differences(ref, got)
    return f"{', '.join(diff)} differ" if diff else None


def train(variant, mca):
    failures = []
    for name, args in TRAININGS.items():
        out = f"{WORK}/{variant}/{name}"
        shutil.rmtree(out, ignore_errors=True)
        if err := run(2, mca, RLMPI, *args, "--out", out):
            failures.append(f"{name}: {err}")
        elif variant != "reference":
            if diff := compare(f"{WORK}/reference/{name}/run.h5", f"{out}/run.h5"):
                failures.append(f"{name}: run file differs from the default settings': {diff}")
            else:
                print(f"{name}: run file identical to the default settings' (non-timing columns, episodes)")
    return failures


mca = mca_args(VARIANT)
label = f"allreduce algorithm {VARIANT} ({ALGORITHMS[VARIANT]})" if VARIANT in ALGORITHMS else f"variant {VARIANT}"
failures = []
if VARIANT != "reference":
    if not all(os.path.exists(f"{WORK}/reference/{n}/run.h5") for n in TRAININGS):
        sys.exit(f"FAIL: no reference runs in {WORK}/reference (run the 'reference' variant first)")
    failures = [f"test_mpi, {np_} ranks: {err}" for np_ in (2, 4) if (err := run(np_, mca, TEST_MPI))]
failures += train(VARIANT, mca)
if failures:
    sys.exit(f"FAIL ({label}):\n" + "\n".join(failures))
print(f"{label}: 1 passed, 0 failed")
