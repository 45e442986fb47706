// Behaviour shared by every registered environment (EnvBase): spaces, snapshots, reset
// determinism, the time limit, buffer checks and allocation-free hot paths.
#include <doctest/doctest.h>

#include <atomic>
#include <bit>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/env/env.hpp"

using rlmpi::env::Env;
using rlmpi::env::list_envs;
using rlmpi::env::make_env;
using rlmpi::env::Space;

// Counts heap allocations of this test program (checked around the hot-path calls only).
namespace {
std::atomic<long> g_allocations{0};
}
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

// A valid random action; Box actions range 20 % beyond the bounds to exercise clipping.
void random_action(const Space& a, rlmpi::Rng& rng, std::vector<double>& out) {
  if (a.is_discrete()) {
    out[0] = static_cast<double>(rng.uniform_int(static_cast<std::uint64_t>(a.n)));
    return;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double w = a.high[i] - a.low[i];
    out[i] = rng.uniform(a.low[i] - 0.2 * w, a.high[i] + 0.2 * w);
  }
}

struct Trace {
  std::vector<std::uint64_t> bits;  // everything observed, as raw bits
  void add(double x) { bits.push_back(std::bit_cast<std::uint64_t>(x)); }
  void add(const std::vector<double>& v) {
    for (double x : v) add(x);
  }
};

// k steps with actions from `rng` (continuing past termination), then, if asked, one
// reset(span) that draws from the env's own RNG.
Trace run(Env& env, rlmpi::Rng rng, int k, bool reset_at_end = true) {
  Trace t;
  std::vector<double> obs(static_cast<std::size_t>(env.obs_dim()));
  std::vector<double> act(static_cast<std::size_t>(env.act_dim()));
  for (int i = 0; i < k; ++i) {
    random_action(env.action_space(), rng, act);
    const auto r = env.step(act, obs);
    t.add(obs);
    t.add(r.reward);
    t.add(r.terminated ? 1.0 : 0.0);
    t.add(r.truncated ? 1.0 : 0.0);
    t.add(env.state());
  }
  if (reset_at_end) {
    env.reset(obs);
    t.add(obs);
    t.add(env.state());
  }
  return t;
}

std::vector<std::string> ids() {
  std::vector<std::string> out;
  for (const auto& info : list_envs()) out.push_back(info.id);
  return out;
}

}  // namespace

TEST_CASE("Space: Gymnasium-style strings") {
  CHECK(Space::discrete(2).to_string() == "Discrete(2)");
  CHECK(Space::box({-2.0}, {2.0}).to_string() == "Box(-2.0, 2.0, (1,))");
  CHECK(Space::box({-1.2, -0.07}, {0.6, 0.07}).to_string() == "Box([-1.2 -0.07], [0.6 0.07], (2,))");
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(Space::box({-inf, -inf}, {inf, inf}).to_string() == "Box(-inf, inf, (2,))");
  CHECK(Space::box({0.0, 0.0, 0.0}, {1.0, 2.5, 1e20}).to_string() ==
        "Box(0.0, [1.0 2.5 1e+20], (3,))");
  CHECK(Space::discrete(3).dim() == 1);
  CHECK(Space::box({0, 0, 0}, {1, 1, 1}).dim() == 3);
  CHECK_THROWS(Space::discrete(0));
  CHECK_THROWS(Space::box({0.0}, {1.0, 2.0}));
}

TEST_CASE("every env: snapshot/restore continues bit for bit (state, flags, steps, RNG)") {
  for (const auto& id : ids()) {
    CAPTURE(id);
    for (int k1 : {0, 1, 7, 60}) {
      CAPTURE(k1);
      auto env = make_env(id);
      std::vector<double> obs(static_cast<std::size_t>(env->obs_dim()));
      env->reset(1234, obs);
      rlmpi::Rng policy(99);
      run(*env, policy, k1, false);  // somewhere mid-episode (possibly past termination)
      const auto snap = env->snapshot();
      CHECK(snap.elapsed_steps == k1);
      const rlmpi::Rng policy2(7);
      const Trace a = run(*env, policy2, 40);
      env->restore(snap);
      const Trace b = run(*env, policy2, 40);
      CHECK(a.bits == b.bits);
      // A fresh instance restored from the snapshot continues the same way.
      auto other = make_env(id);
      other->restore(snap);
      const Trace c = run(*other, policy2, 40);
      CHECK(a.bits == c.bits);
      // The snapshot round-trips.
      other->restore(snap);
      CHECK(other->snapshot().state == snap.state);
      CHECK(other->snapshot().extra == snap.extra);
      CHECK(other->snapshot().elapsed_steps == snap.elapsed_steps);
      CHECK(other->snapshot().rng == snap.rng);
    }
  }
}

TEST_CASE("every env: snapshot right after reset keeps the first-step behaviour") {
  for (const auto& id : ids()) {
    CAPTURE(id);
    auto env = make_env(id);
    std::vector<double> obs(static_cast<std::size_t>(env->obs_dim()));
    env->reset(5, obs);
    const auto snap = env->snapshot();
    CHECK(snap.elapsed_steps == 0);
    const Trace a = run(*env, rlmpi::Rng(3), 5);
    env->reset(77, obs);  // somewhere else entirely
    env->restore(snap);
    const Trace b = run(*env, rlmpi::Rng(3), 5);
    CHECK(a.bits == b.bits);
  }
}

