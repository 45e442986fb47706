// Acrobot-v1. Every expression keeps Gymnasium's evaluation order (environments.md §2):
// `x**2` on a NumPy float64 is libm pow(x, 2.0) (this file is built with -fno-builtin-pow so
// the compiler keeps the call), one RK4 step, loop wrap, clip after the RK4 step.
#include "rlmpi/env/acrobot.hpp"

#include <algorithm>
#include <cmath>

namespace rlmpi::env {

namespace {
constexpr double kPi = std::numbers::pi;  // numpy.pi
constexpr double kTorque[3] = {-1.0, 0.0, +1.0};

double sq(double x) { return std::pow(x, 2.0); }

// Gymnasium's wrap(): loops because one step can move an angle by more than pi.
double wrap(double x, double m, double big_m) {
  const double diff = big_m - m;
  while (x > big_m) x = x - diff;
  while (x < m) x = x + diff;
  return x;
}

// Gymnasium's bound(): min(max(x, m), M) with Python's builtins.
double bound(double x, double m, double big_m) {
  const double lo = (m > x) ? m : x;
  return (big_m < lo) ? big_m : lo;
}

Space acrobot_obs_space(const AcrobotParams& p) {
  const double v1 = detail::r32(p.max_vel_1), v2 = detail::r32(p.max_vel_2);
  return Space::box({-1, -1, -1, -1, -v1, -v2}, {1, 1, 1, 1, v1, v2});
}
}  // namespace

Acrobot::Acrobot(const AcrobotParams& p)
    : EnvBase("Acrobot-v1", acrobot_obs_space(p), Space::discrete(3), p.max_episode_steps, 4),
      p_(p),
      sq_lc1_(sq(p.link_com_pos_1)),
      sq_l1_(sq(p.link_length_1)),
      sq_lc2_(sq(p.link_com_pos_2)) {}

void Acrobot::draw_initial_state() {
  // Gymnasium: uniform(-0.1, 0.1, size=4) from NumPy's PCG64, then .astype(float32). We draw
  // the same distribution from our own xoshiro256** stream (NumPy's numbers cannot be matched).
  for (double& v : s_) v = detail::r32(rng_.uniform(-0.1, 0.1));
  f32_state_ = true;
}

void Acrobot::dsdt(const double* y, double a, double* dy) const {
  const double m1 = p_.link_mass_1, m2 = p_.link_mass_2, l1 = p_.link_length_1;
  const double lc1 = p_.link_com_pos_1, lc2 = p_.link_com_pos_2;
  const double i1 = p_.link_moi, i2 = p_.link_moi, g = p_.gravity;
  const double theta1 = y[0], theta2 = y[1], dtheta1 = y[2], dtheta2 = y[3];
  // Gymnasium calls cos(theta2)/sin(theta2) several times; one call each gives the same bits.
  const double cos2 = std::cos(theta2), sin2 = std::sin(theta2);
  const double lc1_sq = sq_lc1_, l1_sq = sq_l1_, lc2_sq = sq_lc2_;  // pow() of constants

  const double d1 = m1 * lc1_sq + m2 * (l1_sq + lc2_sq + 2 * l1 * lc2 * cos2) +
                    i1 + i2;
  const double d2 = m2 * (lc2_sq + l1 * lc2 * cos2) + i2;
  const double phi2 = m2 * lc2 * g * std::cos(theta1 + theta2 - kPi / 2.0);
  const double phi1 = -m2 * l1 * lc2 * sq(dtheta2) * sin2 -
                      2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2 +
                      (m1 * lc1 + m2 * l1) * g * std::cos(theta1 - kPi / 2) + phi2;
  // "book" variant (with the dtheta1**2 term).
  const double ddtheta2 =
      (a + d2 / d1 * phi1 - m2 * l1 * lc2 * sq(dtheta1) * sin2 - phi2) /
      (m2 * lc2_sq + i2 - sq(d2) / d1);
  const double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
  dy[0] = dtheta1;
  dy[1] = dtheta2;
  dy[2] = ddtheta1;
  dy[3] = ddtheta2;
}

Acrobot::Outcome Acrobot::advance(std::span<const double> action) {
  // The torque is the fifth RK4 component; its derivative is 0, so it stays `a` in every stage.
  const double a = kTorque[static_cast<int>(action[0])];
  // rk4(t = [0, dt]): h = dt - 0, h/2 computed from it.
  const double h = p_.dt - 0.0;
  const double h2 = h / 2.0;
  const double h6 = h / 6.0;
  double k1[4], k2[4], k3[4], k4[4], y[4];
  dsdt(s_, a, k1);
  for (int i = 0; i < 4; ++i) y[i] = s_[i] + h2 * k1[i];
  dsdt(y, a, k2);
  for (int i = 0; i < 4; ++i) y[i] = s_[i] + h2 * k2[i];
  dsdt(y, a, k3);
  for (int i = 0; i < 4; ++i) y[i] = s_[i] + h * k3[i];
  dsdt(y, a, k4);
  double ns[4];
  for (int i = 0; i < 4; ++i) ns[i] = s_[i] + h6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);

  ns[0] = wrap(ns[0], -kPi, kPi);
  ns[1] = wrap(ns[1], -kPi, kPi);
  ns[2] = bound(ns[2], -p_.max_vel_1, p_.max_vel_1);
  ns[3] = bound(ns[3], -p_.max_vel_2, p_.max_vel_2);
  for (int i = 0; i < 4; ++i) s_[i] = ns[i];
  f32_state_ = false;  // the state is a float64 array from now on

  const bool terminated = -std::cos(s_[0]) - std::cos(s_[1] + s_[0]) > 1.0;
  return {terminated ? 0.0 : -1.0, terminated};
}

void Acrobot::observe(std::span<double> obs) const {
  if (f32_state_) {
    // NumPy evaluates the reset observation on the float32 state in float32; libm cosf/sinf
    // agree with NumPy's own float32 routines except for rare 1-ulp differences at large angles.
    const float t1 = static_cast<float>(s_[0]), t2 = static_cast<float>(s_[1]);
    obs[0] = std::cos(t1);
    obs[1] = std::sin(t1);
    obs[2] = std::cos(t2);
    obs[3] = std::sin(t2);
  } else {
    obs[0] = detail::r32(std::cos(s_[0]));
    obs[1] = detail::r32(std::sin(s_[0]));
    obs[2] = detail::r32(std::cos(s_[1]));
    obs[3] = detail::r32(std::sin(s_[1]));
  }
  obs[4] = detail::r32(s_[2]);
  obs[5] = detail::r32(s_[3]);
}

std::vector<double> Acrobot::state() const { return {s_[0], s_[1], s_[2], s_[3]}; }

void Acrobot::assign_state(std::span<const double> state) {
  // Like reset: a float32-representable state is Gymnasium's float32 reset array; any other
  // state can only be a float64 one.
  f32_state_ = true;
  for (int i = 0; i < 4; ++i) {
    s_[i] = state[static_cast<std::size_t>(i)];
    f32_state_ = f32_state_ && detail::r32(s_[i]) == s_[i];
  }
}

std::vector<double> Acrobot::extra() const { return {f32_state_ ? 1.0 : 0.0}; }

void Acrobot::assign_extra(std::span<const double> extra) { f32_state_ = extra[0] != 0.0; }

}  // namespace rlmpi::env
