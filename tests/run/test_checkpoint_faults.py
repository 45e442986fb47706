#!/usr/bin/python3
"""Corrupt checkpoints are refused: `--resume auto` (2 ranks) and `rlmpi eval` exit 2 with one line
`rlmpi: error: checkpoint '...' is corrupt or unreadable: ...` naming the bad dataset or attribute,
and leave the run directory untouched; a clean checkpoint still resumes.

Each corruption is applied to a fresh copy of one small run: flipped data bytes (found through
h5py's storage offsets, HDF5's Fletcher32 filter catches them), NaN/inf parameters, a negative
Adam second moment, negative or tampered attributes, attributes of the wrong type, a malformed
id.hid (h5py rewrites the Fletcher32 checksums of what it writes: range checks catch those).

usage: test_checkpoint_faults.py RLMPI MPIEXEC
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

RLMPI, MPIEXEC = sys.argv[1], sys.argv[2]
SMALL = ["--steps-per-epoch", "800", "--hid", "16", "--train-pi-iters", "20", "--train-v-iters", "20", "--quiet"]
CKPT = "checkpoint.h5"


def run(np_, *args):
    c = [MPIEXEC, "-q", "-n", str(np_), "--oversubscribe", RLMPI, *args]
    return subprocess.run(c, capture_output=True, text=True, timeout=600)


def snapshot(d):
    """Every file of a run directory and the hash of its bytes."""
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def data_offset(dset):
    """File offset of the first byte of a 1-D dataset's data (contiguous or its first chunk)."""
    off = dset.id.get_offset()
    return off if off is not None else dset.id.get_chunk_info(0).byte_offset


def flip_byte(path, offset, mask=0x01):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ mask]))


def flip_in_dataset(name, index):
    def corrupt(path):
        with h5py.File(path, "r") as f:
            off = data_offset(f[name]) + 8 * index  # the lowest mantissa byte of element `index`
        flip_byte(path, off)
    return corrupt


def set_element(name, index, value):
    def corrupt(path):
        with h5py.File(path, "r+") as f:
            d = f[name]
            a = d[:]
            a[index] = value
            d[:] = a
    return corrupt


def set_attr(name, value):
    def corrupt(path):
        with h5py.File(path, "r+") as f:
            if name in f.attrs:
                del f.attrs[name]
            f.attrs[name] = value
    return corrupt


def replace_bytes(old, new):
    """Raw edit of the file (an attribute's string value lives in HDF5's global heap)."""
    assert len(old) == len(new)

    def corrupt(path):
        with open(path, "rb") as f:
            data = f.read()
        assert data.count(old) >= 1, old
        with open(path, "wb") as f:
            f.write(data.replace(old, new))
    return corrupt


def tamper_total_steps(path):
    """A plausible but wrong value: only the attribute checksum can tell."""
    with h5py.File(path, "r+") as f:
        f.attrs.modify("total_steps", np.int64(int(f.attrs["total_steps"]) + 8))


# (description, corruption, words the one error line must contain)
CASES = [
    ("flipped byte in /arrays/pi_params", flip_in_dataset("arrays/pi_params", 3), ["pi_params", "checksum"]),
    ("flipped byte in /arrays/v_adam.v", flip_in_dataset("arrays/v_adam.v", 0), ["v_adam.v", "checksum"]),
    ("flipped byte in /ranks/1", flip_in_dataset("ranks/1", 2), ["ranks/1", "checksum"]),
    ("NaN parameter", set_element("arrays/pi_params", 5, np.nan), ["'pi_params'", "finite"]),
    ("inf parameter", set_element("arrays/v_params", 0, np.inf), ["'v_params'", "finite"]),
    ("negative Adam second moment", set_element("arrays/pi_adam.v", 7, -1e-3), ["'pi_adam.v'", "negative"]),
    ("negative Adam step count", set_element("arrays/v_adam.t", 0, -4.0), ["'v_adam.t'"]),
    ("negative total_steps", set_attr("total_steps", np.int64(-5)), ["attribute 'total_steps'", "-5"]),
    ("negative epoch", set_attr("epoch", np.int64(-1)), ["attribute 'epoch'"]),
    ("NaN elapsed_seconds", set_attr("elapsed_seconds", np.float64(np.nan)), ["attribute 'elapsed_seconds'"]),
    ("string epoch", set_attr("epoch", "two"), ["attribute 'epoch'", "integer"]),
    ("float total_steps", set_attr("total_steps", np.float64(1600.5)), ["attribute 'total_steps'", "integer"]),
    ("integer id.algo", set_attr("id.algo", np.int64(7)), ["attribute 'id.algo'", "string"]),
    ("malformed id.hid", set_attr("id.hid", "16x"), ["attribute 'id.hid'", "16x"]),
    ("empty id.hid layer", set_attr("id.hid", "16,,16"), ["attribute 'id.hid'"]),
    ("tampered total_steps", tamper_total_steps, ["checksum"]),
    ("flipped byte in attribute id.env", replace_bytes(b"CartPole-v1", b"CartPole-v0"), ["checksum"]),
    ("wrong type of checksum_crc32", set_attr("checksum_crc32", "0"), ["attribute 'checksum_crc32'"]),
]

