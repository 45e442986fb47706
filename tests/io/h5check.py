"""Shared checks for the io tests: what a plain h5py user sees in a file from runfile_writer."""
import h5py

EPISODES_PER_EPOCH = 3
COLUMNS = 20


def check_file(path):
    """Opens `path` as a new h5py user would and checks it completely; returns the epoch count."""
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
        assert attrs["algo"] == "ppo" and attrs["seed"] == 7, attrs
        assert isinstance(attrs["config_json"], str)
        names = list(f["epochs"])
        lengths = {len(f["epochs"][n]) for n in names}
        if not names:  # created, no epoch committed yet
            assert len(f["episodes/return"]) == 0
            return 0
        assert len(lengths) == 1, f"/epochs lengths differ: {lengths}"
        n = lengths.pop()
        assert names == ["Epoch", "Time"] + [f"c{j}" for j in range(COLUMNS)], names
        assert list(f["epochs/Epoch"][:]) == list(range(n))
        for j in (0, COLUMNS - 1):
            assert list(f[f"epochs/c{j}"][:]) == [e * 1000 + j + 0.25 for e in range(n)]
        assert f["epochs/Time"].attrs["units"] == "s"
        ep = {k: f["episodes"][k][:] for k in ("return", "length", "rank", "epoch")}
        m = n * EPISODES_PER_EPOCH
        assert all(len(v) == m for v in ep.values()), {k: len(v) for k, v in ep.items()}
        want_epoch = [e for e in range(n) for _ in range(EPISODES_PER_EPOCH)]
        assert list(ep["epoch"]) == want_epoch
        assert list(ep["length"]) == [10 * e + i for e in range(n) for i in range(EPISODES_PER_EPOCH)]
        return n
