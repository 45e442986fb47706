// rlmpi::main, the whole program: parse, agree on bad input across ranks, dispatch. The rlmpi
// executable and programs that register their own environments both call it.
#include <cstdio>
#include <exception>
#include <string>

#include "rlmpi/cli/app.hpp"
#include "rlmpi/cli/config.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/core/signals.hpp"
#include "rlmpi/mpi/comm.hpp"
#include "rlmpi/rlmpi.hpp"
#include "rlmpi/version.hpp"

namespace rlmpi {

using cli::agree_on_error;

int main(int argc, char** argv) {
  // Before MPI starts and until the process has exited: SIGTERM, SIGINT and SIGUSR1 only set the
  // flag the training polls, from the first moment (a preemption at start-up is not lost) to the
  // last (a second signal while a stopped rank exits does not kill it: mpirun would report it).
  const StopSignals signals(StopSignals::Scope::UntilExit);
  mpi::Session session(argc, argv);
  const mpi::Comm world = session.world();

  // A --config file is read once, by rank 0, and every rank parses those bytes: ranks never
  // disagree about a file that is being edited, node-local or a stream. argv is the same on
  // every rank, so every rank reaches this collective or none does.
  const cli::ConfigReader read_on_root = [&world](const std::string& path) {
    std::string text, error;
    if (world.is_root()) {
      try {
        text = cli::read_config_file(path);
      } catch (const UsageError& e) {
        error = e.what();
      }
    }
    world.broadcast(error);
    if (!error.empty()) throw UsageError(error);
    world.broadcast(text);
    return text;
  };
  cli::Options cfg;
  int code = 0;
  std::string message;
  try {
    cfg = cli::parse_command_line(argc, argv, read_on_root);
  } catch (const UsageError& e) {
    code = kExitUsage;
    message = e.what();
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;

  using cli::Command;
  switch (cfg.command) {
    case Command::Help:
      if (world.is_root()) std::fputs(cli::help_text().c_str(), stdout);
      return kExitOk;
    case Command::Version:
      if (world.is_root()) std::printf("rlmpi %s (git %s)\n", kVersion, kGitCommit);
      return kExitOk;
    default:
      break;
  }

  // Commands validate their input (environment names, files) on every rank before their first
  // collective step and throw UsageError; past that point a failure on one rank aborts the job.
  try {
    switch (cfg.command) {
      case Command::Envs: return cli::run_envs(cfg, world);
      case Command::Eval: return cli::run_eval(cfg, world);
      case Command::Config: return cli::run_config(cfg, world);
      default: return cli::run_train(cfg, world, signals);
    }
  } catch (const UsageError& e) {
    return agree_on_error(world, kExitUsage, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rlmpi: fatal error on rank %d: %s\n", world.rank(), e.what());
    std::fflush(stderr);
    if (world.size() > 1) mpi::Session::abort(kExitFailure);
    return kExitFailure;
  }
}

}  // namespace rlmpi
