#!/usr/bin/python3
"""Latency/bandwidth model of rlmpi's allreduces and projected weak scaling of PPO and TRPO.

Inputs
  * an allreduce CSV written by `mpiexec -n P bench_allreduce --csv FILE` (one or more files,
    any rank counts; columns ranks,doubles,bytes,median_us,...);
  * the compute time per epoch: from a run file (`rlmpi --out DIR` writes DIR/run.h5; this reads
    /epochs/TimeRollout and /epochs/TimeUpdate, median over epochs after the first) or given as
    seconds with --cartpole-compute / --hopper-compute ROLLOUT,UPDATE.

Model (stated again in the output)
  1. Per rank count p in the CSV: t_p(n) = a_p + b_p n, fitted by least squares on relative
     error (weights 1/t) so that small and large messages count alike.
  2. Extrapolation in p: latency grows like log2(p) (tree / recursive doubling), the bandwidth
     term like 2 (p-1)/p (ring / Rabenseifner reduce-scatter + allgather):
         t(n, p) = a * log2(p) + b * n * 2 (p-1)/p
     with a, b from the measured p (p = 2: log2 2 = 1, 2(p-1)/p = 1, so a = a_2, b = b_2). With
     several measured rank counts, a is fitted as a0 + a1 log2(p) and b as b1 * 2(p-1)/p.
     The measured numbers are shared-memory (one node); inter-node networks have higher latency:
     --net-latency-us / --net-bandwidth-gbs add a second scenario with those constants
     (t = L log2 p + 2 (p-1)/p 8 n / BW).
  3. Weak scaling: steps per rank fixed (the per-rank compute of the measured run stays the
     same at every p), perfectly balanced ranks, no overlap of computation and communication,
     epoch time T(p) = T_compute + C(p); efficiency E(p) = T(1) / T(p) with T(1) = T_compute.
     Ranks are assumed not to slow each other down (memory bandwidth, turbo, shared caches).
  4. Allreduces per epoch, counted from src/algo (defaults; see --ppo-pi-iters etc.):
       PPO (Spinning Up scheme): per policy iteration 1 gradient (n_pi) + 1 KL check (1 double);
         80 value gradients (n_v); ~7 scalar statistics; 2 statistics bundles; 3 gathers.
         Early stopping on KL shortens the policy loop: --ppo-pi-iters sets the mean.
       TRPO: 1 gradient + (cg_iters + 1) FVPs (n_pi each) + line-search trials (2 doubles each,
         default 2) + 80 value gradients (n_v) + ~4 scalars + 2 stats bundles + 3 gathers.
     Message sizes: parameter counts of the 64x64 tanh nets:
       CartPole-v1 (obs 4, 2 actions): pi 4610, v 4545; Hopper-v5 (obs 11, act 3): pi 5126, v 4993.
  5. TRPO's compute when no TRPO run is given: its update does 80 value steps but only ~1 + 11 + 2
     policy passes instead of 80, so TRPO update ~ PPO update x (80 + 14) / 160; rollout equal.
"""
import argparse
import csv
import math
import sys

import numpy as np

RANKS = [1, 2, 16, 64, 256, 1024]
SIZES = {"CartPole": {"pi": 4610, "v": 4545}, "Hopper": {"pi": 5126, "v": 4993}}


def load_csv(paths, lo=0, hi=float("inf")):
    by_p = {}
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                p = int(row["ranks"])
                if not lo <= float(row["doubles"]) <= hi:
                    continue
                by_p.setdefault(p, []).append((float(row["doubles"]), float(row["median_us"]) * 1e-6))
    return by_p


def fit_ab(points):
    n = np.array([x for x, _ in points])
    t = np.array([y for _, y in points])
    w = 1.0 / t  # relative least squares
    A = np.vstack([np.ones_like(n), n]).T * w[:, None]
    (a, b), *_ = np.linalg.lstsq(A, t * w, rcond=None)
    return max(a, 0.0), max(b, 0.0)


