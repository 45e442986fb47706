#pragma once
// MountainCarContinuous-v0, a bit-exact port of Gymnasium's Continuous_MountainCarEnv under
// NumPy >= 2 (NEP 50) promotion rules (facts: shared/reference/environments.md §4).
#include "rlmpi/env/env_base.hpp"

namespace rlmpi::env {

// Physical constants; the defaults are Gymnasium's.
struct MountainCarContinuousParams {
  double min_action = -1.0;
  double max_action = 1.0;
  double min_position = -1.2;
  double max_position = 0.6;
  double max_speed = 0.07;
  double goal_position = 0.45;
  double goal_velocity = 0.0;  // Gymnasium constructor argument
  double power = 0.0015;
  double gravity = 0.0025;  // a literal in Gymnasium's step()
  int max_episode_steps = 999;
};

class MountainCarContinuous final : public EnvBase {
 public:
  explicit MountainCarContinuous(const MountainCarContinuousParams& p = {});

  std::vector<double> state() const override;
  void observe(std::span<double> obs) const override;
  const MountainCarContinuousParams& params() const { return p_; }

 protected:
  void draw_initial_state() override;
  Outcome advance(std::span<const double> action) override;
  void assign_state(std::span<const double> state) override;
  std::vector<double> extra() const override;
  std::size_t extra_size() const override { return 1; }
  void assign_extra(std::span<const double> extra) override;

 private:
  MountainCarContinuousParams p_;
  double s_[2] = {};  // position, velocity
  // True right after reset/set_state: Gymnasium's state is then a float64 array and the first
  // step runs in double; every later step sees the float32 array it stored.
  bool wide_ = true;
};

}  // namespace rlmpi::env
