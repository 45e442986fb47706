#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "golden_replay.hpp"
#include "rlmpi/env/mountain_car_continuous.hpp"

using rlmpi::env::InvalidAction;
using rlmpi::env::MountainCarContinuous;
using rlmpi::env::MountainCarContinuousParams;

namespace {
std::vector<double> act(double a) { return {a}; }
double f32(double x) { return static_cast<double>(static_cast<float>(x)); }
}  // namespace

TEST_CASE("MountainCarContinuous-v0: every golden case replays bit for bit") {
  rlmpi::test::check_golden_exact("MountainCarContinuous-v0",
                                  [] { return std::make_unique<MountainCarContinuous>(); });
}

TEST_CASE("MountainCarContinuous-v0: a deliberately wrong constant fails the golden replay") {
  MountainCarContinuousParams p;
  p.power = 0.0016;
  rlmpi::test::check_golden_detects("MountainCarContinuous-v0",
                                    [p] { return std::make_unique<MountainCarContinuous>(p); });
}

TEST_CASE("MountainCarContinuous-v0: state is float32 after a step, first step in double") {
  MountainCarContinuous env;
  std::vector<double> obs(2);
  env.set_state(std::vector<double>{-0.5123456789, 0.0});
  CHECK(env.state()[0] == -0.5123456789);  // not rounded on set_state/reset
  env.step(act(0.3), obs);
  for (double v : env.state()) CHECK(v == f32(v));
  CHECK(obs == env.state());
  // The first step used the unrounded position: starting from the rounded one differs.
  MountainCarContinuous other;
  other.set_state(std::vector<double>{f32(-0.5123456789), 0.0});
  std::vector<double> obs2(2);
  other.step(act(0.3), obs2);
  CHECK(other.state() != env.state());
}

TEST_CASE("MountainCarContinuous-v0: reward uses the raw action, force is clipped") {
  MountainCarContinuous a, b;
  std::vector<double> oa(2), ob(2);
  a.set_state(std::vector<double>{-0.5, 0.0});
  b.set_state(std::vector<double>{-0.5, 0.0});
  const auto ra = a.step(act(1.5), oa);
  const auto rb = b.step(act(1.0), ob);
  CHECK(a.state() == b.state());  // same clipped force
  CHECK(ra.reward == -(1.5 * 1.5 * 0.1));
  CHECK(rb.reward == -(1.0 * 1.0 * 0.1));
  // Action converted to float32 first.
  MountainCarContinuous c;
  std::vector<double> oc(2);
  c.set_state(std::vector<double>{-0.5, 0.0});
  const auto rc = c.step(act(0.1), oc);
  CHECK(rc.reward == 0.0 - f32(0.1) * f32(0.1) * 0.1);
}

TEST_CASE("MountainCarContinuous-v0: goal at float32 0.45, terminating reward 100 - 0.1 a^2") {
  MountainCarContinuous env;
  std::vector<double> obs(2);
  env.set_state(std::vector<double>{0.44, 0.02});
  const auto r = env.step(act(0.5), obs);
  CHECK(r.terminated);
  CHECK(r.reward == 100.0 - 0.5 * 0.5 * 0.1);
  // At the goal but moving left: not terminated.
  env.set_state(std::vector<double>{0.5, -0.01});
  CHECK_FALSE(env.step(act(-1.0), obs).terminated);
}

TEST_CASE("MountainCarContinuous-v0: left wall stops the car") {
  MountainCarContinuous env;
  std::vector<double> obs(2);
  env.set_state(std::vector<double>{-1.19, -0.05});
  env.step(act(-1.0), obs);
  CHECK(env.state()[0] == f32(-1.2));
  CHECK(env.state()[1] == 0.0);
  // Later steps are float32 arithmetic: hitting the wall again also zeroes the speed.
  env.step(act(1.0), obs);
  CHECK(env.state()[0] > f32(-1.2));
  env.restore([&] {
    auto s = env.snapshot();
    s.state = {f32(-1.19), f32(-0.05)};
    return s;
  }());
  env.step(act(-1.0), obs);
  CHECK(env.state()[0] == f32(-1.2));
  CHECK(env.state()[1] == 0.0);
}

TEST_CASE("MountainCarContinuous-v0: truncation at 999 steps") {
  MountainCarContinuous env;
  std::vector<double> obs(2);
  env.set_state(std::vector<double>{-0.5, 0.0});
  for (int t = 1; t <= 999; ++t) {
    const auto r = env.step(act(0.0), obs);
    CHECK_FALSE(r.terminated);
    if (r.truncated != (t == 999)) FAIL_CHECK("truncated wrong at step " << t);
  }
}

TEST_CASE("MountainCarContinuous-v0: NaN and wrong size throw, out of range is clipped") {
  MountainCarContinuous env;
  std::vector<double> obs(2);
  env.reset(0, obs);
  CHECK_THROWS_WITH_AS(env.step(act(std::numeric_limits<double>::quiet_NaN()), obs),
                       doctest::Contains("invalid action nan"), InvalidAction);
  CHECK_THROWS_AS(env.step(std::vector<double>{}, obs), InvalidAction);
  CHECK_THROWS_AS(env.step(std::vector<double>{0.1, 0.2}, obs), InvalidAction);
  CHECK_NOTHROW(env.step(act(5.0), obs));
  CHECK_NOTHROW(env.step(act(-1e300), obs));
  CHECK_NOTHROW(env.step(act(std::numeric_limits<double>::infinity()), obs));
}

TEST_CASE("MountainCarContinuous-v0: reset draws position uniform(-0.6, -0.4)") {
  MountainCarContinuous a, b;
  std::vector<double> oa(2), ob(2);
  a.reset(1, oa);
  b.reset(1, ob);
  CHECK(a.state() == b.state());
  b.reset(2, ob);
  CHECK(a.state() != b.state());
  for (int i = 0; i < 200; ++i) {
    a.reset(oa);
    CHECK(a.state()[0] >= -0.6);
    CHECK(a.state()[0] < -0.4);
    CHECK(a.state()[1] == 0.0);
    CHECK(oa[0] == f32(a.state()[0]));
  }
}
