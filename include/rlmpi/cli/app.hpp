#pragma once
// The commands of the rlmpi program, wired from the layers below. main() only parses,
// agrees on errors across ranks and dispatches here.
#include <string>

#include "rlmpi/cli/config.hpp"
#include "rlmpi/core/signals.hpp"
#include "rlmpi/mpi/comm.hpp"

namespace rlmpi::cli {

// Each returns the process exit code (same on every rank). A UsageError thrown on every rank
// before the first collective operation is turned into exit code 2 on every rank by main().
// `signals` is the program's stop flag (installed before MPI starts and kept until exit, so a
// signal is never lost at start-up nor fatal during shutdown).
int run_train(const Options& cfg, const mpi::Comm& world, const StopSignals& signals);
int run_envs(const Options& cfg, const mpi::Comm& world);
int run_eval(const Options& cfg, const mpi::Comm& world);
// rlmpi config RUN: rank 0 prints the run's configuration as an INI file.
int run_config(const Options& cfg, const mpi::Comm& world);

// Collective: every rank passes its local exit code (0 = fine) and message; all ranks return
// the largest code, and the lowest failing rank prints its message once as
// "rlmpi: error: <message>".
int agree_on_error(const mpi::Comm& world, int local_code, const std::string& message);

}  // namespace rlmpi::cli