class Model:
    def __init__(self, fits, net_latency=None, net_bw=None, transport="shared memory"):
        self.fits = fits  # p -> (a, b)
        ps = sorted(p for p in fits if p >= 2)
        if not ps:
            raise SystemExit("scaling.py: the CSV has no rank count >= 2")
        if net_latency is not None:
            self.a0, self.a1 = 0.0, net_latency
            self.b1 = 8.0 / net_bw
            self.kind = f"network L={net_latency * 1e6:.2f} us/log2(p), BW={net_bw / 1e9:.1f} GB/s"
        elif len(ps) == 1:
            a, b = fits[ps[0]]
            self.a0, self.a1 = 0.0, a / math.log2(ps[0])
            self.b1 = b / (2 * (ps[0] - 1) / ps[0])
            self.kind = f"measured p={ps[0]} ({transport})"
        else:
            lg = np.array([math.log2(p) for p in ps])
            av = np.array([fits[p][0] for p in ps])
            self.a1, self.a0 = np.polyfit(lg, av, 1)
            self.a0, self.a1 = max(self.a0, 0.0), max(self.a1, 0.0)
            self.b1 = float(np.mean([fits[p][1] / (2 * (p - 1) / p) for p in ps]))
            self.kind = "measured p=" + ",".join(map(str, ps)) + f" ({transport})"

    def t(self, n, p):
        if p <= 1:
            return 0.0
        return self.a0 + self.a1 * math.log2(p) + self.b1 * n * 2 * (p - 1) / p


def allreduce_list(algo, env, a):
    """[(count, doubles)] of the collectives of one epoch."""
    s = SIZES[env]
    stats = [(2, 4), (6, 1)]  # 2 statistics bundles (few doubles), 3 gathers ~ 6 small collectives
    if algo == "PPO":
        return [(a.ppo_pi_iters, s["pi"]), (a.ppo_pi_iters, 1), (a.v_iters, s["v"]), (7, 1)] + stats
    return [(1 + a.cg_iters + 1, s["pi"]), (a.ls_trials, 2), (a.v_iters, s["v"]), (4, 1)] + stats


def read_run(path):
    import h5py

    with h5py.File(path, "r") as f:
        roll = np.array(f["/epochs/TimeRollout"][()], dtype=float)
        upd = np.array(f["/epochs/TimeUpdate"][()], dtype=float)
        ranks = None
        for key in ("ranks", "world_size", "num_ranks", "mpi_ranks"):
            for obj in (f, f.get("/config")):
                if obj is not None and key in obj.attrs:
                    ranks = int(obj.attrs[key])
    if len(roll) > 1:  # the first epoch includes warm-up
        roll, upd = roll[1:], upd[1:]
    return float(np.median(roll)), float(np.median(upd)), ranks


