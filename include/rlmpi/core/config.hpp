#pragma once
// The training configuration of one rlmpi run: what to train and how, with Spinning Up's
// defaults (../shared/reference/algorithms.md §1). Plain data: the cli layer fills and validates
// it (cli::Options adds how the program is driven: run directory, resume, console, eval), the
// algorithm layer reads it.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/core/error.hpp"

namespace rlmpi {

struct Config {
  // what to train
  std::string algo = "ppo";  // vpg | trpo | ppo
  std::string env = "CartPole-v1";
  std::uint64_t seed = 0;
  int epochs = 50;
  int steps_per_epoch = 4000;  // summed over ranks (strong scaling); see resolve_for_ranks
  int steps_per_rank = 0;      // > 0: steps per rank instead (weak scaling; the batch grows with the ranks)
  std::string epoch_end = "continue";  // continue: episodes run on across epochs | reset: Spinning Up
  int max_ep_len = 1000;
  int envs_per_rank = 1;  // environments stepped in lockstep on each rank

  // networks
  std::vector<int> hid = {64, 64};
  std::string activation = "tanh";  // tanh | relu

  std::string init = "default";  // default (PyTorch nn.Linear) | orthogonal
  double init_log_std = -0.5;    // Gaussian policies: initial log standard deviation (Spinning Up's -0.5)
  std::string precision = "float";  // float | double: the networks' (and buffer's) scalar; envs stay double
  std::string isa = "auto";  // auto | sse2 | avx2 | avx512: instruction set of the nn kernels (auto: the
                             // best that every rank's CPU runs)

  // locomotion extras (all off by default: Spinning Up's behaviour)
  bool normalize_obs = false;     // running mean/std of observations, merged across ranks per epoch, clip +-10
  bool normalize_reward = false;  // rewards scaled by the running std of the discounted return
  double max_grad_norm = 0;       // clip the global gradient norm (0: off)
  bool anneal_lr = false;         // learning rates decay linearly to 0 over the epochs
  double adam_eps = 1e-8;
  bool clip_vloss = false;        // PPO-style clipped value loss (uses --clip-ratio)
  double ent_coef = 0;            // entropy bonus in the policy loss (VPG, PPO)
  bool skip_memory_check = false; // trust the user: start even when the memory estimate does not fit
  bool scale_actions = false;     // Box actions: the policy acts in [-1, 1], scaled to the bounds
  bool time_feature = false;      // observations gain 1 - t / T (sb3-contrib's TimeFeatureWrapper)

  // advantage estimation and optimisation
  double gamma = 0.99;
  double lam = 0.97;
  double pi_lr = 3e-4;
  double vf_lr = 1e-3;
  int train_pi_iters = 80;
  int train_v_iters = 80;

  // PPO
  std::string ppo_variant = "clip";  // clip | penalty
  double clip_ratio = 0.2;
  double target_kl = 0.01;
  double kl_coef = 1.0;   // PPO-penalty initial beta
  int update_epochs = 0;  // 0: Spinning Up full-batch scheme; > 0: PPO-paper minibatch epochs
  int minibatch_size = 0; // per rank, with --update-epochs
  std::string vf_update = "auto";  // auto | full | minibatch: the critic's fit (auto: minibatch with --update-epochs)
  std::string norm_adv = "batch";  // batch (cross-rank, Spinning Up) | minibatch (PPO minibatch mode) | off

  // TRPO
  double delta = 0.01;
  int cg_iters = 10;
  double damping = 0.1;
  int backtrack_iters = 10;
  double backtrack_coeff = 0.8;
};

// The configuration for `ranks` ranks: with --steps-per-rank N, steps_per_epoch becomes
// N x ranks (the batch every statistic and checkpoint refers to).
// C is Config or a type derived from it (cli::Options), returned whole.
template <class C>
C resolve_for_ranks(C c, int ranks) {
  if (c.steps_per_rank <= 0) return c;
  const long long total = static_cast<long long>(c.steps_per_rank) * ranks;
  if (total > 2147483647LL)
    throw UsageError("invalid value '" + std::to_string(c.steps_per_rank) + "' for --steps-per-rank (allowed: " +
                     "at most " + std::to_string(2147483647LL / ranks) + " with " + std::to_string(ranks) + " ranks)");
  c.steps_per_epoch = static_cast<int>(total);
  return c;
}

}  // namespace rlmpi
