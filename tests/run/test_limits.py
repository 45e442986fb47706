#!/usr/bin/python3
"""End-to-end tests of runs that cannot work: a MuJoCo model file of another robot, networks that cannot
fit in memory (refused up front) and an allocation that fails during training (a clean failure).

usage: test_limits.py RLMPI MPIEXEC CASE   (CASE: model-mismatch, too-big, oom-runtime)

model-mismatch  RLMPI_MODEL_DIR holds a Walker2d model saved as hopper.xml (and a Hopper model as
                ant.xml): training and eval exit 2 on every rank with one line, before any directory or
                lock is made (it was SIGSEGV/heap corruption and a stale rlmpi.lock).
too-big         --hid 300000 under ulimit -v 4000000 (and a batch of 2e9 steps): exit 2, one line naming
                the option, no run directory (it was std::bad_alloc and "double free or corruption").
oom-runtime     a run the estimate admits completes under that limit; one started with --skip-memory-check
                under a limit below the estimate fails its allocation in training (ulimit -v,
                calibrated from the estimate rlmpi reports): exit 1, one "fatal error" line per failing
                rank, no "double free", no signal, no lock left. With an ASan build at
                <repo>/build-asan/rlmpi (or $RLMPI_ASAN_BINARY), the same failure under AddressSanitizer,
                made by ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=... since ASan
                cannot run under ulimit -v: no ASan report, exit 1.
When RLMPI itself is an ASan build (ctest in build-asan), the ulimit -v parts are skipped and the ASan
part runs with it.
"""
import mmap
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

