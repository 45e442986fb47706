#pragma once
// PointMass-v0: push a unit mass on a line to the origin and hold it there.
//   state        x (position), v (velocity)
//   observation  [x, v]
//   action       force in [-1, 1] (clipped)
//   reward       -(x^2 + 0.1 v^2 + 0.01 force^2) per step
//   episode      100 steps (truncated), never terminates early
// A random policy scores about -160 per episode; PPO and TRPO reach about -4.
#include <algorithm>
#include <span>
#include <vector>

#include <rlmpi/rlmpi.hpp>

class PointMass : public rlmpi::env::EnvBase {
 public:
  PointMass()
      : EnvBase("PointMass-v0",
                rlmpi::env::Space::box({-kMaxX, -kMaxV}, {kMaxX, kMaxV}),  // observation
                rlmpi::env::Space::box({-1.0}, {1.0}),                     // action
                /*max_episode_steps=*/100, /*state_dim=*/2) {}

  // The state a checkpoint saves and restores: every number the next step depends on.
  std::vector<double> state() const override { return {x_, v_}; }
  void observe(std::span<double> obs) const override {
    obs[0] = x_;
    obs[1] = v_;
  }

 protected:
  // Called by reset(): draw the initial state from rng_, the env's own random stream (seeded
  // by reset(seed), saved in checkpoints).
  void draw_initial_state() override {
    x_ = rng_.uniform(-1.0, 1.0);
    v_ = rng_.uniform(-0.1, 0.1);
  }
  // One step on an action already checked against the action space.
  Outcome advance(std::span<const double> action) override {
    const double force = std::clamp(action[0], -1.0, 1.0);
    v_ = std::clamp(v_ + kDt * force, -kMaxV, kMaxV);
    x_ = std::clamp(x_ + kDt * v_, -kMaxX, kMaxX);
    return {-(x_ * x_ + 0.1 * v_ * v_ + 0.01 * force * force), /*terminated=*/false};
  }
  // Puts the env in a given state (checkpoint restore, tests); size already checked.
  void assign_state(std::span<const double> s) override {
    x_ = s[0];
    v_ = s[1];
  }

 private:
  static constexpr double kDt = 0.1, kMaxX = 2.0, kMaxV = 2.0;
  double x_ = 0, v_ = 0;
};
