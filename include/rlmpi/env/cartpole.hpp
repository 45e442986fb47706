#pragma once
// CartPole-v1, a bit-exact port of Gymnasium's CartPoleEnv (facts: shared/reference/environments.md §1).
#include <numbers>

#include "rlmpi/env/env_base.hpp"

namespace rlmpi::env {

// Physical constants; the defaults are Gymnasium's.
struct CartPoleParams {
  double gravity = 9.8;
  double masscart = 1.0;
  double masspole = 0.1;
  double length = 0.5;  // half the pole length
  double force_mag = 10.0;
  double tau = 0.02;
  // Evaluated as Gymnasium does: ((12 * 2) * pi) / 360.
  double theta_threshold_radians = 12 * 2 * std::numbers::pi / 360;
  double x_threshold = 2.4;
  bool sutton_barto_reward = false;
  int max_episode_steps = 500;
};

class CartPole final : public EnvBase {
 public:
  explicit CartPole(const CartPoleParams& p = {});

  std::vector<double> state() const override;
  void observe(std::span<double> obs) const override;
  const CartPoleParams& params() const { return p_; }

 protected:
  void draw_initial_state() override;
  Outcome advance(std::span<const double> action) override;
  void assign_state(std::span<const double> state) override;
  std::vector<double> extra() const override;
  std::size_t extra_size() const override { return 1; }
  void assign_extra(std::span<const double> extra) override;

 private:
  CartPoleParams p_;
  double total_mass_;
  double polemass_length_;
  double s_[4] = {};  // x, x_dot, theta, theta_dot
  // Gymnasium's steps_beyond_terminated; -1 stands for None.
  long steps_beyond_terminated_ = -1;
};

}  // namespace rlmpi::env
