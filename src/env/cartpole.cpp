// CartPole-v1. Every expression keeps Gymnasium's evaluation order (environments.md §1); this
// file is compiled with -ffp-contract=off so no multiply-add is fused.
#include "rlmpi/env/cartpole.hpp"

#include <cmath>
#include <limits>

namespace rlmpi::env {

namespace {
Space cartpole_obs_space(const CartPoleParams& p) {
  const double inf = std::numeric_limits<double>::infinity();
  // Gymnasium declares float32 bounds [2*x_threshold, inf, 2*theta_threshold, inf].
  const double x = detail::r32(p.x_threshold * 2);
  const double th = detail::r32(p.theta_threshold_radians * 2);
  return Space::box({-x, -inf, -th, -inf}, {x, inf, th, inf});
}
}  // namespace

CartPole::CartPole(const CartPoleParams& p)
    : EnvBase("CartPole-v1", cartpole_obs_space(p), Space::discrete(2), p.max_episode_steps, 4),
      p_(p),
      total_mass_(p.masspole + p.masscart),
      polemass_length_(p.masspole * p.length) {}

void CartPole::draw_initial_state() {
  // Gymnasium draws uniform(-0.05, 0.05, size=4) from NumPy's PCG64; we draw the same
  // distribution from our own xoshiro256** stream (the numbers cannot match NumPy's).
  for (double& v : s_) v = rng_.uniform(-0.05, 0.05);
  steps_beyond_terminated_ = -1;
}

CartPole::Outcome CartPole::advance(std::span<const double> action) {
  const double x = s_[0], x_dot = s_[1], theta = s_[2], theta_dot = s_[3];
  const double force = action[0] == 1.0 ? p_.force_mag : -p_.force_mag;
  const double costheta = std::cos(theta);
  const double sintheta = std::sin(theta);

  // np.square is an exact product (not pow).
  const double temp =
      (force + polemass_length_ * (theta_dot * theta_dot) * sintheta) / total_mass_;
  const double thetaacc =
      (p_.gravity * sintheta - costheta * temp) /
      (p_.length * (4.0 / 3.0 - p_.masspole * (costheta * costheta) / total_mass_));
  const double xacc = temp - polemass_length_ * thetaacc * costheta / total_mass_;

  // Explicit Euler: every right-hand side uses the old values.
  s_[0] = x + p_.tau * x_dot;
  s_[1] = x_dot + p_.tau * xacc;
  s_[2] = theta + p_.tau * theta_dot;
  s_[3] = theta_dot + p_.tau * thetaacc;

  const bool terminated = s_[0] < -p_.x_threshold || s_[0] > p_.x_threshold ||
                          s_[2] < -p_.theta_threshold_radians ||
                          s_[2] > p_.theta_threshold_radians;
  double reward;
  if (!terminated) {
    reward = p_.sutton_barto_reward ? 0.0 : 1.0;
  } else if (steps_beyond_terminated_ < 0) {
    steps_beyond_terminated_ = 0;
    reward = p_.sutton_barto_reward ? -1.0 : 1.0;
  } else {
    // Stepping a finished episode: Gymnasium warns (we do not log) and gives no reward.
    ++steps_beyond_terminated_;
    reward = p_.sutton_barto_reward ? -1.0 : 0.0;
  }
  return {reward, terminated};
}

void CartPole::observe(std::span<double> obs) const {
  for (int i = 0; i < 4; ++i) obs[static_cast<std::size_t>(i)] = detail::r32(s_[i]);
}

std::vector<double> CartPole::state() const { return {s_[0], s_[1], s_[2], s_[3]}; }

void CartPole::assign_state(std::span<const double> state) {
  for (int i = 0; i < 4; ++i) s_[i] = state[static_cast<std::size_t>(i)];
  steps_beyond_terminated_ = -1;
}

std::vector<double> CartPole::extra() const {
  return {static_cast<double>(steps_beyond_terminated_)};
}

void CartPole::assign_extra(std::span<const double> extra) {
  steps_beyond_terminated_ = static_cast<long>(extra[0]);
}

}  // namespace rlmpi::env