RLMPI, MPIEXEC, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(REPO, "models")
GIB = 1024 ** 3
UNITS = {"bytes": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": GIB, "TiB": 1024 ** 4}


def is_asan(binary):
    """An AddressSanitizer build: it cannot start under ulimit -v (it reserves terabytes of shadow)."""
    with open(binary, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b"__asan_init") >= 0


RLMPI_IS_ASAN = is_asan(RLMPI)
CRASH_WORDS = ["double free", "corruption", "Signal:", "signal", "core dumped", "AddressSanitizer",
               "LeakSanitizer", "runtime error", "terminate called"]


def run(np_, *args, expect, env=None, vm_kib=None, binary=RLMPI, timeout=600):
    """Runs rlmpi under mpirun; vm_kib: the address-space limit (ulimit -v) of mpirun and the ranks."""
    cmd = [MPIEXEC, "-q", "-n", str(np_), "--oversubscribe", binary, *args]

    def limit():
        if vm_kib is not None:
            resource.setrlimit(resource.RLIMIT_AS, (vm_kib * 1024, vm_kib * 1024))

    e = dict(os.environ, **(env or {}))
    where = f"{' '.join(cmd)} (ulimit -v {vm_kib})" if vm_kib else " ".join(cmd)
    # Own process group: a hung job (a corrupted heap can deadlock in malloc) is killed with its ranks.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, preexec_fn=limit,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        sys.exit(f"FAIL: {where} hung for {timeout} s (killed)\n{out}\n{err}")
    p = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if p.returncode != expect:
        sys.exit(f"FAIL: {where} exited {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}")
    for w in CRASH_WORDS:
        if w in p.stderr:
            sys.exit(f"FAIL: {where}: '{w}' on stderr\n{p.stderr}")
    return p


def lines(text):
    return [x for x in text.splitlines() if x.strip()]


def one_error_line(p, pattern):
    err = lines(p.stderr)
    if len(err) != 1 or not re.search(pattern, err[0]):
        sys.exit(f"FAIL: expected one stderr line matching {pattern!r}, got:\n{p.stderr}")
    return err[0]


def no_lock_left(tmp):
    for root, _, files in os.walk(tmp):
        if "rlmpi.lock" in files:
            sys.exit(f"FAIL: stale lock {root}/rlmpi.lock")


def case_model_mismatch(tmp):
    bad = f"{tmp}/models"
    shutil.copytree(MODELS, bad)
    shutil.copy(f"{MODELS}/walker2d_v4.xml", f"{bad}/hopper.xml")
    shutil.copy(f"{MODELS}/hopper.xml", f"{bad}/ant.xml")
    env = {"RLMPI_MODEL_DIR": bad}
    for np_ in (1, 2):
        for gym_id, fits in (("Hopper-v4", "nq 9, expected 6; nv 9, expected 6; nu 6, expected 3"),
                             ("Ant-v5", "nq 6, expected 15; nv 6, expected 14; nu 3, expected 8; nbody 5, expected 14")):
            out = f"{tmp}/train-{gym_id}-{np_}"
            p = run(np_, "--env", gym_id, "--epochs", "1", "--out", out, expect=2, env=env, timeout=120)
            line = one_error_line(p, rf"^rlmpi: error: model file '{re.escape(bad)}/\w+\.xml' does not fit "
                                     rf"{gym_id}: {re.escape(fits)}.* \(allowed: a model of the ")
            assert not os.path.exists(out), f"{out} was created"
        print(f"train, {np_} rank(s): exit 2 before any directory;", line)
    # eval of a good run, with the wrong model now on the search path.
    good = f"{tmp}/good"
    run(1, "--env", "Hopper-v4", "--epochs", "1", "--steps-per-epoch", "200", "--hid", "8", "--train-pi-iters", "2",
        "--train-v-iters", "2", "--quiet", "--out", good, expect=0)
    before = sorted(os.listdir(good))
    for np_ in (1, 2):
        p = run(np_, "eval", good, "--episodes", "2", expect=2, env=env, timeout=120)
        one_error_line(p, r"^rlmpi: error: model file '.*/hopper\.xml' does not fit Hopper-v4: nq 9, expected 6")
    assert sorted(os.listdir(good)) == before, (before, os.listdir(good))
    no_lock_left(tmp)
    print("eval, 1 and 2 ranks: exit 2, run directory untouched")


def case_too_big(tmp):
    for np_ in (1, 2):
        out = f"{tmp}/hid-{np_}"
        if RLMPI_IS_ASAN:
            print("ASan build: the ulimit -v part is skipped")
        else:
            p = run(np_, "--hid", "300000", "--precision", "double", "--epochs", "1", "--out", out, expect=2,
                    vm_kib=4000000)
            line = one_error_line(p, r"^rlmpi: error: invalid value '300000' for --hid \(allowed: hidden layers that "
                                     r"fit in memory: this run needs at least [0-9.]+ GiB per rank, more than the "
                                     r"[0-9.]+ GiB left under the address-space limit( of rank 0)? \(ulimit -v, "
                                     r"3\.81 GiB\)\)$")
            assert not os.path.exists(out), f"{out} was created"
            print(f"{np_} rank(s):", line)
        # Without a ulimit: a batch no node holds (about 4 TiB per rank), against physical memory.
        out = f"{tmp}/steps-{np_}"
        p = run(np_, "--steps-per-epoch", "2000000000", "--epochs", "1", "--out", out, expect=2)
        line = one_error_line(p, r"^rlmpi: error: invalid value '2000000000' for --steps-per-epoch \(allowed: .*"
                                 r"physical memory of the node")
        assert not os.path.exists(out), f"{out} was created"
        print(f"{np_} rank(s):", line)


def need_and_in_use(message):
    """(estimate, address space in use) in bytes from a refusal by the address-space limit."""
    m = re.search(r"needs at least ([0-9.]+) (\w+) per rank, more than the ([0-9.]+) (\w+) left under the "
                  r"address-space limit.*\(ulimit -v, ([0-9.]+) (\w+)\)", message)
    if not m:
        sys.exit(f"FAIL: no estimate in {message!r}")
    need, left, limit = (float(m[i]) * UNITS[m[i + 1]] for i in (1, 3, 5))
    return need, limit - left


def case_oom_runtime(tmp):
    # Networks of about 2 GiB per rank (CartPole, one hidden layer of 32000, double: the activations
    # of 4000 rows). The estimate bounds what the run allocates, so a run it admits does not run
    # out of memory; with
    # --skip-memory-check and a limit well below the estimate the run starts and an allocation in
    # training fails.
    args = ["--hid", "32000", "--train-pi-iters", "2", "--train-v-iters", "2", "--quiet", "--precision", "double"]
    for np_ in () if RLMPI_IS_ASAN else (1, 2):
        steps = str(4000 * np_)  # the same batch per rank
        p = run(np_, *args, "--epochs", "3", "--steps-per-epoch", steps, "--out", f"{tmp}/calibrate-{np_}", expect=2,
                vm_kib=1536 * 1024)
        need, in_use = need_and_in_use(one_error_line(p, r"for --hid"))
        run(np_, *args, "--epochs", "2", "--steps-per-epoch", steps, "--out", f"{tmp}/fits-{np_}", expect=0,
            vm_kib=int((need + in_use + 0.2 * GIB) / 1024))
        vm_kib = int((0.6 * need + in_use) / 1024)
        args_oom = [*args, "--skip-memory-check"]
        out = f"{tmp}/oom-{np_}"
        p = run(np_, *args_oom, "--epochs", "3", "--steps-per-epoch", steps, "--out", out, expect=1, vm_kib=vm_kib)
        err = lines(p.stderr)
        if not 1 <= len(err) <= np_ or not all(re.fullmatch(r"rlmpi: fatal error on rank \d+: std::bad_alloc", x)
                                               for x in err):
            sys.exit(f"FAIL: expected one 'fatal error' line per failing rank, got:\n{p.stderr}")
        assert os.path.isdir(out)
        no_lock_left(out)
        print(f"{np_} rank(s), ulimit -v {vm_kib} (estimate {need / GIB:.2f} GiB + {in_use / GIB:.2f} GiB in use):",
              " | ".join(err))

    asan = RLMPI if RLMPI_IS_ASAN else os.environ.get("RLMPI_ASAN_BINARY") or os.path.join(REPO, "build-asan", "rlmpi")
    if not os.access(asan, os.X_OK):
        if os.environ.get("RLMPI_REQUIRE_ASAN"):  # tools/test.sh builds it: its absence is a failure there
            sys.exit(f"FAIL: no ASan build at {asan} (RLMPI_REQUIRE_ASAN is set)")
        print(f"no ASan build at {asan}: ASan part skipped")
        return
    # ASan reserves terabytes of address space (no ulimit -v): its allocator refuses blocks above
    # max_allocation_size_mb instead (the 32000 x 4000 activations: 977 MiB), which the workspace
    # turns into std::bad_alloc. Unfixed, ASan reports the double free ("attempting double-free").
    # ASan's reports go to files (log_path): its "failed to allocate" warnings are the injected
    # failures; any ERROR report (double-free, use-after-free, leak) fails the test.
    for np_ in (1, 2):
        out, logs = f"{tmp}/asan-{np_}", f"{tmp}/asan-logs-{np_}"
        os.makedirs(logs)
        env = {"ASAN_OPTIONS": f"allocator_may_return_null=1:max_allocation_size_mb=200:log_path={logs}/asan",
               "UBSAN_OPTIONS": f"log_path={logs}/ubsan"}
        p = run(np_, *args, "--epochs", "1", "--steps-per-epoch", str(4000 * np_), "--out", out, expect=1, env=env,
                binary=asan)
        err = lines(p.stderr)
        if not 1 <= len(err) <= np_ or not all(re.fullmatch(r"rlmpi: fatal error on rank \d+: std::bad_alloc", x)
                                               for x in err):
            sys.exit(f"FAIL: ASan build: expected one 'fatal error' line per failing rank, got:\n{p.stderr}")
        reports = ""
        for name in sorted(os.listdir(logs)):
            with open(f"{logs}/{name}", errors="replace") as f:
                reports += f.read()
        if "ERROR:" in reports or "runtime error" in reports or "failed to allocate" not in reports:
            sys.exit(f"FAIL: ASan build, {np_} rank(s): sanitizer reports:\n{reports}")
        no_lock_left(out)
        print(f"ASan build, {np_} rank(s):", " | ".join(err), "| ASan:", lines(reports)[0])


with tempfile.TemporaryDirectory(prefix="rlmpi-limits-test-", ignore_cleanup_errors=True) as tmp:
    if CASE == "model-mismatch":
        case_model_mismatch(tmp)
    elif CASE == "too-big":
        case_too_big(tmp)
    elif CASE == "oom-runtime":
        case_oom_runtime(tmp)
    else:
        sys.exit(f"unknown case {CASE}")
print("1 passed, 0 failed")
