"""SIGKILL the run-file writer at random moments; after each kill a plain h5py.File(path, "r")
must open the file and find every epoch the writer reported committed (and nothing torn).

usage: sigkill_test.py RUNFILE_WRITER WORKDIR   (env RLMPI_KILLS: number of kills, default 30)
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

from h5check import check_file

writer, workdir = sys.argv[1], sys.argv[2]
kills = int(os.environ.get("RLMPI_KILLS", "30"))
seed = int(os.environ.get("RLMPI_KILL_SEED", str(int(time.time()))))
rng = random.Random(seed)
shutil.rmtree(workdir, ignore_errors=True)
os.makedirs(workdir)
path = os.path.join(workdir, "run.h5")

print(f"seed {seed}, {kills} kills")
stats = {"exact": 0, "one_more": 0, "no_file": 0, "resumed": 0}
total_epochs = 0
for k in range(kills):
    # Every third round resumes the surviving file from a random earlier epoch, so kills also
    # land in open_for_resume; the others start a fresh run (kills also land in create).
    resume = k % 3 == 2 and os.path.exists(path)
    args = [writer, path, "100000"]
    if resume:
        args += ["--resume", str(rng.randint(0, check_file(path)))]
        stats["resumed"] += 1
    else:
        for p in (path, path + ".tmp"):
            if os.path.exists(p):
                os.remove(p)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(rng.choice([rng.uniform(0, 0.02), rng.uniform(0, 0.5)]))
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
    reported = [int(line.split()[1]) for line in out.decode().splitlines() if line.startswith("committed ")]
    committed = reported[-1] if reported else None
    if not os.path.exists(path):
        assert committed is None and not resume, "file vanished after a commit"
        stats["no_file"] += 1
        continue
    n = check_file(path)  # raises if h5py cannot open it or anything is inconsistent
    if committed is not None:
        # Killed after commit() returned and before or after printing: one more is possible.
        assert n in (committed, committed + 1), f"kill {k}: file has {n} epochs, writer reported {committed}"
        stats["exact" if n == committed else "one_more"] += 1
    total_epochs += n
    print(f"kill {k:2d}: {'resume' if resume else 'fresh '} reported {committed}, file has {n} epochs")

print(f"OK: {kills} SIGKILLs survived; {stats}; {total_epochs} epochs verified")
