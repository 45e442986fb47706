#pragma once
// Pendulum-v1, a bit-exact port of Gymnasium's PendulumEnv under NumPy >= 2 (NEP 50) promotion
// rules (facts: shared/reference/environments.md §5).
#include "rlmpi/env/env_base.hpp"

namespace rlmpi::env {

// Physical constants; the defaults are Gymnasium's.
struct PendulumParams {
  double max_speed = 8;
  double max_torque = 2.0;
  double dt = 0.05;
  double g = 10.0;  // Gymnasium constructor argument
  double m = 1.0;
  double l = 1.0;
  int max_episode_steps = 200;
};

class Pendulum final : public EnvBase {
 public:
  explicit Pendulum(const PendulumParams& p = {});

  std::vector<double> state() const override;
  void observe(std::span<double> obs) const override;
  const PendulumParams& params() const { return p_; }

 protected:
  void draw_initial_state() override;
  Outcome advance(std::span<const double> action) override;
  void assign_state(std::span<const double> state) override;

 private:
  PendulumParams p_;
  double s_[2] = {};  // theta (never wrapped), theta_dot
};

}  // namespace rlmpi::env
