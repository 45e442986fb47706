// `rlmpi [train]`: plan the run directory, resume or start, then epochs until done or stopped.
#include <charconv>
#include <cstdio>
#include <ctime>
#include <optional>
#include <unistd.h>

#include "checkpointing.hpp"
#include "console.hpp"
#include "rlmpi/algo/trainer.hpp"
#include "rlmpi/cli/app.hpp"
#include "rlmpi/cli/run_lock.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/core/signals.hpp"
#include "rlmpi/io/run_file.hpp"
#include "rlmpi/mpi/watchdog.hpp"
#include "rlmpi/version.hpp"
#include "run_dir.hpp"

namespace rlmpi::cli {
namespace {

// Option values as typed attributes: numbers as float64 (integers as int64), the rest as text.
io::AttrValue typed(const std::string& v) {
  if (v.empty()) return v;
  long long i = 0;
  auto [pi, ei] = std::from_chars(v.data(), v.data() + v.size(), i);
  if (ei == std::errc() && pi == v.data() + v.size()) return static_cast<std::int64_t>(i);
  double d = 0;
  auto [pd, ed] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ed == std::errc() && pd == v.data() + v.size()) return d;
  return v;
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string iso_time_now() {
  char buf[40];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

io::Attributes run_attributes(const Config& cfg, const mpi::Comm& world) {
  io::Attributes a = {{"algorithm", cfg.algo},
                      {"environment", cfg.env},
                      {"seed", static_cast<std::int64_t>(cfg.seed)},
                      {"num_ranks", static_cast<std::int64_t>(world.size())},
                      {"rlmpi_version", std::string(kVersion)},
                      {"git_commit", std::string(kGitCommit)},
                      {"host", host_name()},
                      {"start_time", iso_time_now()}};
  for (const auto& [k, v] : cfg.to_key_values()) a.emplace_back("config." + k, typed(v));
  return a;
}

void append_to_run_file(io::RunFile& run, const algo::EpochResult& r, const algo::Trainer& trainer) {
  std::vector<long long> len(r.episode_length.begin(), r.episode_length.end());
  std::vector<int> rank(r.episode_rank.begin(), r.episode_rank.end());
  run.append_episodes(r.episode_return, len, rank, run.epochs());
  run.append_epoch(r.stats);
  for (const auto& a : trainer.normalizer_stats()) run.set_vector("normalizer", a.name, a.data);
  run.commit();
}

}  // namespace

int run_train(const Config& given, const mpi::Comm& world) {
  check_slurm_world_size(world.size());  // same verdict on every rank, before any collective
  const Config cfg = resolve_for_ranks(given, world.size());
  algo::Trainer trainer(cfg, world);      // throws UsageError on every rank alike, before any collective
  StopSignals signals;
  // Started before rank 0 touches the file system: a hung one is reported too.
  std::optional<mpi::Watchdog> watchdog;
  if (cfg.stall_timeout > 0 && world.size() > 1) watchdog.emplace(world, cfg.stall_timeout);

  // Rank 0 plans the run directory and reads the checkpoint; every rank learns the outcome.
  RunPlan plan;
  io::Checkpoint ckpt;
  std::optional<io::RunFile> run;
  RunLock lock;
  int code = 0;
  std::string message;
  if (world.is_root()) {
    try {
      plan = plan_run_locked(cfg, lock);
      if (plan.resume) ckpt = load_checkpoint(plan.checkpoint, cfg, world);
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  std::string resume_flag = plan.resume ? "1" : "0";
  world.broadcast(resume_flag);

  if (resume_flag == "1") {
    const algo::TrainerState st = distribute(ckpt, world);
    try {
      trainer.restore(st);
    } catch (const std::invalid_argument& e) {
      code = kExitUsage;
      message = std::string("cannot resume from the checkpoint: ") + e.what();
    }
    if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  }
  if (world.is_root()) {
    try {
      run = plan.resume ? io::RunFile::open_for_resume(plan.run_file, trainer.epoch())
                        : io::RunFile::create(plan.run_file, run_attributes(cfg, world));
      for (const char* c : {"Time", "TimeRollout", "TimeUpdate", "TimeComm", "TimeIO"}) run->set_units(c, "s");
      run->set_units("StepsPerSecond", "steps/s");
      run->set_units("UpdateGFLOPS", "GFLOP/s");
      run->set_units("TotalEnvInteracts", "steps");
      run->set_units("EpLen", "steps");
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;

  if (world.is_root()) {
    std::printf("rlmpi %s: %s on %s, %d rank(s) x %d env(s), seed %llu, epochs %d..%d of %d steps (%d per rank, "
                "epoch end: %s); run file %s\n",
                kVersion, cfg.algo.c_str(), cfg.env.c_str(), world.size(), cfg.envs_per_rank,
                static_cast<unsigned long long>(cfg.seed), trainer.epoch(), cfg.epochs - 1, cfg.steps_per_epoch,
                cfg.steps_per_epoch / world.size(), cfg.epoch_end.c_str(), plan.run_file.c_str());
    std::printf("Number of parameters: pi: %lld, v: %lld\n",
                static_cast<long long>(trainer.pi_params().size()), static_cast<long long>(trainer.v_params().size()));
    std::fflush(stdout);
  }
  int printed_rows = 0;
  while (trainer.epoch() < cfg.epochs) {
    const algo::EpochResult r = trainer.run_epoch();
    const bool last = trainer.epoch() == cfg.epochs;
    // One flag reduction per epoch: every rank stops after the same epoch.
    const bool stop = world.allreduce_max(signals.received() != 0 ? 1.0 : 0.0) > 0;
    const double io0 = MPI_Wtime();
    if (world.is_root()) append_to_run_file(*run, r, trainer);
    if (last || stop || trainer.epoch() % cfg.checkpoint_every == 0) save_checkpoint(trainer, plan.checkpoint, cfg, world);
    trainer.add_io_seconds(MPI_Wtime() - io0);
    if (world.is_root() && !cfg.quiet) {
      if (printed_rows++ % 25 == 0) print_header(r);
      print_row(r);
    }
    if (stop && !last) {
      if (world.is_root())
        std::fprintf(stderr, "rlmpi: stopped by a signal after epoch %d; resume with --resume auto --out %s\n",
                     trainer.epoch() - 1, plan.dir.c_str());
      return kExitStoppedResumable;
    }
  }
  return kExitOk;
}

}  // namespace rlmpi::cli
