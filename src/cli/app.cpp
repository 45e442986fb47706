#include "rlmpi/cli/app.hpp"

#include <cstdio>

#include "rlmpi/env/env.hpp"

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

}  // namespace rlmpi::cli
