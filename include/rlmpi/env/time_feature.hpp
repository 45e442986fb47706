#pragma once
// --time-feature: the observation gains one last entry, 1 - t / T (t steps into the episode, T
// the time limit), as sb3-contrib's TimeFeatureWrapper gives it and rl-baselines3-zoo's tuned
// settings use it (Swimmer, and with gamma close to 1 generally): with the remaining time in the
// observation a value function can tell a start from an end that the time limit cuts short.
// The feature is 1 after a reset and 0 on the step the time limit truncates.
#include <memory>

#include "rlmpi/env/env.hpp"

namespace rlmpi::env {

class TimeFeature final : public Env {
 public:
  // Takes ownership of `inner`, which must have a Box observation space and a time limit >= 1
  // (std::invalid_argument otherwise).
  explicit TimeFeature(std::unique_ptr<Env> inner);

  const std::string& id() const override { return inner_->id(); }
  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return inner_->action_space(); }
  int max_episode_steps() const override { return inner_->max_episode_steps(); }

  using Env::reset;
  using Env::step;
  void reset(std::uint64_t seed, std::span<double> obs) override;
  void reset(std::span<double> obs) override;
  StepResult step(std::span<const double> action, std::span<double> obs) override;
  std::vector<double> state() const override { return inner_->state(); }
  void set_state(std::span<const double> state) override;
  void observe(std::span<double> obs) const override;
  Snapshot snapshot() const override { return inner_->snapshot(); }
  void restore(const Snapshot& s) override;
  std::span<const InfoTerm> info() const override { return inner_->info(); }
  bool diverged() const override { return inner_->diverged(); }

 private:
  // The inner env's part of an observation buffer of this env's size.
  std::span<double> head(std::span<double> obs) const;
  double feature() const;

  std::unique_ptr<Env> inner_;
  Space obs_space_;
  std::int64_t elapsed_ = 0;  // steps since the last reset/set_state, as the inner time limit counts
};

// `env` itself when `on` is false, otherwise `env` inside a TimeFeature.
std::unique_ptr<Env> with_time_feature(std::unique_ptr<Env> env, bool on);

}  // namespace rlmpi::env
