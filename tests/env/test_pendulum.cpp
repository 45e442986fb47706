#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "golden_replay.hpp"
#include "rlmpi/env/pendulum.hpp"

using rlmpi::env::InvalidAction;
using rlmpi::env::Pendulum;
using rlmpi::env::PendulumParams;

namespace {
std::vector<double> act(double a) { return {a}; }
constexpr double kPi = std::numbers::pi;
}  // namespace

TEST_CASE("Pendulum-v1: every golden case replays bit for bit") {
  rlmpi::test::check_golden_exact("Pendulum-v1", [] { return std::make_unique<Pendulum>(); });
}

TEST_CASE("Pendulum-v1: a deliberately wrong constant fails the golden replay") {
  PendulumParams p;
  p.g = 9.8;
  rlmpi::test::check_golden_detects("Pendulum-v1", [p] { return std::make_unique<Pendulum>(p); });
}

TEST_CASE("Pendulum-v1: cost uses the pre-step state and the clipped torque") {
  Pendulum env;
  std::vector<double> obs(3);
  env.set_state(std::vector<double>{0.0, 0.0});
  auto r = env.step(act(0.0), obs);
  CHECK(r.reward == 0.0);  // -(0 + 0 + 0)
  CHECK_FALSE(r.terminated);
  // Torque 5 is clipped to 2: cost 0.001 * 4 in float32.
  Pendulum a, b;
  std::vector<double> oa(3), ob(3);
  a.set_state(std::vector<double>{0.0, 0.0});
  b.set_state(std::vector<double>{0.0, 0.0});
  const auto ra = a.step(act(5.0), oa);
  const auto rb = b.step(act(2.0), ob);
  CHECK(ra.reward == rb.reward);
  CHECK(a.state() == b.state());
  CHECK(ra.reward == -static_cast<double>(0.001f * 4.0f));
}

TEST_CASE("Pendulum-v1: theta is never wrapped, the cost normalises it") {
  Pendulum env, ref;
  std::vector<double> obs(3), ro(3);
  env.set_state(std::vector<double>{10 * kPi + 0.3, 0.0});
  ref.set_state(std::vector<double>{0.3, 0.0});
  const auto r = env.step(act(0.0), obs);
  const auto rr = ref.step(act(0.0), ro);
  CHECK(env.state()[0] > 10 * kPi);
  CHECK(r.reward == doctest::Approx(rr.reward).epsilon(1e-12));
  // Floored modulo for negative angles.
  env.set_state(std::vector<double>{-7 * kPi + 0.2, 0.0});
  ref.set_state(std::vector<double>{-kPi + 0.2, 0.0});
  CHECK(env.step(act(0.0), obs).reward ==
        doctest::Approx(ref.step(act(0.0), ro).reward).epsilon(1e-9));
}

TEST_CASE("Pendulum-v1: speed is clipped to 8") {
  Pendulum env;
  std::vector<double> obs(3);
  env.set_state(std::vector<double>{kPi / 2, 7.99});
  env.step(act(2.0), obs);
  CHECK(env.state()[1] == 8.0);
  env.set_state(std::vector<double>{-kPi / 2, -7.99});
  env.step(act(-2.0), obs);
  CHECK(env.state()[1] == -8.0);
}

TEST_CASE("Pendulum-v1: never terminates, truncation at 200 steps") {
  Pendulum env;
  std::vector<double> obs(3);
  env.reset(3, obs);
  for (int t = 1; t <= 200; ++t) {
    const auto r = env.step(act(t % 3 - 1.0), obs);
    CHECK_FALSE(r.terminated);
    if (r.truncated != (t == 200)) FAIL_CHECK("truncated wrong at step " << t);
  }
}

TEST_CASE("Pendulum-v1: NaN and wrong size throw") {
  Pendulum env;
  std::vector<double> obs(3);
  env.reset(0, obs);
  CHECK_THROWS_AS(env.step(act(std::numeric_limits<double>::quiet_NaN()), obs), InvalidAction);
  CHECK_THROWS_AS(env.step(std::vector<double>{}, obs), InvalidAction);
  CHECK_THROWS_AS(env.step(std::vector<double>{0.0, 0.0}, obs), InvalidAction);
  CHECK_NOTHROW(env.step(act(-100.0), obs));
}

TEST_CASE("Pendulum-v1: reset draws theta ~ U(-pi, pi), theta_dot ~ U(-1, 1)") {
  Pendulum a, b;
  std::vector<double> oa(3), ob(3);
  a.reset(11, oa);
  b.reset(11, ob);
  CHECK(a.state() == b.state());
  b.reset(12, ob);
  CHECK(a.state() != b.state());
  for (int i = 0; i < 200; ++i) {
    a.reset(oa);
    CHECK(std::fabs(a.state()[0]) <= kPi);
    CHECK(std::fabs(a.state()[1]) <= 1.0);
  }
}
