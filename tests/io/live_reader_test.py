"""While the run-file writer runs, a plain h5py.File(path, "r") polls the file many times: every
open must succeed and show a consistent file whose epoch count never decreases. Also a reader
that keeps the file open for the whole run (an interactive h5py session) must not disturb the
writer, and keeps seeing its consistent snapshot.

usage: live_reader_test.py RUNFILE_WRITER WORKDIR
"""
import os
import shutil
import subprocess
import sys
import time

import h5py

from h5check import check_file

writer, workdir = sys.argv[1], sys.argv[2]
shutil.rmtree(workdir, ignore_errors=True)
os.makedirs(workdir)
path = os.path.join(workdir, "run.h5")

proc = subprocess.Popen([writer, path, "400", "--sleep-ms", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
while not os.path.exists(path):
    assert proc.poll() is None, proc.stderr.read()
    time.sleep(0.001)

held = h5py.File(path, "r")  # held open through the run
held_n = len(held["epochs/Epoch"]) if "Epoch" in held["epochs"] else 0

polls, last, seen = 0, 0, set()
t0 = time.time()
while proc.poll() is None:
    n = check_file(path)  # any exception fails the test: no retry rule is needed
    assert n >= last, f"epoch count went back from {last} to {n}"
    last = n
    seen.add(n)
    polls += 1
elapsed = time.time() - t0
err = proc.stderr.read().decode()
assert proc.returncode == 0, err

assert (len(held["epochs/Epoch"]) if "Epoch" in held["epochs"] else 0) == held_n  # its snapshot
held.close()
final = check_file(path)
assert final == 400, final
assert polls >= 100, f"only {polls} polls"
print(err.strip())
print(f"OK: {polls} polls in {elapsed:.1f} s, all opened and consistent, "
      f"{len(seen)} distinct epoch counts seen, final {final} epochs")
