// Pendulum-v1 (environments.md §5). `x**2` on a float64 is libm pow(x, 2.0) and on the float32
// torque libm powf(u, 2) (this file is built with -fno-builtin-pow/-powf so the compiler keeps
// the calls); float32 x Python float products stay float32 (NEP 50).
#include "rlmpi/env/pendulum.hpp"

#include <math.h>  // ::powf: libstdc++'s std::pow(float, float) is __builtin_powf

#include <cmath>
#include <numbers>

namespace rlmpi::env {

using detail::r32;

namespace {
constexpr double kPi = std::numbers::pi;  // np.pi

// ((x + pi) % (2*pi)) - pi with NumPy's floored modulo (npy_divmod): a zero remainder is +0.0.
double angle_normalize(double x) {
  const double m = 2 * kPi;
  double r = std::fmod(x + kPi, m);
  if (r != 0) {
    if (r < 0) r += m;
  } else {
    r = std::copysign(0.0, m);
  }
  return r - kPi;
}

Space pendulum_obs_space(const PendulumParams& p) {
  const double v = r32(p.max_speed);
  return Space::box({-1, -1, -v}, {1, 1, v});
}
}  // namespace

Pendulum::Pendulum(const PendulumParams& p)
    : EnvBase("Pendulum-v1", pendulum_obs_space(p),
              Space::box({r32(-p.max_torque)}, {r32(p.max_torque)}), p.max_episode_steps, 2),
      p_(p) {}

void Pendulum::draw_initial_state() {
  // Gymnasium: uniform(low=-[pi, 1], high=[pi, 1]) from NumPy's PCG64. Same distribution from
  // our own xoshiro256** stream (NumPy's numbers cannot be matched).
  s_[0] = rng_.uniform(-kPi, kPi);
  s_[1] = rng_.uniform(-1.0, 1.0);
}

Pendulum::Outcome Pendulum::advance(std::span<const double> action) {
  const double th = s_[0], thdot = s_[1];
  // u = np.clip(float32 action, -max_torque, max_torque)[0]: a float32 value.
  const float lo = detail::to_f32(-p_.max_torque), hi = detail::to_f32(p_.max_torque);
  float u = detail::to_f32(action[0]);
  u = u < lo ? lo : (u > hi ? hi : u);
  const double ud = u;

  // 0.001 * (u**2) is float32 arithmetic: R32(R32(0.001) * powf(u, 2)).
  const double u_cost = r32(r32(0.001) * static_cast<double>(::powf(u, 2.0f)));
  const double costs =
      std::pow(angle_normalize(th), 2.0) + 0.1 * std::pow(thdot, 2.0) + u_cost;

  // 3 * g / (2 * l) * sin(th) + 3.0 / (m * l**2) * u; the second product is float32.
  const double torque = r32(r32(3.0 / (p_.m * std::pow(p_.l, 2.0))) * ud);
  double newthdot = thdot + (3 * p_.g / (2 * p_.l) * std::sin(th) + torque) * p_.dt;
  newthdot = newthdot < -p_.max_speed ? -p_.max_speed
                                      : (newthdot > p_.max_speed ? p_.max_speed : newthdot);
  const double newth = th + newthdot * p_.dt;  // semi-implicit: the new velocity
  s_[0] = newth;
  s_[1] = newthdot;
  return {-costs, false};
}

void Pendulum::observe(std::span<double> obs) const {
  obs[0] = r32(std::cos(s_[0]));
  obs[1] = r32(std::sin(s_[0]));
  obs[2] = r32(s_[1]);
}

std::vector<double> Pendulum::state() const { return {s_[0], s_[1]}; }

void Pendulum::assign_state(std::span<const double> state) {
  s_[0] = state[0];
  s_[1] = state[1];
}

}  // namespace rlmpi::env
