#pragma once
// The training loop of one rank: each epoch collects steps_per_epoch / (ranks * envs_per_rank)
// steps from this rank's environments, computes GAE, normalises advantages with the global
// mean and std, runs the algorithm's update and reduces the epoch statistics across ranks.
//
// Seeds: rank r's environment e is reset first with seed + 10000 r + e (Spinning Up's rank rule,
// extended to several envs per rank) and then continues its own RNG stream; the rank's action
// sampling uses its own stream derived from the same number; network parameters are initialised
// from `seed` on rank 0 and broadcast.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/algo/buffer.hpp"
#include "rlmpi/algo/normalizer.hpp"
#include "rlmpi/core/config.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/mpi/comm.hpp"

namespace rlmpi::algo {

// One epoch's statistics in column order (names as Spinning Up's logger), identical on every
// rank, plus this rank's finished episodes (gathered to rank 0 in `episodes_*`).
struct EpochResult {
  std::vector<std::pair<std::string, double>> stats;
  // Rank 0 only: every finished episode of the epoch, all ranks, in rank order.
  std::vector<double> episode_return, episode_length, episode_rank;
  double get(const std::string& name) const;
};

// Everything needed to continue a run bit for bit at an epoch boundary (checkpoints).
struct TrainerState {
  long long epoch = 0;
  long long total_steps = 0;
  double elapsed_seconds = 0;       // the Time column continues from here
  std::vector<NamedArray> arrays;   // "pi_params", "v_params" and the algorithm's state: same on all ranks
  std::string rank_blob;            // this rank's RNG, environment snapshots and observations
};

class Trainer {
 public:
  // Validates what depends on the run (environment id, divisibility of steps over ranks and
  // envs) and throws UsageError before any collective call, so every rank fails together.
  Trainer(const Config& cfg, const mpi::Comm& comm);

  EpochResult run_epoch();

  int epoch() const { return epoch_; }
  long long total_env_steps() const { return total_steps_; }
  Index local_steps() const { return local_steps_; }
  const ActorCritic& actor_critic() const { return ac_; }
  ActorCritic& actor_critic() { return ac_; }
  const Config& config() const { return cfg_; }
  // Between epochs: the state to checkpoint / restore it (throws std::invalid_argument on a
  // state from another configuration).
  TrainerState state() const;
  void restore(const TrainerState& s);

  // Column names in the order run_epoch() reports them.
  std::vector<std::string> columns() const;

 private:
  void collect(std::vector<double>& ep_ret, std::vector<double>& ep_len, std::vector<double>& vvals);
  // Raw observation in raw_.row(e) -> what the nets see in `dst` (and the normaliser's sample).
  void prepare_obs(int e, double* dst);

  Config cfg_;
  mpi::Comm comm_;
  std::vector<std::unique_ptr<env::Env>> envs_;
  bool discrete_;
  int obs_dim_, act_dim_;
  Index local_steps_;
  ActorCritic ac_;
  std::unique_ptr<Algorithm> algo_;
  RolloutBuffer buf_;
  Rng rng_;
  int epoch_ = 0;
  long long total_steps_ = 0;
  double start_time_;
  // Rollout state carried across steps (one row per env); obs_ is what the nets see
  // (normalised with --normalize-obs), raw_ what the environments returned.
  Matrix obs_, act_, dist_, next_obs_, raw_;
  Vector logp_;
  std::vector<double> ep_ret_, ep_len_, disc_ret_;
  RunningNormalizer obs_norm_, ret_norm_;
  // Per-step environment info terms (e.g. reward_forward), summed over the epoch.
  std::vector<std::string> info_names_;
  std::vector<double> info_sum_;
  double diverged_ = 0;
};

}  // namespace rlmpi::algo