def parse_pair(s):
    r, u = s.split(",")
    return float(r), float(u)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", nargs="+", help="allreduce CSV file(s) from bench_allreduce --csv")
    ap.add_argument("--cartpole-run", help="run.h5 of a PPO CartPole-v1 run (compute per epoch)")
    ap.add_argument("--cartpole-run-ranks", type=int, default=1, help="ranks of that run (default 1)")
    ap.add_argument("--cartpole-compute", type=parse_pair, help="ROLLOUT,UPDATE seconds per epoch (PPO)")
    ap.add_argument("--hopper-run", help="run.h5 of a PPO Hopper-v5 run")
    ap.add_argument("--hopper-run-ranks", type=int, default=1)
    ap.add_argument("--hopper-compute", type=parse_pair, help="ROLLOUT,UPDATE seconds per epoch (PPO)")
    ap.add_argument("--trpo-update-factor", type=float, default=(80 + 14) / 160,
                    help="TRPO update compute / PPO update compute (default %(default).3f)")
    ap.add_argument("--ppo-pi-iters", type=float, default=80, help="mean PPO policy iterations (KL early stop)")
    ap.add_argument("--v-iters", type=int, default=80)
    ap.add_argument("--cg-iters", type=int, default=10)
    ap.add_argument("--ls-trials", type=float, default=2, help="mean line-search trials per TRPO update")
    ap.add_argument("--net-latency-us", type=float, help="add a network scenario: latency per log2(p) level")
    ap.add_argument("--net-bandwidth-gbs", type=float, default=10.0, help="network scenario bandwidth, GB/s")
    ap.add_argument("--transport", default="shared memory",
                    help="what the CSV measured, for the output (e.g. 'TCP loopback'; default %(default)s)")
    ap.add_argument("--fit-min", type=float, default=0, help="fit only sizes >= this many doubles")
    ap.add_argument("--fit-max", type=float, default=float("inf"), help="fit only sizes <= this many doubles")
    ap.add_argument("--plot", default="scaling.png", help="PNG to write (default %(default)s)")
    a = ap.parse_args()

    by_p = load_csv(a.csv, a.fit_min, a.fit_max)
    fits = {p: fit_ab(pts) for p, pts in sorted(by_p.items()) if p >= 2}
    print(f"Allreduce fit t(n) = a + b n (relative least squares, sizes {a.fit_min:g} .. {a.fit_max:g} doubles):")
    for p, (fa, fb) in fits.items():
        print(f"  p={p:4d}: a = {fa * 1e6:8.3f} us, b = {fb * 1e9:8.4f} ns/double "
              f"({8 / fb / 1e9 if fb > 0 else float('inf'):.2f} GB/s)")
        for n, t in sorted(by_p[p]):
            if n in (4545, 4610, 9220):
                print(f"         n={int(n):6d}: measured {t * 1e6:7.2f} us, fit {(fa + fb * n) * 1e6:7.2f} us")
    models = [Model(fits, transport=a.transport)]
    if a.net_latency_us is not None:
        models.append(Model(fits, a.net_latency_us * 1e-6, a.net_bandwidth_gbs * 1e9))

    compute = {}
    for env, run, run_p, given in (("CartPole", a.cartpole_run, a.cartpole_run_ranks, a.cartpole_compute),
                                   ("Hopper", a.hopper_run, a.hopper_run_ranks, a.hopper_compute)):
        if run:
            roll, upd, p_file = read_run(run)
            p_run = p_file or run_p
            comm = sum(c * models[0].t(n, p_run) for c, n in allreduce_list("PPO", env, a))
            upd_c = max(upd - comm, 0.0)
            compute[env] = (roll, upd_c, f"{run} (p={p_run}; modelled comm {comm * 1e3:.2f} ms removed)")
        elif given:
            compute[env] = (given[0], given[1], "given")
    if not compute:
        sys.exit("scaling.py: give --cartpole-run/--cartpole-compute and/or --hopper-run/--hopper-compute")

    print("\nAssumptions: weak scaling (steps per rank fixed), balanced ranks, no compute/communication "
          "overlap,\n  allreduce t(n,p) = a0 + a1 log2(p) + b1 n 2(p-1)/p, ranks do not slow each other down; "
          "TRPO update\n  compute = PPO's x %.3f unless measured; counts of allreduces per epoch from src/algo "
          "(PPO %g pi iters,\n  %d v iters; TRPO %d CG iters + 1 FVP, %g line-search trials)."
          % (a.trpo_update_factor, a.ppo_pi_iters, a.v_iters, a.cg_iters, a.ls_trials))
    rows = []
    for m in models:
        print(f"\nScenario: {m.kind}: a0 = {m.a0 * 1e6:.3f} us, a1 = {m.a1 * 1e6:.3f} us/log2(p), "
              f"b1 = {m.b1 * 1e9:.4f} ns/double")
        print(f"{'algo':5s} {'env':9s} {'compute s':>9s} " + " ".join(f"{'p=' + str(p):>17s}" for p in RANKS))
        print(f"{'':5s} {'':9s} {'':>9s} " + " ".join(f"{'epoch ms / eff':>17s}" for _ in RANKS))
        for env, (roll, upd, src) in compute.items():
            for algo in ("PPO", "TRPO"):
                tc = roll + upd * (1.0 if algo == "PPO" else a.trpo_update_factor)
                cells, effs = [], []
                for p in RANKS:
                    comm = sum(c * m.t(n, p) for c, n in allreduce_list(algo, env, a))
                    T = tc + comm
                    effs.append(tc / T)
                    cells.append(f"{T * 1e3:9.1f} / {100 * tc / T:5.1f}%")
                print(f"{algo:5s} {env:9s} {tc:9.3f} " + " ".join(cells))
                rows.append((m.kind, algo, env, effs))
    for env, (roll, upd, src) in compute.items():
        print(f"compute input {env}: rollout {roll:.4f} s + PPO update {upd:.4f} s per epoch per rank, from {src}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, algo, env, effs in rows:
        style = "-" if kind == models[0].kind else "--"
        ax.plot(RANKS, [100 * e for e in effs], style, marker="o", label=f"{algo} {env} [{kind}]")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("ranks (weak scaling, steps per rank fixed)")
    ax.set_ylabel("parallel efficiency %")
    ax.set_ylim(0, 105)
    ax.grid(True, alpha=0.3)
    ax.set_title("rlmpi projected weak-scaling efficiency (allreduce model)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.plot, dpi=120)
    print(f"\nwrote {a.plot}")


if __name__ == "__main__":
    main()
