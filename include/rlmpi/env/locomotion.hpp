#pragma once
// Gymnasium's MuJoCo locomotion tasks, v5 (default) and v4, with default constructor arguments
// (facts: shared/reference/mujoco.md §2-7; models in models/*.xml). Each constructor takes an
// optional MJCF path; empty = the robot's file found by find_model_file().
//
// info() names are Gymnasium's numeric info keys of that version (reward terms first):
//   HalfCheetah v5: reward_forward reward_ctrl x_position x_velocity  (v4: reward_run for the first)
//   Hopper/Walker2d v5: reward_forward reward_ctrl reward_survive x_position
//                       z_distance_from_origin x_velocity            (v4: x_position x_velocity)
//   Swimmer v5: reward_forward reward_ctrl x_position y_position distance_from_origin x_velocity
//               y_velocity                    (v4: reward_fwd reward_ctrl forward_reward + the same)
//   Ant v5: reward_forward reward_ctrl reward_contact reward_survive x_position y_position
//           distance_from_origin x_velocity y_velocity
//       v4: reward_forward reward_ctrl reward_survive forward_reward x_position y_position
//           distance_from_origin x_velocity y_velocity (positions from the torso xpos)
#include <array>
#include <string>

#include "rlmpi/env/mujoco_env.hpp"

namespace rlmpi::env {

class HalfCheetah final : public MujocoEnv {
 public:
  explicit HalfCheetah(GymVersion v = GymVersion::v5, const std::string& model_path = {});
  void observe(std::span<double> obs) const override;

 protected:
  void add_reset_noise(std::span<double> qpos, std::span<double> qvel) override;
  void before_step() override;
  Outcome after_step(std::span<const double> action) override;

 private:
  double x_before_ = 0;
};

// Hopper and Walker2d share their step logic; only the health rules, sizes and model differ.
class PlanarWalker : public MujocoEnv {
 public:
  void observe(std::span<double> obs) const override;

 protected:
  struct Health {
    double z_min, z_max, angle_min, angle_max;
    bool check_state_range;  // Hopper: every qpos[2:], qvel inside (-100, 100)
  };
  PlanarWalker(std::string id, GymVersion v, const std::string& model_path, Health h);
  void add_reset_noise(std::span<double> qpos, std::span<double> qvel) override;
  void before_step() override;
  Outcome after_step(std::span<const double> action) override;

 private:
  bool healthy() const;
  Health health_;
  double x_before_ = 0;
};

class Hopper final : public PlanarWalker {
 public:
  explicit Hopper(GymVersion v = GymVersion::v5, const std::string& model_path = {});
};

class Walker2d final : public PlanarWalker {
 public:
  explicit Walker2d(GymVersion v = GymVersion::v5, const std::string& model_path = {});
};

class Swimmer final : public MujocoEnv {
 public:
  explicit Swimmer(GymVersion v = GymVersion::v5, const std::string& model_path = {});
  void observe(std::span<double> obs) const override;

 protected:
  void add_reset_noise(std::span<double> qpos, std::span<double> qvel) override;
  void before_step() override;
  Outcome after_step(std::span<const double> action) override;

 private:
  double xy_before_[2] = {};
};

class Ant final : public MujocoEnv {
 public:
  explicit Ant(GymVersion v = GymVersion::v5, const std::string& model_path = {});
  void observe(std::span<double> obs) const override;

 protected:
  void add_reset_noise(std::span<double> qpos, std::span<double> qvel) override;
  void before_step() override;
  Outcome after_step(std::span<const double> action) override;
  void after_assign() override;
  std::size_t robot_extra_size() const override { return 2 + kContact; }
  void write_robot_extra(std::span<double> out) const override;
  void read_robot_extra(std::span<const double> in) override;

 private:
  static constexpr std::size_t kBodies = 14;
  static constexpr std::size_t kContact = 6 * kBodies;
  void read_contact_forces();
  // The torso xpos the next step starts from: d->xpos is not recomputed after the last
  // integration, so Gymnasium's "before" lags (mujoco.md §6.4). Kept here so that snapshots
  // carry it.
  double xy_last_[2] = {};
  // clip(cfrc_ext, -1, 1) of every body (world row included) after the last step.
  std::array<double, kContact> contact_{};
};

}  // namespace rlmpi::env