TEST_CASE("every env: restore rejects a snapshot of the wrong shape") {
  for (const auto& id : ids()) {
    CAPTURE(id);
    auto env = make_env(id);
    env->reset(1);
    auto snap = env->snapshot();
    snap.state.push_back(0.0);
    CHECK_THROWS_AS(env->restore(snap), std::invalid_argument);
    snap = env->snapshot();
    snap.extra.push_back(0.0);
    CHECK_THROWS_AS(env->restore(snap), std::invalid_argument);
    CHECK_THROWS_AS(env->set_state(std::vector<double>(env->state().size() + 1, 0.0)),
                    std::invalid_argument);
  }
}

TEST_CASE("every env: reset(seed) is deterministic, set_state/state round-trip") {
  for (const auto& id : ids()) {
    CAPTURE(id);
    auto a = make_env(id);
    auto b = make_env(id);
    CHECK(a->reset(2024) == b->reset(2024));
    CHECK(a->state() == b->state());
    const auto first = a->state();
    std::vector<double> o(static_cast<std::size_t>(a->obs_dim()));
    a->reset(std::span<double>(o));  // continues a's stream
    b->reset(2025);
    CHECK(a->state() != first);
    CHECK(b->state() != first);
    // The same seed twice on one instance restarts the stream.
    a->reset(2024);
    CHECK(a->state() == first);
    // set_state restarts the time limit and round-trips the state.
    a->step(std::vector<double>(static_cast<std::size_t>(a->act_dim()), 0.0));
    const auto s = a->state();
    a->set_state(s);
    CHECK(a->state() == s);
    CHECK(a->snapshot().elapsed_steps == 0);
  }
}

TEST_CASE("every env: the time limit truncates exactly at max_episode_steps") {
  for (const auto& id : ids()) {
    CAPTURE(id);
    auto env = make_env(id);
    std::vector<double> obs(static_cast<std::size_t>(env->obs_dim()));
    std::vector<double> act(static_cast<std::size_t>(env->act_dim()));
    rlmpi::Rng rng(1);
    env->reset(8, obs);
    int t = 0;
    bool truncated = false;
    while (!truncated) {
      random_action(env->action_space(), rng, act);
      const auto r = env->step(act, obs);  // keep going even after termination
      ++t;
      truncated = r.truncated;
      REQUIRE(t <= env->max_episode_steps());
    }
    CHECK(t == env->max_episode_steps());
  }
}

TEST_CASE("every env: wrong buffer sizes are rejected") {
  for (const auto& id : ids()) {
    CAPTURE(id);
    auto env = make_env(id);
    std::vector<double> small(static_cast<std::size_t>(env->obs_dim() - 1));
    std::vector<double> obs(static_cast<std::size_t>(env->obs_dim()));
    CHECK_THROWS_AS(env->reset(1, small), std::invalid_argument);
    env->reset(1, obs);
    std::vector<double> act(static_cast<std::size_t>(env->act_dim()), 0.0);
    CHECK_THROWS_AS(env->step(act, small), std::invalid_argument);
    std::vector<double> long_act(static_cast<std::size_t>(env->act_dim() + 1), 0.0);
    CHECK_THROWS_AS(env->step(long_act, obs), rlmpi::env::InvalidAction);
  }
}

TEST_CASE("every env: reset and step do not allocate") {
  for (const auto& id : ids()) {
    CAPTURE(id);
    auto env = make_env(id);
    std::vector<double> obs(static_cast<std::size_t>(env->obs_dim()));
    std::vector<double> act(static_cast<std::size_t>(env->act_dim()));
    rlmpi::Rng rng(4);
    const long before = g_allocations.load();
    env->reset(3, obs);
    for (int i = 0; i < 2000; ++i) {
      random_action(env->action_space(), rng, act);
      const auto r = env->step(act, obs);
      if (r.terminated || r.truncated) env->reset(obs);
    }
    env->observe(obs);
    CHECK(g_allocations.load() == before);
  }
}

TEST_CASE("ActionScale maps [-1, 1] to a Box's bounds and leaves infinite or Discrete dimensions alone") {
  using rlmpi::env::ActionScale;
  using rlmpi::env::Space;
  const double inf = std::numeric_limits<double>::infinity();
  const ActionScale s = ActionScale::of(Space::box({-2.0, 0.0, -inf}, {2.0, 1.0, inf}));
  std::vector<double> a{-1.0, 1.0, 5.0};
  s.apply(a);
  CHECK(a == std::vector<double>{-2.0, 1.0, 5.0});
  std::vector<double> b{0.5, 0.0, -3.0};
  s.apply(b);
  CHECK(b == std::vector<double>{1.0, 0.5, -3.0});
  CHECK(ActionScale::of(Space::discrete(3)).empty());
}
