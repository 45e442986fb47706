// Builds a small training setup from the installed library and prints one number.
#include <cstdio>

#include "rlmpi/algo/trainer.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/mpi/comm.hpp"

int main(int argc, char** argv) {
  rlmpi::mpi::Session session(argc, argv);
  rlmpi::Config cfg;
  cfg.steps_per_epoch = 200;
  cfg.hid = {8};
  rlmpi::algo::Trainer trainer(cfg, session.world());
  const auto r = trainer.run_epoch();
  std::printf("consumer ok: %zu envs, epoch 0 TotalEnvInteracts %.0f\n", rlmpi::env::list_envs().size(),
              r.get("TotalEnvInteracts"));
  return 0;
}
