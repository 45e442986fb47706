#pragma once
// The training loop of one rank: each epoch collects steps_per_epoch / (ranks * envs_per_rank)
// steps from this rank's environments, computes GAE, normalises advantages with the global
// mean and std, runs the algorithm's update and reduces the epoch statistics across ranks.
//
// Seeds: rank r's environment e is reset first with seed + 10000 r + e (Spinning Up's rank rule,
// extended to several envs per rank) and then continues its own RNG stream; the rank's action
// sampling uses its own stream derived from the same number; network parameters are initialised
// from `seed` on rank 0 and broadcast.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/algo/buffer.hpp"
#include "rlmpi/core/config.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/mpi/comm.hpp"
#include "rlmpi/nn/isa.hpp"

namespace rlmpi::algo {

// One epoch's statistics in column order (names as Spinning Up's logger), identical on every
// rank, plus this rank's finished episodes (gathered to rank 0 in `episodes_*`).
struct EpochResult {
  // The rollout was abandoned because a stop was requested on some rank (see set_stop_check):
  // nothing else is set, the trainer is mid-epoch and must not be checkpointed or continued.
  bool stopped = false;
  // The first non-finite quantity after the update ("pi_params", "LossV", ...), or empty. The
  // same on every rank (parameters and statistics are identical everywhere).
  std::string non_finite;
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

// The networks run in cfg.precision (double or float); environments, statistics and
// checkpointed state are double either way.
class Trainer {
 public:
  // Validates what depends on the run (environment id, divisibility of steps over ranks and
  // envs) and throws UsageError before any collective call, so every rank fails together.
  Trainer(const Config& cfg, const mpi::Comm& comm);
  ~Trainer();
  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;

  EpochResult run_epoch();
  // Polled once per environment step: when it returns true on any rank, every rank abandons the
  // epoch's rollout and run_epoch() returns with `stopped` (one extra allreduce per epoch).
  void set_stop_check(std::function<bool()> stop);

  int epoch() const;
  // The instruction set the networks' kernels run (cfg.isa agreed across ranks).
  nn::Isa isa() const;
  const Config& config() const;
  // The networks' parameters, widened to double.
  Eigen::VectorXd pi_params() const;
  Eigen::VectorXd v_params() const;
  // Between epochs: the state to checkpoint / restore it (throws std::invalid_argument on a
  // state from another configuration).
  TrainerState state() const;
  void restore(const TrainerState& s);

  // Column names in the order run_epoch() reports them.
  std::vector<std::string> columns() const;
  // The running normalisers' current statistics (same on every rank), for the run file:
  // obs_mean, obs_var, obs_count with --normalize-obs; ret_var, ret_count with
  // --normalize-reward; empty otherwise.
  std::vector<NamedArray> normalizer_stats() const;
  // Wall time the caller spent writing this run's files after an epoch: reported as the next
  // epoch's TimeIO.
  void add_io_seconds(double s);

  class Impl;  // one implementation per network precision (trainer.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rlmpi::algo