failures = []


def check_refused(what, d, p, words, before):
    lines = p.stderr.splitlines()
    problems = []
    if p.returncode != 2:
        problems.append(f"exit {p.returncode}, expected 2")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines, expected 1")
    line = lines[0] if lines else ""
    if not line.startswith("rlmpi: error: ") or "corrupt or unreadable" not in line:
        problems.append("not an 'rlmpi: error: ... corrupt or unreadable' line")
    missing = [w for w in words if w.lower() not in line.lower()]
    if missing:
        problems.append(f"does not name {missing}")
    if snapshot(d) != before:
        problems.append("the run directory changed")
    if problems:
        failures.append(f"{what}: {'; '.join(problems)}\n    stderr: {p.stderr.strip()!r}")
    else:
        print(f"ok  {what}: {line}")


with tempfile.TemporaryDirectory(prefix="rlmpi-ckpt-test-", ignore_cleanup_errors=True) as tmp:
    base = f"{tmp}/base"
    p = run(2, "--epochs", "2", "--out", base, *SMALL)
    if p.returncode != 0:
        sys.exit(f"FAIL: the initial run exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    with h5py.File(f"{base}/{CKPT}", "r") as f:  # the writer protects every dataset itself
        for g in ("arrays", "ranks"):
            for name, d in f[g].items():
                if not d.fletcher32:
                    failures.append(f"/{g}/{name} has no Fletcher32 filter")
        if "checksum_crc32" not in f.attrs:
            failures.append("the checkpoint has no checksum_crc32 attribute")

    for i, (what, corrupt, words) in enumerate(CASES):
        d = f"{tmp}/c{i}"
        shutil.copytree(base, d)
        corrupt(f"{d}/{CKPT}")
        before = snapshot(d)
        check_refused(f"resume, {what}", d, run(2, "--epochs", "3", "--out", d, "--resume", "auto", *SMALL), words,
                      before)
        before = snapshot(d)
        check_refused(f"eval, {what}", d, run(2, "eval", d, "--episodes", "2"), words, before)

    # A clean copy resumes and evaluates.
    d = f"{tmp}/clean"
    shutil.copytree(base, d)
    p = run(2, "--epochs", "3", "--out", d, "--resume", "auto", *SMALL)
    q = run(2, "eval", d, "--episodes", "2")
    if p.returncode != 0 or q.returncode != 0:
        failures.append(f"clean checkpoint: resume exited {p.returncode}, eval {q.returncode}\n{p.stderr}{q.stderr}")
    else:
        with h5py.File(f"{d}/run.h5", "r") as f:
            n = len(f["epochs"]["Epoch"])
        if n != 3:
            failures.append(f"clean checkpoint: run file has {n} epochs after resuming to 3")
        else:
            print("ok  clean checkpoint resumes (3 epochs) and evaluates")

if failures:
    print(f"FAIL: {len(failures)} problem(s):\n  " + "\n  ".join(failures))
    sys.exit(1)
print("1 passed, 0 failed")
