#pragma once
// Corridor-v0: walk to the exit at the right end of a slippery corridor of 10 cells.
//   state        cell (0..9)
//   observation  [cell / 9]
//   action       Discrete(3): 0 left, 1 stay, 2 right; with probability 0.2 the floor is
//                slippery and the agent stays where it is
//   reward       -0.1 per step, +1 on reaching cell 9 (terminated)
//   episode      50 steps (truncated)
// The start cell is uniform in 0..5. A random policy scores about -4 per episode; PPO reaches about 0.3.
#include <span>
#include <vector>

#include <rlmpi/rlmpi.hpp>

class Corridor : public rlmpi::env::EnvBase {
 public:
  Corridor()
      : EnvBase("Corridor-v0", rlmpi::env::Space::box({0.0}, {1.0}), rlmpi::env::Space::discrete(3),
                /*max_episode_steps=*/50, /*state_dim=*/1) {}

  std::vector<double> state() const override { return {static_cast<double>(cell_)}; }
  void observe(std::span<double> obs) const override { obs[0] = cell_ / double(kExit); }

 protected:
  void draw_initial_state() override { cell_ = static_cast<int>(rng_.uniform_int(6)); }
  Outcome advance(std::span<const double> action) override {
    const int move = static_cast<int>(action[0]) - 1;  // discrete actions arrive as 0.0, 1.0, 2.0
    if (rng_.uniform() >= kSlip) cell_ = std::max(0, std::min(kExit, cell_ + move));
    if (cell_ == kExit) return {1.0, /*terminated=*/true};
    return {-0.1, false};
  }
  void assign_state(std::span<const double> s) override { cell_ = static_cast<int>(s[0]); }

 private:
  static constexpr int kExit = 9;
  static constexpr double kSlip = 0.2;
  int cell_ = 0;
};
