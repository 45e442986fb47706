#pragma once
// Deterministic or stochastic episodes of a policy given by its parameters, split across ranks:
// what `rlmpi eval` runs on a checkpoint and what --eval-every runs during training. Episode i
// starts from the seed rank_seed(seed, 0) + i + 1000003 whatever the rank count, so every
// evaluation of a run uses the same start states, and `rlmpi eval CKPT --seed S --episodes N
// --deterministic` repeats an evaluation made during training with seed S.
#include <cstdint>
#include <string>
#include <vector>

#include "rlmpi/mpi/comm.hpp"

namespace rlmpi::cli {

struct PolicySpec {
  std::string env, activation;
  std::vector<int> hid;
  std::vector<double> params;    // the policy's flat parameters (float runs: widened exactly)
  std::vector<double> obs_norm;  // the observation normaliser's state, empty without --normalize-obs
  bool scale_actions = false;    // --scale-actions: actions in [-1, 1] scaled to the bounds
  bool time_feature = false;     // --time-feature: observations end with 1 - t / T
};

struct EvalSummary {
  long long episodes = 0;
  double return_mean = 0, return_std = 0, return_min = 0, return_max = 0;
  double length_mean = 0, length_std = 0, length_min = 0, length_max = 0;
  std::vector<double> returns, lengths;  // every episode, in episode order (on every rank)
};

// Collective. Throws UsageError (on every rank alike) when params or obs_norm do not fit the
// policy of env/hid/activation; `where` names their source in that message.
EvalSummary evaluate_policy(const PolicySpec& policy, int episodes, bool deterministic, std::uint64_t seed,
                            int max_ep_len, const mpi::Comm& world, const std::string& where);

}  // namespace rlmpi::cli
