#pragma once
// Acrobot-v1, a bit-exact port of Gymnasium's AcrobotEnv ("book" dynamics, no torque noise;
// facts: shared/reference/environments.md §2).
#include <numbers>

#include "rlmpi/env/env_base.hpp"

namespace rlmpi::env {

// Physical constants; the defaults are Gymnasium's.
struct AcrobotParams {
  double dt = 0.2;
  double link_length_1 = 1.0;
  double link_mass_1 = 1.0;
  double link_mass_2 = 1.0;
  double link_com_pos_1 = 0.5;
  double link_com_pos_2 = 0.5;
  double link_moi = 1.0;
  double gravity = 9.8;  // the local `g` in _dsdt
  double max_vel_1 = 4 * std::numbers::pi;
  double max_vel_2 = 9 * std::numbers::pi;
  int max_episode_steps = 500;
};

class Acrobot final : public EnvBase {
 public:
  explicit Acrobot(const AcrobotParams& p = {});

  std::vector<double> state() const override;
  void observe(std::span<double> obs) const override;
  const AcrobotParams& params() const { return p_; }

 protected:
  void draw_initial_state() override;
  Outcome advance(std::span<const double> action) override;
  void assign_state(std::span<const double> state) override;
  std::vector<double> extra() const override;
  std::size_t extra_size() const override { return 1; }
  void assign_extra(std::span<const double> extra) override;

 private:
  void dsdt(const double* y, double a, double* dy) const;

  AcrobotParams p_;
  // lc1**2, l1**2, lc2**2: Gymnasium recomputes these pow() calls every time; same bits.
  double sq_lc1_, sq_l1_, sq_lc2_;
  double s_[4] = {};  // theta1, theta2, dtheta1, dtheta2
  // True while the state is Gymnasium's float32 reset array (before the first step): the
  // observation then uses float32 cos/sin.
  bool f32_state_ = false;
};

}  // namespace rlmpi::env
