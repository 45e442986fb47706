#pragma once
// The commands of the rlmpi program, wired from the layers below. main() only parses,
// agrees on errors across ranks and dispatches here.
#include "rlmpi/cli/config.hpp"
#include "rlmpi/mpi/comm.hpp"

namespace rlmpi::cli {

// Each returns the process exit code (same on every rank). UsageError thrown before the first
// collective operation is turned into exit code 2 on every rank by the caller.
int run_train(const Config& cfg, const mpi::Comm& world);
int run_envs(const Config& cfg, const mpi::Comm& world);
int run_eval(const Config& cfg, const mpi::Comm& world);

}  // namespace rlmpi::cli
