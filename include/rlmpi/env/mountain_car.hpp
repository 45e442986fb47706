#pragma once
// MountainCar-v0, a bit-exact port of Gymnasium's MountainCarEnv
// (facts: shared/reference/environments.md §3).
#include "rlmpi/env/env_base.hpp"

namespace rlmpi::env {

// Physical constants; the defaults are Gymnasium's.
struct MountainCarParams {
  double min_position = -1.2;
  double max_position = 0.6;
  double max_speed = 0.07;
  double goal_position = 0.5;
  double goal_velocity = 0.0;  // Gymnasium constructor argument
  double force = 0.001;
  double gravity = 0.0025;
  int max_episode_steps = 200;
};

class MountainCar final : public EnvBase {
 public:
  explicit MountainCar(const MountainCarParams& p = {});

  std::vector<double> state() const override;
  void observe(std::span<double> obs) const override;
  const MountainCarParams& params() const { return p_; }

 protected:
  void draw_initial_state() override;
  Outcome advance(std::span<const double> action) override;
  void assign_state(std::span<const double> state) override;

 private:
  MountainCarParams p_;
  double s_[2] = {};  // position, velocity
};

}  // namespace rlmpi::env
