#include "rlmpi/cli/app.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "rlmpi/algo/trainer.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/env/env.hpp"

namespace rlmpi::cli {
namespace fs = std::filesystem;

int agree_on_error(const mpi::Comm& world, int local_code, const std::string& message) {
  const int n = world.size();
  const int first_bad = static_cast<int>(world.allreduce_min(local_code != 0 ? world.rank() : n));
  if (first_bad == n) return 0;
  const int code = static_cast<int>(world.allreduce_max(local_code));
  if (world.rank() == first_bad) {
    std::fprintf(stderr, "rlmpi: error: %s\n", message.c_str());
    std::fflush(stderr);
  }
  return code;
}

int run_envs(const Config&, const mpi::Comm& world) {
  if (!world.is_root()) return kExitOk;
  const auto envs = env::list_envs();
  std::printf("%-26s %-10s %-44s %s\n", "id", "max_steps", "observation space", "action space");
  for (const auto& e : envs)
    std::printf("%-26s %-10d %-44s %s\n", e.id.c_str(), e.max_episode_steps, e.observation_space.c_str(),
                e.action_space.c_str());
  return kExitOk;
}

int run_eval(const Config&, const mpi::Comm&) {
  throw UsageError("rlmpi eval is not yet available (it arrives with the run-file issue)");
}

namespace {

std::string default_run_dir(const Config& cfg) {
  char stamp[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  return "runs/" + cfg.algo + "-" + cfg.env + "-s" + std::to_string(cfg.seed) + "-" + stamp;
}

// Rank 0: creates the run directory; an existing run there is never overwritten.
std::string prepare_run_dir(const Config& cfg) {
  const std::string dir = cfg.out.empty() ? default_run_dir(cfg) : cfg.out;
  std::error_code ec;
  if (fs::exists(dir / fs::path("progress.txt"), ec))
    throw UsageError("run directory '" + dir + "' already holds a run (allowed: a new or empty directory)");
  fs::create_directories(dir, ec);
  if (ec) throw UsageError("cannot create run directory '" + dir + "': " + ec.message());
  return dir;
}

// Columns printed per epoch (the run file holds them all).
bool printed(const std::string& c) {
  for (const char* p : {"Epoch", "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "EpLen", "AverageVVals", "LossPi",
                        "LossV", "KL", "Entropy", "ClipFrac", "StopIter", "Beta", "BacktrackIters",
                        "TotalEnvInteracts", "StepsPerSecond", "Time"})
    if (c == p) return true;
  return false;
}

std::string short_name(const std::string& c) {
  if (c == "AverageEpRet") return "AvgEpRet";
  if (c == "AverageVVals") return "AvgVVals";
  if (c == "TotalEnvInteracts") return "EnvSteps";
  if (c == "StepsPerSecond") return "Steps/s";
  if (c == "BacktrackIters") return "Backtrack";
  return c;
}

void print_header(const algo::EpochResult& r) {
  for (const auto& [k, v] : r.stats)
    if (printed(k)) std::printf("%10s ", short_name(k).c_str());
  std::printf("\n");
}

void print_row(const algo::EpochResult& r) {
  for (const auto& [k, v] : r.stats) {
    if (!printed(k)) continue;
    if (k == "Epoch" || k == "TotalEnvInteracts" || k == "StopIter" || k == "BacktrackIters")
      std::printf("%10.0f ", v);
    else
      std::printf("%10.4g ", v);
  }
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int run_train(const Config& cfg, const mpi::Comm& world) {
  algo::Trainer trainer(cfg, world);  // throws UsageError on every rank alike, before any collective

  std::string dir, message;
  int code = 0;
  if (world.is_root()) {
    try {
      dir = prepare_run_dir(cfg);
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;

  std::ofstream progress;
  if (world.is_root()) {
    progress.open(dir + "/progress.txt");
    std::printf("rlmpi: %s on %s, %d rank(s), seed %llu, %d epochs of %d steps; run directory %s\n", cfg.algo.c_str(),
                cfg.env.c_str(), world.size(), static_cast<unsigned long long>(cfg.seed), cfg.epochs,
                cfg.steps_per_epoch, dir.c_str());
    std::printf("Number of parameters: pi: %lld, v: %lld\n",
                static_cast<long long>(trainer.actor_critic().pi_params.size()),
                static_cast<long long>(trainer.actor_critic().v_params.size()));
  }
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    const algo::EpochResult r = trainer.run_epoch();
    if (!world.is_root()) continue;
    if (epoch == 0) {  // Spinning Up's progress.txt: tab-separated with a header row
      for (std::size_t i = 0; i < r.stats.size(); ++i) progress << (i ? "\t" : "") << r.stats[i].first;
      progress << "\n";
    }
    for (std::size_t i = 0; i < r.stats.size(); ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10g", r.stats[i].second);
      progress << (i ? "\t" : "") << buf;
    }
    progress << "\n" << std::flush;
    if (!cfg.quiet) {
      if (epoch % 25 == 0) print_header(r);
      print_row(r);
    }
  }
  return kExitOk;
}

}  // namespace rlmpi::cli
