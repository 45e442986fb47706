#pragma once
// Replays the MuJoCo golden trajectories (shared/golden/mujoco/<id>.jsonl, format and
// tolerances in its README) through an rlmpi env, in rollout and one-step mode, and measures
// the largest errors per quantity.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/env/env.hpp"

namespace rlmpi::test {

using Terms = std::vector<std::pair<std::string, std::vector<double>>>;

struct MjCase {
  std::string env;
  std::int64_t case_id = 0;
  std::string init_source;
  std::vector<double> init_qpos, init_qvel, init_obs;
  std::vector<std::vector<double>> actions, obs, qpos, qvel;
  std::vector<double> rewards;
  std::vector<bool> terminated;
  Terms terms;  // reward_terms then info, in file order
  // What a step started from set_state returns when it differs from the rollout (Ant only).
  bool has_onestep = false;
  std::vector<double> onestep_rewards;
  std::vector<bool> onestep_terminated;
  Terms onestep_terms;
  std::size_t steps() const { return actions.size(); }
};

// Every case of <golden_dir>/mujoco/<env_id>.jsonl; std::runtime_error naming the path when the
// file is missing, empty or malformed.
std::vector<MjCase> load_mujoco_golden(const std::string& env_id);

// The README's `default` profile: |got - want| <= atol + rtol * |want|.
struct Tolerance {
  double qpos_atol = 1e-8, qpos_rtol = 1e-8;
  double vel_atol = 1e-6, vel_rtol = 1e-6;  // qvel and observation
  double rew_atol = 1e-6, rew_rtol = 1e-6;  // reward and each info term
};

struct ReplayStats {
  std::size_t cases = 0, failed_cases = 0, steps = 0, exact_steps = 0;
  // Largest absolute errors seen (over every compared element).
  double max_obs = 0, max_qpos = 0, max_qvel = 0, max_reward = 0, max_terms = 0;
  std::string first_failure;
  void merge(const ReplayStats& o);
  std::string summary() const;
};

enum class ReplayMode { Rollout, OneStep };

// Replays one case: rollout mode over the first `horizon` steps (0 = all), one-step mode over
// every step. Every golden reward term / info key must be reported by env.info().
ReplayStats replay_case(env::Env& env, const MjCase& c, ReplayMode mode, std::size_t horizon,
                        const Tolerance& tol = {});

// Replays every case on a fresh env from `make`.
ReplayStats replay_cases(const std::vector<MjCase>& cases,
                         const std::function<std::unique_ptr<env::Env>()>& make,
                         ReplayMode mode, std::size_t horizon, const Tolerance& tol = {});

}  // namespace rlmpi::test
