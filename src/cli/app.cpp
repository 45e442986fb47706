#include "rlmpi/cli/app.hpp"

#include <cstdio>

#include "rlmpi/core/error.hpp"
#include "rlmpi/env/env.hpp"

namespace rlmpi::cli {

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

int run_train(const Config&, const mpi::Comm&) {
  throw UsageError("training is not yet available (the algorithms arrive with a later issue)");
}

}  // namespace rlmpi::cli
