#include "rlmpi/cli/app.hpp"

#include <cstdio>

#include "rlmpi/core/error.hpp"
#include "rlmpi/env/env.hpp"
#include "run_config.hpp"

namespace rlmpi::cli {

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

int run_envs(const Options&, const mpi::Comm& world) {
  if (!world.is_root()) return kExitOk;
  const auto envs = env::list_envs();
  std::printf("%-26s %-10s %-44s %s\n", "id", "max_steps", "observation space", "action space");
  for (const auto& e : envs)
    std::printf("%-26s %-10d %-44s %s\n", e.id.c_str(), e.max_episode_steps, e.observation_space.c_str(),
                e.action_space.c_str());
  return kExitOk;
}

int run_config(const Options& cfg, const mpi::Comm& world) {
  std::string text, message;
  int code = 0;
  if (world.is_root()) {
    try {
      const std::string run_file = run_file_of(cfg.run_path);
      if (run_file.empty())
        throw UsageError("no run file at '" + cfg.run_path +
                         "' (allowed: a run directory holding run.h5, or an rlmpi run file)");
      text = reproduce_ini(run_file);
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  if (world.is_root()) std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace rlmpi::cli
