// HalfCheetah, Hopper, Walker2d, Swimmer and Ant (mujoco.md §2-7). Arithmetic follows
// Gymnasium's expressions term by term (same operand order) so rewards round the same way.
#include "rlmpi/env/locomotion.hpp"

#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace rlmpi::env {

namespace {

const char* version_suffix(GymVersion v) { return v == GymVersion::v5 ? "-v5" : "-v4"; }
bool is_v5(GymVersion v) { return v == GymVersion::v5; }

using Names = std::span<const char* const>;
// Gymnasium's numeric info keys per env and version (reward terms first).
constexpr const char* kCheetahV5[] = {"reward_forward", "reward_ctrl", "x_position", "x_velocity"};
constexpr const char* kCheetahV4[] = {"reward_run", "reward_ctrl", "x_position", "x_velocity"};
constexpr const char* kWalkerV5[] = {"reward_forward", "reward_ctrl", "reward_survive",
                                     "x_position", "z_distance_from_origin", "x_velocity"};
constexpr const char* kWalkerV4[] = {"x_position", "x_velocity"};
constexpr const char* kSwimmerV5[] = {"reward_forward", "reward_ctrl", "x_position",
                                      "y_position", "distance_from_origin", "x_velocity",
                                      "y_velocity"};
constexpr const char* kSwimmerV4[] = {"reward_fwd", "reward_ctrl", "forward_reward",
                                      "x_position", "y_position", "distance_from_origin",
                                      "x_velocity", "y_velocity"};
constexpr const char* kAntV5[] = {"reward_forward", "reward_ctrl", "reward_contact",
                                  "reward_survive", "x_position", "y_position",
                                  "distance_from_origin", "x_velocity", "y_velocity"};
constexpr const char* kAntV4[] = {"reward_forward", "reward_ctrl", "reward_survive",
                                  "forward_reward", "x_position", "y_position",
                                  "distance_from_origin", "x_velocity", "y_velocity"};

// What each robot's code below indexes (mujoco.md §2-6; the observation sizes follow from nq
// and nv, the Ant's contact forces from nbody).
using Root = ModelShape::Root;
constexpr ModelShape kCheetahShape{"HalfCheetah", 9, 9, 6, -1, Root::Planar};
constexpr ModelShape kHopperShape{"Hopper", 6, 6, 3, -1, Root::Planar};
constexpr ModelShape kWalkerShape{"Walker2d", 9, 9, 6, -1, Root::Planar};
constexpr ModelShape kSwimmerShape{"Swimmer", 5, 5, 2, -1, Root::Planar};
constexpr ModelShape kAntShape{"Ant", 15, 14, 8, 14, Root::Free};

std::shared_ptr<const MujocoModel> model_for(const std::string& model_path,
                                             const char* default_file) {
  return load_mujoco_model(model_path.empty() ? find_model_file(default_file) : model_path);
}

// np.sum(f(a)) for a contiguous float64 array of n values: NumPy's pairwise summation (blocks
// of up to 128 with 8 interleaved accumulators, sequential below 8 values).
template <class F>
double numpy_sum(std::size_t n, F f, std::size_t off = 0) {
  if (n < 8) {
    double res = 0.0;
    for (std::size_t i = 0; i < n; ++i) res += f(off + i);
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = f(off + j);
    std::size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (std::size_t j = 0; j < 8; ++j) r[j] += f(off + i + j);
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += f(off + i);
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_sum(n2, f, off) + numpy_sum(n - n2, f, off + n2);
}

// weight * np.sum(np.square(action)): the raw (unclipped) action.
double control_cost(double weight, std::span<const double> a) {
  return weight * numpy_sum(a.size(), [&](std::size_t i) { return a[i] * a[i]; });
}

double clip(double x, double lo, double hi) { return std::min(std::max(x, lo), hi); }

}  // namespace

// ================================================================ HalfCheetah (§2)

HalfCheetah::HalfCheetah(GymVersion v, const std::string& model_path)
    : MujocoEnv(std::string("HalfCheetah") + version_suffix(v), v,
                model_for(model_path, "half_cheetah.xml"), kCheetahShape, 5, 17,
                is_v5(v) ? Names(kCheetahV5) : Names(kCheetahV4)) {}

void HalfCheetah::add_reset_noise(std::span<double> qpos, std::span<double> qvel) {
  constexpr double s = 0.1;
  for (double& q : qpos) q += rng_.uniform(-s, s);
  for (double& v : qvel) v += s * rng_.normal();
}

void HalfCheetah::before_step() { x_before_ = d_->qpos[0]; }

HalfCheetah::Outcome HalfCheetah::after_step(std::span<const double> action) {
  const double x_after = d_->qpos[0];
  const double x_velocity = (x_after - x_before_) / dt();
  const double forward_reward = 1.0 * x_velocity;
  const double ctrl_cost = control_cost(0.1, action);
  set_info(0, forward_reward);
  set_info(1, -ctrl_cost);
  set_info(2, x_after);
  set_info(3, x_velocity);
  return {forward_reward - ctrl_cost, false};
}

void HalfCheetah::observe(std::span<double> obs) const {
  std::size_t k = 0;
  for (int i = 1; i < nq(); ++i) obs[k++] = d_->qpos[i];
  for (int i = 0; i < nv(); ++i) obs[k++] = d_->qvel[i];
}

// ================================================================ Hopper (§3), Walker2d (§4)

PlanarWalker::PlanarWalker(std::string id, GymVersion v, const std::string& model_path, Health h)
    : MujocoEnv(std::move(id), v, model_for(model_path, h.check_state_range
                                                             ? "hopper.xml"
                                                             : (is_v5(v) ? "walker2d_v5.xml"
                                                                         : "walker2d_v4.xml")),
                h.check_state_range ? kHopperShape : kWalkerShape, 4, h.check_state_range ? 11 : 17,
                is_v5(v) ? Names(kWalkerV5) : Names(kWalkerV4)),
      health_(h) {}

Hopper::Hopper(GymVersion v, const std::string& model_path)
    : PlanarWalker(std::string("Hopper") + version_suffix(v), v, model_path,
                   {0.7, std::numeric_limits<double>::infinity(), -0.2, 0.2, true}) {}

Walker2d::Walker2d(GymVersion v, const std::string& model_path)
    : PlanarWalker(std::string("Walker2d") + version_suffix(v), v, model_path,
                   {0.8, 2.0, -1.0, 1.0, false}) {}

void PlanarWalker::add_reset_noise(std::span<double> qpos, std::span<double> qvel) {
  constexpr double s = 5e-3;
  for (double& q : qpos) q += rng_.uniform(-s, s);
  for (double& v : qvel) v += rng_.uniform(-s, s);
}

// Strict inequalities, as Gymnasium's code (not its docstring); NaN fails every test.
bool PlanarWalker::healthy() const {
  const double z = d_->qpos[1], angle = d_->qpos[2];
  const bool z_ok = health_.z_min < z && z < health_.z_max;
  const bool angle_ok = health_.angle_min < angle && angle < health_.angle_max;
  bool state_ok = true;
  if (health_.check_state_range) {
    for (int i = 2; i < nq(); ++i) state_ok = state_ok && -100.0 < d_->qpos[i] && d_->qpos[i] < 100.0;
    for (int i = 0; i < nv(); ++i) state_ok = state_ok && -100.0 < d_->qvel[i] && d_->qvel[i] < 100.0;
  }
  return state_ok && z_ok && angle_ok;
}

void PlanarWalker::before_step() { x_before_ = d_->qpos[0]; }

PlanarWalker::Outcome PlanarWalker::after_step(std::span<const double> action) {
  const double x_after = d_->qpos[0];
  const double x_velocity = (x_after - x_before_) / dt();
  const bool is_healthy = healthy();
  const double forward_reward = 1.0 * x_velocity;
  // v4 pays the survival reward on every step, the terminating one included.
  const double healthy_reward = (is_healthy || !is_v5(version())) ? 1.0 : 0.0;
  const double ctrl_cost = control_cost(1e-3, action);
  const double reward = (forward_reward + healthy_reward) - ctrl_cost;
  if (is_v5(version())) {
    set_info(0, forward_reward);
    set_info(1, -ctrl_cost);
    set_info(2, healthy_reward);
    set_info(3, x_after);
    set_info(4, d_->qpos[1] - m_->qpos0[1]);
    set_info(5, x_velocity);
  } else {
    set_info(0, x_after);
    set_info(1, x_velocity);
  }
  return {reward, !is_healthy};
}

void PlanarWalker::observe(std::span<double> obs) const {
  std::size_t k = 0;
  for (int i = 1; i < nq(); ++i) obs[k++] = d_->qpos[i];
  for (int i = 0; i < nv(); ++i) obs[k++] = clip(d_->qvel[i], -10.0, 10.0);
}

// ================================================================ Swimmer (§5)

Swimmer::Swimmer(GymVersion v, const std::string& model_path)
    : MujocoEnv(std::string("Swimmer") + version_suffix(v), v, model_for(model_path, "swimmer.xml"),
                kSwimmerShape, 4, 8,
                is_v5(v) ? Names(kSwimmerV5) : Names(kSwimmerV4)) {}

void Swimmer::add_reset_noise(std::span<double> qpos, std::span<double> qvel) {
  constexpr double s = 0.1;
  for (double& q : qpos) q += rng_.uniform(-s, s);
  for (double& v : qvel) v += rng_.uniform(-s, s);
}

void Swimmer::before_step() {
  xy_before_[0] = d_->qpos[0];
  xy_before_[1] = d_->qpos[1];
}

Swimmer::Outcome Swimmer::after_step(std::span<const double> action) {
  const double x = d_->qpos[0], y = d_->qpos[1];
  const double x_velocity = (x - xy_before_[0]) / dt();
  const double y_velocity = (y - xy_before_[1]) / dt();
  const double forward_reward = 1.0 * x_velocity;
  const double ctrl_cost = control_cost(1e-4, action);
  // init_qpos[0:2] is 0, so Gymnasium's ||qpos[0:2] - init_qpos[0:2]|| is ||(x, y)||.
  const double distance = std::sqrt(x * x + y * y);
  std::size_t k = 0;
  set_info(k++, forward_reward);
  set_info(k++, -ctrl_cost);
  if (!is_v5(version())) set_info(k++, forward_reward);
  set_info(k++, x);
  set_info(k++, y);
  set_info(k++, distance);
  set_info(k++, x_velocity);
  set_info(k++, y_velocity);
  return {forward_reward - ctrl_cost, false};
}

void Swimmer::observe(std::span<double> obs) const {
  std::size_t k = 0;
  for (int i = 2; i < nq(); ++i) obs[k++] = d_->qpos[i];
  for (int i = 0; i < nv(); ++i) obs[k++] = d_->qvel[i];
}

// ================================================================ Ant (§6)

Ant::Ant(GymVersion v, const std::string& model_path)
    : MujocoEnv(std::string("Ant") + version_suffix(v), v, model_for(model_path, "ant.xml"),
                kAntShape, 5, is_v5(v) ? 105 : 27,
                is_v5(v) ? Names(kAntV5) : Names(kAntV4)) {
  static_assert(kBodies == static_cast<std::size_t>(kAntShape.nbody));  // MujocoEnv checked nbody
  after_assign();
}

void Ant::add_reset_noise(std::span<double> qpos, std::span<double> qvel) {
  // All 15 qpos entries, the quaternion included (mj_forward then normalises it).
  constexpr double s = 0.1;
  for (double& q : qpos) q += rng_.uniform(-s, s);
  for (double& v : qvel) v += s * rng_.normal();
}

void Ant::read_contact_forces() {
  for (std::size_t i = 0; i < kContact; ++i) contact_[i] = clip(d_->cfrc_ext[i], -1.0, 1.0);
}

void Ant::after_assign() {
  xy_last_[0] = d_->xpos[3 * 1 + 0];
  xy_last_[1] = d_->xpos[3 * 1 + 1];
  read_contact_forces();
}

void Ant::before_step() {}

Ant::Outcome Ant::after_step(std::span<const double> action) {
  // Torso = body 1. Its xpos after mj_step is that of the last RK4 stage (mujoco.md §6.4).
  const double x = d_->xpos[3 * 1 + 0], y = d_->xpos[3 * 1 + 1];
  const double x_velocity = (x - xy_last_[0]) / dt();
  const double y_velocity = (y - xy_last_[1]) / dt();
  xy_last_[0] = x;
  xy_last_[1] = y;
  read_contact_forces();

  bool finite = true;
  for (int i = 0; i < nq(); ++i) finite = finite && std::isfinite(d_->qpos[i]);
  for (int i = 0; i < nv(); ++i) finite = finite && std::isfinite(d_->qvel[i]);
  const double z = d_->qpos[2];
  const bool is_healthy = finite && 0.2 <= z && z <= 1.0;  // inclusive, unlike Hopper/Walker2d

  const double forward_reward = x_velocity * 1.0;
  const double healthy_reward = (is_healthy || !is_v5(version())) ? 1.0 : 0.0;
  const double ctrl_cost = control_cost(0.5, action);
  double reward;
  std::size_t k = 0;
  if (is_v5(version())) {
    const double contact_cost =
        5e-4 * numpy_sum(kContact, [&](std::size_t i) { return contact_[i] * contact_[i]; });
    reward = (forward_reward + healthy_reward) - (ctrl_cost + contact_cost);
    set_info(k++, forward_reward);
    set_info(k++, -ctrl_cost);
    set_info(k++, -contact_cost);
    set_info(k++, healthy_reward);
    // v5 reports positions from qpos (init_qpos[0:2] = 0).
    const double qx = d_->qpos[0], qy = d_->qpos[1];
    set_info(k++, qx);
    set_info(k++, qy);
    set_info(k++, std::sqrt(qx * qx + qy * qy));
  } else {
    reward = (forward_reward + healthy_reward) - ctrl_cost;
    set_info(k++, forward_reward);
    set_info(k++, -ctrl_cost);
    set_info(k++, healthy_reward);
    set_info(k++, forward_reward);
    // v4 reports positions from the (lagged) torso xpos.
    set_info(k++, x);
    set_info(k++, y);
    set_info(k++, std::sqrt(x * x + y * y));
  }
  set_info(k++, x_velocity);
  set_info(k++, y_velocity);
  return {reward, !is_healthy};
}

void Ant::observe(std::span<double> obs) const {
  std::size_t k = 0;
  for (int i = 2; i < nq(); ++i) obs[k++] = d_->qpos[i];
  for (int i = 0; i < nv(); ++i) obs[k++] = d_->qvel[i];
  if (is_v5(version()))
    for (std::size_t i = 6; i < kContact; ++i) obs[k++] = contact_[i];  // world row left out
}

void Ant::write_robot_extra(std::span<double> out) const {
  out[0] = xy_last_[0];
  out[1] = xy_last_[1];
  std::copy(contact_.begin(), contact_.end(), out.begin() + 2);
}

void Ant::read_robot_extra(std::span<const double> in) {
  xy_last_[0] = in[0];
  xy_last_[1] = in[1];
  std::copy(in.begin() + 2, in.begin() + 2 + static_cast<std::ptrdiff_t>(kContact),
            contact_.begin());
}

}  // namespace rlmpi::env
