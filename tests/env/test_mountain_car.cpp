#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "golden_replay.hpp"
#include "rlmpi/env/mountain_car.hpp"

using rlmpi::env::InvalidAction;
using rlmpi::env::MountainCar;
using rlmpi::env::MountainCarParams;

namespace {
std::vector<double> act(double a) { return {a}; }
}  // namespace

TEST_CASE("MountainCar-v0: every golden case replays bit for bit") {
  rlmpi::test::check_golden_exact("MountainCar-v0", [] { return std::make_unique<MountainCar>(); });
}

TEST_CASE("MountainCar-v0: a deliberately wrong constant fails the golden replay") {
  MountainCarParams p;
  p.gravity = 0.0026;
  rlmpi::test::check_golden_detects("MountainCar-v0",
                                    [p] { return std::make_unique<MountainCar>(p); });
}

TEST_CASE("MountainCar-v0: goal needs position >= 0.5 and velocity >= 0") {
  MountainCar env;
  std::vector<double> obs(2);
  // At the goal but moving left: not terminated.
  env.set_state(std::vector<double>{0.55, -0.01});
  auto r = env.step(act(0), obs);
  CHECK(env.state()[0] >= 0.5);
  CHECK(env.state()[1] < 0);
  CHECK_FALSE(r.terminated);
  CHECK(r.reward == -1.0);
  // Moving right past the goal: terminated, still reward -1.
  env.set_state(std::vector<double>{0.49, 0.02});
  r = env.step(act(2), obs);
  CHECK(r.terminated);
  CHECK(r.reward == -1.0);
  // Right end: clipped to 0.6, velocity kept.
  env.set_state(std::vector<double>{0.59, 0.07});
  env.step(act(2), obs);
  CHECK(env.state()[0] == 0.6);
  CHECK(env.state()[1] > 0);
}

TEST_CASE("MountainCar-v0: left wall stops the car, speed is clipped") {
  MountainCar env;
  std::vector<double> obs(2);
  env.set_state(std::vector<double>{-1.19, -0.05});
  env.step(act(0), obs);
  CHECK(env.state()[0] == -1.2);
  CHECK(env.state()[1] == 0.0);
  env.set_state(std::vector<double>{-0.5, 0.0699});
  env.step(act(2), obs);
  CHECK(env.state()[1] == 0.07);
  env.set_state(std::vector<double>{-0.5, -0.0699});
  env.step(act(0), obs);
  CHECK(env.state()[1] == -0.07);
}

TEST_CASE("MountainCar-v0: truncation at 200 steps") {
  MountainCar env;
  std::vector<double> obs(2);
  env.set_state(std::vector<double>{-0.5, 0.0});
  for (int t = 1; t <= 200; ++t) {
    const auto r = env.step(act(1), obs);  // no push: never reaches the goal
    CHECK_FALSE(r.terminated);
    if (r.truncated != (t == 200)) FAIL_CHECK("truncated wrong at step " << t);
  }
}

TEST_CASE("MountainCar-v0: invalid actions throw InvalidAction") {
  MountainCar env;
  std::vector<double> obs(2);
  env.reset(0, obs);
  for (double a : {3.0, -1.0, 0.5, std::numeric_limits<double>::quiet_NaN()})
    CHECK_THROWS_AS(env.step(act(a), obs), InvalidAction);
  CHECK_THROWS_AS(env.step(std::vector<double>{}, obs), InvalidAction);
}

TEST_CASE("MountainCar-v0: reset draws position uniform(-0.6, -0.4), velocity 0") {
  MountainCar a, b;
  std::vector<double> oa(2), ob(2);
  a.reset(9, oa);
  b.reset(9, ob);
  CHECK(a.state() == b.state());
  b.reset(10, ob);
  CHECK(a.state() != b.state());
  for (int i = 0; i < 200; ++i) {
    a.reset(oa);
    CHECK(a.state()[0] >= -0.6);
    CHECK(a.state()[0] < -0.4);
    CHECK(a.state()[1] == 0.0);
  }
}
