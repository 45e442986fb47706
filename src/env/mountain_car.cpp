// MountainCar-v0 (environments.md §3): all double, math.cos = libm cos.
#include "rlmpi/env/mountain_car.hpp"

#include <cmath>

namespace rlmpi::env {

namespace {
Space mountain_car_obs_space(const MountainCarParams& p) {
  return Space::box({detail::r32(p.min_position), detail::r32(-p.max_speed)},
                    {detail::r32(p.max_position), detail::r32(p.max_speed)});
}
// np.clip(x, lo, hi) on a float64 scalar.
double clip(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }
}  // namespace

MountainCar::MountainCar(const MountainCarParams& p)
    : EnvBase("MountainCar-v0", mountain_car_obs_space(p), Space::discrete(3),
              p.max_episode_steps, 2),
      p_(p) {}

void MountainCar::draw_initial_state() {
  // Gymnasium: position uniform(-0.6, -0.4) from NumPy's PCG64, velocity 0. Same distribution,
  // drawn from our own xoshiro256** stream (NumPy's numbers cannot be matched).
  s_[0] = rng_.uniform(-0.6, -0.4);
  s_[1] = 0.0;
}

MountainCar::Outcome MountainCar::advance(std::span<const double> action) {
  const double a = action[0];
  double position = s_[0], velocity = s_[1];
  // The push and gravity terms are summed first, then added to the velocity.
  velocity += (a - 1) * p_.force + std::cos(3 * position) * (-p_.gravity);
  velocity = clip(velocity, -p_.max_speed, p_.max_speed);
  position += velocity;
  position = clip(position, p_.min_position, p_.max_position);
  if (position == p_.min_position && velocity < 0) velocity = 0;  // left wall only
  s_[0] = position;
  s_[1] = velocity;
  const bool terminated = position >= p_.goal_position && velocity >= p_.goal_velocity;
  return {-1.0, terminated};
}

void MountainCar::observe(std::span<double> obs) const {
  obs[0] = detail::r32(s_[0]);
  obs[1] = detail::r32(s_[1]);
}

std::vector<double> MountainCar::state() const { return {s_[0], s_[1]}; }

void MountainCar::assign_state(std::span<const double> state) {
  s_[0] = state[0];
  s_[1] = state[1];
}

}  // namespace rlmpi::env
