#pragma once
// rlmpi's public contract for programs that bring their own simulator:
//
//   #include <rlmpi/rlmpi.hpp>
//   class PointMass : public rlmpi::env::EnvBase { ... };
//   int main(int argc, char** argv) {
//     rlmpi::register_env("PointMass-v0", [] { return std::make_unique<PointMass>(); });
//     return rlmpi::main(argc, argv);
//   }
//
// The program then has the whole rlmpi command line (train with every algorithm on any number
// of ranks, eval, envs, resume, signals, presets, SLURM scripts). What an environment must
// provide is documented in rlmpi/env/env_base.hpp and README "Your own environment".
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "rlmpi/core/error.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/env/env_base.hpp"
#include "rlmpi/version.hpp"

namespace rlmpi {

// Adds environment `id` to this program (call it on every rank, before rlmpi::main). `make()`
// returns a new std::unique_ptr to an rlmpi::env::Env (or a class derived from it) whose id()
// is `id`. A malformed or duplicate id throws rlmpi::env::RegistrationError. See
// rlmpi::env::register_env for the id grammar.
template <class F>
void register_env(std::string id, F make) {
  static_assert(std::is_invocable_v<F&>, "register_env: make must be callable with no arguments");
  static_assert(std::is_convertible_v<std::invoke_result_t<F&>, std::unique_ptr<env::Env>>,
                "register_env: make() must return a std::unique_ptr to an rlmpi::env::Env (or derived)");
  env::register_env(std::move(id), env::EnvFactory(std::move(make)));
}

// The rlmpi program: parses argv (including --config files and presets), starts and ends MPI,
// runs the command and returns the exit code (0 done, 1 failure, 2 bad input, 3 stopped by a
// signal and resumable). Call it once, from main(), on every rank; MPI must not be initialised
// yet.
int main(int argc, char** argv);

}  // namespace rlmpi
