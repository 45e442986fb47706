#pragma once
// Common base of the built-in environments: id, spaces, Gymnasium's TimeLimit counter, the env's
// own RNG, action validation and snapshots. A concrete env only writes the physics.
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/env/env.hpp"

namespace rlmpi::env {

namespace detail {
// R32(x): round a double to the nearest float32 (ties to even) and widen it back, the way NumPy
// rounds to float32. Finite values beyond the float range become +-inf as in IEEE (a plain
// static_cast would be undefined behaviour there).
inline double r32(double x) {
  // FLT_MAX + half an ulp: from here on the nearest float32 is infinity.
  constexpr double kOverflow = 0x1.ffffffp127;
  if (!(std::fabs(x) < kOverflow) && !std::isnan(x)) return std::copysign(HUGE_VAL, x);
  return static_cast<double>(static_cast<float>(x));
}
inline float to_f32(double x) { return static_cast<float>(r32(x)); }
}  // namespace detail

class EnvBase : public Env {
 public:
  const std::string& id() const override { return id_; }
  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  int max_episode_steps() const override { return max_episode_steps_; }

  using Env::reset;
  using Env::step;
  void reset(std::uint64_t seed, std::span<double> obs) final;
  void reset(std::span<double> obs) final;
  StepResult step(std::span<const double> action, std::span<double> obs) final;
  void set_state(std::span<const double> state) final;
  Snapshot snapshot() const final;
  void restore(const Snapshot& s) final;

  // Steps taken since the last reset/set_state (the TimeLimit counter).
  std::int64_t elapsed_steps() const { return elapsed_; }

 protected:
  EnvBase(std::string id, Space obs_space, Space act_space, int max_episode_steps,
          int state_dim);

  struct Outcome {
    double reward = 0;
    bool terminated = false;
  };
  // Draws a Gymnasium-distributed initial state from rng_ and sets the hidden flags as reset().
  virtual void draw_initial_state() = 0;
  // One Gymnasium step on an already validated action; the obs is written by the base.
  virtual Outcome advance(std::span<const double> action) = 0;
  // Sets the physical state (size already checked) and the hidden flags as after reset().
  virtual void assign_state(std::span<const double> state) = 0;
  // Hidden variables for snapshots; the default has none.
  virtual std::vector<double> extra() const { return {}; }
  virtual std::size_t extra_size() const { return 0; }
  virtual void assign_extra(std::span<const double> /*extra*/) {}

  Rng rng_;

 private:
  void check_action(std::span<const double> action) const;
  void check_obs(std::span<double> obs) const;

  std::string id_;
  Space obs_space_;
  Space act_space_;
  int max_episode_steps_;
  std::size_t state_dim_;
  std::int64_t elapsed_ = 0;
};

}  // namespace rlmpi::env
