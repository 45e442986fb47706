"""Run files compared in the Python test drivers: every /epochs column except the wall-clock
ones, and /episodes, bit for bit (NaN equal to NaN)."""
import h5py
import numpy as np

TIMING = {"Time", "TimeRollout", "TimeUpdate", "TimeComm", "TimeIO", "UpdateGFLOPS", "StepsPerSecond"}


def read(path):
    """(/epochs, /episodes) of a run file as {name: array}."""
    with h5py.File(path, "r") as f:
        return {k: f["epochs"][k][:] for k in f["epochs"]}, {k: f["episodes"][k][:] for k in f["episodes"]}


def differences(a, b):
    """What differs between run files a and b: [] when they hold the same run."""
    (ea, pa), (eb, pb) = read(a), read(b)
    if ea.keys() != eb.keys() or pa.keys() != pb.keys():
        return [f"different columns: {sorted(ea)} / {sorted(eb)}, {sorted(pa)} / {sorted(pb)}"]
    bad = [f"/epochs/{k}" for k in ea if k not in TIMING and not np.array_equal(ea[k], eb[k], equal_nan=True)]
    return bad + [f"/episodes/{k}" for k in pa if not np.array_equal(pa[k], pb[k], equal_nan=True)]


def epochs(path):
    """Rows in /epochs."""
    with h5py.File(path, "r") as f:
        return len(f["epochs/Epoch"])
