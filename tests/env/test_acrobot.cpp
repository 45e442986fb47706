#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "golden_replay.hpp"
#include "rlmpi/env/acrobot.hpp"

using rlmpi::env::Acrobot;
using rlmpi::env::AcrobotParams;
using rlmpi::env::InvalidAction;

namespace {
std::vector<double> act(double a) { return {a}; }
constexpr double kPi = std::numbers::pi;
}  // namespace

TEST_CASE("Acrobot-v1: every golden case replays bit for bit") {
  // init_obs: NumPy's float32 cos/sin may differ from libm cosf by 1 ulp (golden README).
  rlmpi::test::check_golden_exact("Acrobot-v1", [] { return std::make_unique<Acrobot>(); }, 1);
}

TEST_CASE("Acrobot-v1: a deliberately wrong constant fails the golden replay") {
  AcrobotParams p;
  p.gravity = 9.81;
  rlmpi::test::check_golden_detects("Acrobot-v1", [p] { return std::make_unique<Acrobot>(p); });
  AcrobotParams q;
  q.link_mass_2 = 1.01;
  rlmpi::test::check_golden_detects("Acrobot-v1", [q] { return std::make_unique<Acrobot>(q); });
}

TEST_CASE("Acrobot-v1: reward -1 per step, 0 on the terminating step") {
  Acrobot env;
  std::vector<double> obs(6);
  env.set_state(std::vector<double>{0.0, 0.0, 0.0, 0.0});
  auto r = env.step(act(1), obs);  // hanging still, no torque: stays down
  CHECK_FALSE(r.terminated);
  CHECK(r.reward == -1.0);
  // cos(theta1 - pi/2) is not exactly 0: the state only stays near rest.
  for (double v : env.state()) CHECK(std::fabs(v) < 1e-12);
  // Pointing straight up: -cos(pi) - cos(0 + pi) = 2 > 1.
  env.set_state(std::vector<double>{kPi, 0.0, 0.0, 0.0});
  r = env.step(act(1), obs);
  CHECK(r.terminated);
  CHECK(r.reward == 0.0);
}

TEST_CASE("Acrobot-v1: angles wrap into [-pi, pi], velocities are clipped") {
  Acrobot env;
  std::vector<double> obs(6);
  // Very fast spin: the angle leaves [-pi, pi] within one step and is wrapped back.
  env.set_state(std::vector<double>{3.0, 3.0, 12.0, 28.0});
  env.step(act(2), obs);
  auto s = env.state();
  CHECK(s[0] >= -kPi);
  CHECK(s[0] <= kPi);
  CHECK(s[1] >= -kPi);
  CHECK(s[1] <= kPi);
  CHECK(std::fabs(s[2]) <= 4 * kPi);
  CHECK(std::fabs(s[3]) <= 9 * kPi);
  for (int t = 0; t < 50; ++t) {
    env.step(act(t % 3), obs);
    s = env.state();
    CHECK(std::fabs(s[2]) <= 4 * kPi);
    CHECK(std::fabs(s[3]) <= 9 * kPi);
    CHECK(std::fabs(s[0]) <= kPi);
    CHECK(std::fabs(s[1]) <= kPi);
  }
}

TEST_CASE("Acrobot-v1: truncation at 500 steps") {
  Acrobot env;
  std::vector<double> obs(6);
  env.set_state(std::vector<double>{0.0, 0.0, 0.0, 0.0});
  for (int t = 1; t <= 500; ++t) {
    const auto r = env.step(act(1), obs);  // no torque from rest: never terminates
    CHECK_FALSE(r.terminated);
    if (r.truncated != (t == 500)) FAIL_CHECK("truncated wrong at step " << t);
  }
}

TEST_CASE("Acrobot-v1: invalid actions throw InvalidAction") {
  Acrobot env;
  std::vector<double> obs(6);
  env.reset(0, obs);
  for (double a : {3.0, -1.0, -3.0, 1.5, std::numeric_limits<double>::quiet_NaN()})
    CHECK_THROWS_AS(env.step(act(a), obs), InvalidAction);
  CHECK_THROWS_WITH_AS(env.step(act(3), obs), doctest::Contains("[0, 2]"), InvalidAction);
  CHECK_THROWS_AS(env.step(std::vector<double>{1, 1}, obs), InvalidAction);
  for (double a : {0.0, 1.0, 2.0}) CHECK_NOTHROW(env.step(act(a), obs));
}

TEST_CASE("Acrobot-v1: reset state is float32 uniform(-0.1, 0.1), obs from float trig") {
  Acrobot a, b;
  std::vector<double> oa(6), ob(6);
  a.reset(5, oa);
  b.reset(5, ob);
  CHECK(a.state() == b.state());
  CHECK(oa == ob);
  b.reset(6, ob);
  CHECK(a.state() != b.state());
  for (int i = 0; i < 200; ++i) {
    a.reset(oa);
    const auto s = a.state();
    for (double v : s) {
      CHECK(v >= -0.1);
      CHECK(v <= 0.1);
      CHECK(v == static_cast<double>(static_cast<float>(v)));  // float32 state
    }
    CHECK(oa[0] == static_cast<double>(std::cos(static_cast<float>(s[0]))));
    CHECK(oa[3] == static_cast<double>(std::sin(static_cast<float>(s[1]))));
  }
}
