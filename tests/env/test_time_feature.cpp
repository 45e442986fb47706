// --time-feature (src/env/time_feature.cpp): the wrapped env's observation is the inner one with
// 1 - t / T appended; everything else passes through, and snapshots carry the feature.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/env/time_feature.hpp"

using rlmpi::env::make_env;
using rlmpi::env::TimeFeature;

namespace {

std::vector<double> random_action(const rlmpi::env::Space& a, rlmpi::Rng& rng) {
  std::vector<double> out(static_cast<std::size_t>(a.dim()));
  if (a.is_discrete()) {
    out[0] = static_cast<double>(rng.uniform_int(static_cast<std::uint64_t>(a.n)));
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = a.low[i] + (a.high[i] - a.low[i]) * rng.uniform();
  }
  return out;
}

}  // namespace

TEST_CASE("time feature: the inner observation bit for bit, then 1 - t / T, and 0 on the truncated step") {
  for (const char* id : {"Pendulum-v1", "CartPole-v1", "MountainCarContinuous-v0", "Hopper-v4"}) {
    CAPTURE(id);
    auto plain = make_env(id);
    TimeFeature wrapped(make_env(id));
    const int n = plain->obs_dim(), T = plain->max_episode_steps();
    REQUIRE(wrapped.obs_dim() == n + 1);
    CHECK(wrapped.observation_space().low.back() == 0.0);
    CHECK(wrapped.observation_space().high.back() == 1.0);
    CHECK(wrapped.action_space().to_string() == plain->action_space().to_string());
    CHECK(wrapped.id() == plain->id());
    CHECK(wrapped.max_episode_steps() == T);

    std::vector<double> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n + 1));
    plain->reset(17, a);
    wrapped.reset(17, b);
    CHECK(std::vector<double>(b.begin(), b.end() - 1) == a);
    CHECK(b.back() == 1.0);
    rlmpi::Rng rng(5);
    long t = 0;
    for (int k = 0; k < 3 * T; ++k) {
      const std::vector<double> act = random_action(plain->action_space(), rng);
      const auto ra = plain->step(act, a);
      const auto rb = wrapped.step(act, b);
      ++t;
      REQUIRE(std::vector<double>(b.begin(), b.end() - 1) == a);
      REQUIRE(ra.reward == rb.reward);
      REQUIRE(ra.terminated == rb.terminated);
      REQUIRE(ra.truncated == rb.truncated);
      REQUIRE(b.back() == 1.0 - static_cast<double>(t) / T);
      if (rb.truncated) CHECK(b.back() == 0.0);
      if (ra.terminated || ra.truncated) {
        plain->reset(a);
        wrapped.reset(b);
        t = 0;
        REQUIRE(b.back() == 1.0);
        REQUIRE(std::vector<double>(b.begin(), b.end() - 1) == a);
      }
    }
  }
}

TEST_CASE("time feature: a snapshot restores the remaining time, set_state restarts it") {
  TimeFeature env(make_env("Pendulum-v1"));
  std::vector<double> obs(4), other(4);
  env.reset(3, obs);
  const std::vector<double> act{0.5};
  for (int k = 0; k < 37; ++k) env.step(act, obs);
  const rlmpi::env::Snapshot s = env.snapshot();
  CHECK(s.elapsed_steps == 37);

  TimeFeature copy(make_env("Pendulum-v1"));
  copy.reset(99, other);
  copy.restore(s);
  copy.observe(other);
  CHECK(other == obs);
  CHECK(other.back() == 1.0 - 37.0 / 200.0);
  for (int k = 0; k < 5; ++k) {
    env.step(act, obs);
    copy.step(act, other);
    CHECK(other == obs);
  }
  copy.set_state(copy.state());
  copy.observe(other);
  CHECK(other.back() == 1.0);
}

TEST_CASE("time feature: a buffer of the inner size is refused, with_time_feature(false) is the env itself") {
  TimeFeature env(make_env("Pendulum-v1"));
  std::vector<double> small(3);
  CHECK_THROWS_AS(env.reset(1, small), std::invalid_argument);
  auto e = make_env("CartPole-v1");
  const rlmpi::env::Env* raw = e.get();
  auto same = rlmpi::env::with_time_feature(std::move(e), false);
  CHECK(same.get() == raw);
  auto wrapped = rlmpi::env::with_time_feature(std::move(same), true);
  CHECK(wrapped->obs_dim() == 5);
}
