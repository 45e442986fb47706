// Golden replay of the MuJoCo locomotion envs against Gymnasium on MuJoCo 2.2.2
// (shared/golden/mujoco/README.md): one-step mode over every step of every case, rollout mode
// over the first 10 steps, at the README's default tolerances. Also reports how many steps are
// bit-exact and the largest errors, and rolls every case out to its end (the stretch goal).
#include <doctest/doctest.h>

#include <string>

#include "mujoco_golden.hpp"
#include "rlmpi/env/env.hpp"

using rlmpi::test::ReplayMode;

namespace {

void check_env(const std::string& id) {
  std::vector<rlmpi::test::MjCase> cases;
  try {
    cases = rlmpi::test::load_mujoco_golden(id);
  } catch (const std::exception& e) {
    FAIL(std::string(e.what()));
  }
  REQUIRE(!cases.empty());
  const auto make = [&] { return rlmpi::env::make_env(id); };

  const auto one = replay_cases(cases, make, ReplayMode::OneStep, 0);
  MESSAGE(id << " one-step: " << one.summary());
  CHECK_MESSAGE(one.failed_cases == 0, one.first_failure);
  CHECK(one.cases == cases.size());

  const auto roll = replay_cases(cases, make, ReplayMode::Rollout, 10);
  MESSAGE(id << " rollout@10: " << roll.summary());
  CHECK_MESSAGE(roll.failed_cases == 0, roll.first_failure);

  // Whole cases: not required by the README (open-loop rollouts are chaotic), reported only.
  const auto full = replay_cases(cases, make, ReplayMode::Rollout, 0);
  MESSAGE(id << " rollout, all steps (informational): " << full.summary());
}

}  // namespace

TEST_CASE("mujoco golden: HalfCheetah-v5") { check_env("HalfCheetah-v5"); }
TEST_CASE("mujoco golden: Hopper-v5") { check_env("Hopper-v5"); }
TEST_CASE("mujoco golden: Walker2d-v5") { check_env("Walker2d-v5"); }
TEST_CASE("mujoco golden: Swimmer-v5") { check_env("Swimmer-v5"); }
TEST_CASE("mujoco golden: Ant-v5") { check_env("Ant-v5"); }
TEST_CASE("mujoco golden: HalfCheetah-v4") { check_env("HalfCheetah-v4"); }
TEST_CASE("mujoco golden: Hopper-v4") { check_env("Hopper-v4"); }
TEST_CASE("mujoco golden: Walker2d-v4") { check_env("Walker2d-v4"); }
TEST_CASE("mujoco golden: Swimmer-v4") { check_env("Swimmer-v4"); }
TEST_CASE("mujoco golden: Ant-v4") { check_env("Ant-v4"); }
