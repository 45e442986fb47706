// MountainCarContinuous-v0 (environments.md §4). Under NumPy 2 a float32 scalar combined with a
// Python float stays float32 (the Python number is rounded to float32 first). So we track, for
// each intermediate, whether Gymnasium holds it as a float32 or as a double, and round with
// R32 exactly where NumPy does.
#include "rlmpi/env/mountain_car_continuous.hpp"

#include <cmath>

namespace rlmpi::env {

using detail::r32;

namespace {
Space mcc_obs_space(const MountainCarContinuousParams& p) {
  return Space::box({r32(p.min_position), r32(-p.max_speed)},
                    {r32(p.max_position), r32(p.max_speed)});
}
}  // namespace

MountainCarContinuous::MountainCarContinuous(const MountainCarContinuousParams& p)
    : EnvBase("MountainCarContinuous-v0", mcc_obs_space(p),
              Space::box({r32(p.min_action)}, {r32(p.max_action)}), p.max_episode_steps, 2),
      p_(p) {}

void MountainCarContinuous::draw_initial_state() {
  // Gymnasium: position uniform(-0.6, -0.4) from NumPy's PCG64, velocity 0, kept as float64.
  // Same distribution from our own xoshiro256** stream (NumPy's numbers cannot be matched).
  s_[0] = rng_.uniform(-0.6, -0.4);
  s_[1] = 0.0;
  wide_ = true;
}

MountainCarContinuous::Outcome MountainCarContinuous::advance(std::span<const double> action) {
  // Gymnasium receives a float32 action.
  const double a = detail::r32(action[0]);
  const bool wide = wide_;

  // force = min(max(a, min_action), max_action) with Python builtins: `a` itself (float32)
  // when inside, else the Python float bound. Comparisons of a float32 with a Python float are
  // done in float32.
  double fp;  // force * power
  bool fp_f32;
  if (r32(p_.min_action) > a) {
    fp = p_.min_action * p_.power;
    fp_f32 = false;
  } else if (r32(p_.max_action) < a) {
    fp = p_.max_action * p_.power;
    fp_f32 = false;
  } else {
    fp = r32(a * r32(p_.power));
    fp_f32 = true;
  }

  double position = s_[0], velocity = s_[1];
  // A value is float32-typed when it is a float32 NumPy scalar, double-typed when it is a
  // float64 scalar or a Python float. Threshold of `x OP c` for a Python float c:
  auto c_for = [](bool f32, double c) { return f32 ? r32(c) : c; };

  const double x3 = wide ? 3 * position : r32(3 * position);
  const double grav = p_.gravity * std::cos(x3);  // Python float
  const double dv = fp_f32 ? r32(fp - r32(grav)) : fp - grav;
  bool v_f32;
  if (wide) {
    velocity = velocity + dv;  // float64 + (float32 or Python float) -> float64
    v_f32 = false;
  } else {
    velocity = r32(velocity + r32(dv));  // float32 += anything -> float32
    v_f32 = true;
  }
  if (velocity > c_for(v_f32, p_.max_speed)) {
    velocity = p_.max_speed;
    v_f32 = false;
  }
  if (velocity < c_for(v_f32, -p_.max_speed)) {
    velocity = -p_.max_speed;
    v_f32 = false;
  }

  bool p_f32;
  if (wide) {
    position = position + velocity;
    p_f32 = false;
  } else {
    position = r32(position + r32(velocity));
    p_f32 = true;
  }
  if (position > c_for(p_f32, p_.max_position)) {
    position = p_.max_position;
    p_f32 = false;
  }
  if (position < c_for(p_f32, p_.min_position)) {
    position = p_.min_position;
    p_f32 = false;
  }
  if (position == c_for(p_f32, p_.min_position) && velocity < 0) {
    velocity = 0;
    v_f32 = false;
  }

  const bool terminated = position >= c_for(p_f32, p_.goal_position) &&
                          velocity >= c_for(v_f32, p_.goal_velocity);
  // math.pow(a, 2) is exact for a float32 a; the reward uses the unclipped action.
  const double reward = (terminated ? 100.0 : 0.0) - a * a * 0.1;

  s_[0] = r32(position);  // self.state = np.array([position, velocity], dtype=np.float32)
  s_[1] = r32(velocity);
  wide_ = false;
  return {reward, terminated};
}

void MountainCarContinuous::observe(std::span<double> obs) const {
  obs[0] = r32(s_[0]);
  obs[1] = r32(s_[1]);
}

std::vector<double> MountainCarContinuous::state() const { return {s_[0], s_[1]}; }

void MountainCarContinuous::assign_state(std::span<const double> state) {
  s_[0] = state[0];
  s_[1] = state[1];
  wide_ = true;
}

std::vector<double> MountainCarContinuous::extra() const { return {wide_ ? 1.0 : 0.0}; }

void MountainCarContinuous::assign_extra(std::span<const double> extra) {
  wide_ = extra[0] != 0.0;
}

}  // namespace rlmpi::env
