#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "golden_replay.hpp"
#include "rlmpi/env/cartpole.hpp"

using rlmpi::env::CartPole;
using rlmpi::env::CartPoleParams;
using rlmpi::env::InvalidAction;

namespace {
std::vector<double> act(double a) { return {a}; }
}  // namespace

TEST_CASE("CartPole-v1: every golden case replays bit for bit") {
  rlmpi::test::check_golden_exact("CartPole-v1", [] { return std::make_unique<CartPole>(); });
}

TEST_CASE("CartPole-v1: a deliberately wrong constant fails the golden replay") {
  CartPoleParams p;
  p.gravity = 9.81;
  rlmpi::test::check_golden_detects("CartPole-v1", [p] { return std::make_unique<CartPole>(p); });
  CartPoleParams q;
  q.tau = 0.0201;
  rlmpi::test::check_golden_detects("CartPole-v1", [q] { return std::make_unique<CartPole>(q); });
}

TEST_CASE("CartPole-v1: termination bounds are strict") {
  CartPole env;
  std::vector<double> obs(4);
  // x' = 2.4 exactly (x_dot = 0): inside.
  env.set_state(std::vector<double>{2.4, 0.0, 0.0, 0.0});
  CHECK_FALSE(env.step(act(1), obs).terminated);
  // x' slightly above 2.4: out.
  env.set_state(std::vector<double>{2.4, 1e-9, 0.0, 0.0});
  CHECK(env.step(act(1), obs).terminated);
  env.set_state(std::vector<double>{-2.4, 0.0, 0.0, 0.0});
  CHECK_FALSE(env.step(act(0), obs).terminated);
  env.set_state(std::vector<double>{-2.4, -1e-9, 0.0, 0.0});
  CHECK(env.step(act(0), obs).terminated);
  // theta' = threshold exactly: inside; a hair beyond: out.
  const double thr = 12 * 2 * std::numbers::pi / 360;
  CHECK(thr == 0.20943951023931953);
  env.set_state(std::vector<double>{0.0, 0.0, thr, 0.0});
  CHECK_FALSE(env.step(act(1), obs).terminated);
  env.set_state(std::vector<double>{0.0, 0.0, thr, 1e-9});
  CHECK(env.step(act(1), obs).terminated);
  env.set_state(std::vector<double>{0.0, 0.0, -thr, -1e-9});
  CHECK(env.step(act(0), obs).terminated);
}

TEST_CASE("CartPole-v1: stepping after termination gives reward 0, reset clears it") {
  CartPole env;
  std::vector<double> obs(4);
  env.set_state(std::vector<double>{2.4, 1.0, 0.0, 0.0});
  auto r = env.step(act(1), obs);
  CHECK(r.terminated);
  CHECK(r.reward == 1.0);
  for (int i = 0; i < 3; ++i) {
    r = env.step(act(1), obs);
    CHECK(r.terminated);
    CHECK(r.reward == 0.0);
  }
  // Drift back inside the bounds: reward 1 again (Gymnasium recomputes the flag).
  env.restore([&] {
    auto s = env.snapshot();
    s.state = {0.0, 0.0, 0.0, 0.0};
    return s;
  }());
  r = env.step(act(1), obs);
  CHECK_FALSE(r.terminated);
  CHECK(r.reward == 1.0);
  // set_state clears steps_beyond_terminated: the first terminating step is rewarded again.
  env.set_state(std::vector<double>{2.4, 1.0, 0.0, 0.0});
  CHECK(env.step(act(1), obs).reward == 1.0);
  env.reset(3, obs);
  env.set_state(std::vector<double>{2.4, 1.0, 0.0, 0.0});
  CHECK(env.step(act(0), obs).reward == 1.0);
}

TEST_CASE("CartPole-v1: sutton_barto_reward") {
  CartPoleParams p;
  p.sutton_barto_reward = true;
  CartPole env(p);
  std::vector<double> obs(4);
  env.set_state(std::vector<double>{0.0, 0.0, 0.0, 0.0});
  CHECK(env.step(act(1), obs).reward == 0.0);
  env.set_state(std::vector<double>{2.4, 1.0, 0.0, 0.0});
  CHECK(env.step(act(1), obs).reward == -1.0);
  CHECK(env.step(act(1), obs).reward == -1.0);
}

TEST_CASE("CartPole-v1: truncation at 500 steps, both flags on one step") {
  CartPoleParams p;
  p.x_threshold = 1e300;  // never terminates
  p.theta_threshold_radians = 1e300;
  CartPole env(p);
  std::vector<double> obs(4);
  env.reset(1, obs);
  for (int t = 1; t <= 500; ++t) {
    const auto r = env.step(act(t % 2), obs);
    CHECK_FALSE(r.terminated);
    if (r.truncated != (t == 500)) FAIL_CHECK("truncated wrong at step " << t);
  }
  CHECK(env.elapsed_steps() == 500);

  CartPoleParams q;
  q.max_episode_steps = 3;
  CartPole short_env(q);
  short_env.set_state(std::vector<double>{2.4 - 0.02 * 2 * 0.5, 0.5, 0.0, 0.0});
  CHECK_FALSE(short_env.step(act(1), obs).truncated);
  CHECK_FALSE(short_env.step(act(1), obs).truncated);
  const auto last = short_env.step(act(1), obs);
  CHECK(last.terminated);
  CHECK(last.truncated);
}

TEST_CASE("CartPole-v1: invalid actions throw InvalidAction") {
  CartPole env;
  std::vector<double> obs(4);
  env.reset(0, obs);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double a : {2.0, -1.0, 0.5, nan, std::numeric_limits<double>::infinity(), 1e20})
    CHECK_THROWS_AS(env.step(act(a), obs), InvalidAction);
  CHECK_THROWS_WITH_AS(env.step(act(2), obs),
                       doctest::Contains("invalid action 2 for Discrete(2)"), InvalidAction);
  CHECK_THROWS_WITH_AS(env.step(act(2), obs), doctest::Contains("[0, 1]"), InvalidAction);
  CHECK_THROWS_AS(env.step(std::vector<double>{}, obs), InvalidAction);
  CHECK_THROWS_AS(env.step(std::vector<double>{0, 1}, obs), InvalidAction);
  // Nothing moved: a rejected action is not a step.
  CHECK(env.elapsed_steps() == 0);
  CHECK_NOTHROW(env.step(act(0), obs));
  CHECK_NOTHROW(env.step(act(1), obs));
}

TEST_CASE("CartPole-v1: reset draws uniform(-0.05, 0.05) deterministically") {
  CartPole a, b;
  std::vector<double> oa(4), ob(4);
  a.reset(42, oa);
  b.reset(42, ob);
  CHECK(a.state() == b.state());
  CHECK(oa == ob);
  b.reset(43, ob);
  CHECK(a.state() != b.state());
  for (int i = 0; i < 200; ++i) {
    a.reset(oa);
    for (double v : a.state()) {
      CHECK(v >= -0.05);
      CHECK(v < 0.05);
    }
    for (std::size_t k = 0; k < 4; ++k) CHECK(oa[k] == static_cast<double>(static_cast<float>(a.state()[k])));
  }
}
