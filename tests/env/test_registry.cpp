#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "rlmpi/core/error.hpp"
#include "rlmpi/env/env.hpp"

using rlmpi::env::list_envs;
using rlmpi::env::make_env;

namespace {
struct Expected {
  const char* id;
  const char* obs;
  const char* act;
  int max_steps;
  int obs_dim;
  int act_dim;
};
const Expected kExpected[] = {
    {"CartPole-v1", "Box([-4.8 -inf -0.41887903 -inf], [4.8 inf 0.41887903 inf], (4,))",
     "Discrete(2)", 500, 4, 1},
    {"Acrobot-v1",
     "Box([-1.0 -1.0 -1.0 -1.0 -12.566371 -28.274334], [1.0 1.0 1.0 1.0 12.566371 28.274334], "
     "(6,))",
     "Discrete(3)", 500, 6, 1},
    {"MountainCar-v0", "Box([-1.2 -0.07], [0.6 0.07], (2,))", "Discrete(3)", 200, 2, 1},
    {"MountainCarContinuous-v0", "Box([-1.2 -0.07], [0.6 0.07], (2,))", "Box(-1.0, 1.0, (1,))",
     999, 2, 1},
    {"Pendulum-v1", "Box([-1.0 -1.0 -8.0], [1.0 1.0 8.0], (3,))", "Box(-2.0, 2.0, (1,))", 200,
     3, 1},
};
}  // namespace

TEST_CASE("registry: make_env builds every classic-control id with Gymnasium's spaces") {
  for (const Expected& e : kExpected) {
    CAPTURE(e.id);
    const auto env = make_env(e.id);
    REQUIRE(env);
    CHECK(env->id() == e.id);
    CHECK(env->observation_space().to_string() == e.obs);
    CHECK(env->action_space().to_string() == e.act);
    CHECK(env->max_episode_steps() == e.max_steps);
    CHECK(env->obs_dim() == e.obs_dim);
    CHECK(env->act_dim() == e.act_dim);
  }
}

TEST_CASE("registry: list_envs lists the ids in a stable order with spaces and limits") {
  const auto infos = list_envs();
  // The classic-control ids come first, in this order (more ids may follow).
  REQUIRE(infos.size() >= std::size(kExpected));
  for (std::size_t i = 0; i < std::size(kExpected); ++i) {
    CAPTURE(i);
    CHECK(infos[i].id == kExpected[i].id);
    CHECK(infos[i].observation_space == kExpected[i].obs);
    CHECK(infos[i].action_space == kExpected[i].act);
    CHECK(infos[i].max_episode_steps == kExpected[i].max_steps);
  }
  for (const auto& info : infos) CHECK(make_env(info.id)->id() == info.id);
}

TEST_CASE("registry: unknown id is a UsageError listing every valid id") {
  std::string valid;
  for (const auto& info : list_envs()) valid += (valid.empty() ? "" : ", ") + info.id;
  const std::string expected = "unknown environment 'Foo-v0' (valid: " + valid + ")";
  CHECK(valid.rfind("CartPole-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0, "
                    "Pendulum-v1",
                    0) == 0);
  CHECK_THROWS_WITH_AS(make_env("Foo-v0"), expected.c_str(), rlmpi::UsageError);
  CHECK_THROWS_AS(make_env("cartpole-v1"), rlmpi::UsageError);  // ids are case-sensitive
  CHECK_THROWS_AS(make_env(""), rlmpi::UsageError);
}

// ---------------------------------------------------------------- ids a program registers
#include <algorithm>
#include <memory>

#include "rlmpi/rlmpi.hpp"

namespace {
// The smallest user environment: a counter that must be driven to 3.
class Counter : public rlmpi::env::EnvBase {
 public:
  explicit Counter(std::string id = "test/Counter-v0")
      : EnvBase(std::move(id), rlmpi::env::Space::box({-10.0}, {10.0}), rlmpi::env::Space::discrete(2), 20, 1) {}
  std::vector<double> state() const override { return {c_}; }
  void observe(std::span<double> obs) const override { obs[0] = c_; }

 protected:
  void draw_initial_state() override { c_ = static_cast<double>(rng_.uniform_int(3)); }
  Outcome advance(std::span<const double> a) override {
    c_ += a[0] == 1 ? 1 : -1;
    return {c_ == 3 ? 1.0 : 0.0, c_ == 3};
  }
  void assign_state(std::span<const double> s) override { c_ = s[0]; }

 private:
  double c_ = 0;
};
}  // namespace

TEST_CASE("registry: register_env adds an id that make_env builds and list_envs lists last") {
  rlmpi::register_env("test/Counter-v0", [] { return std::make_unique<Counter>(); });
  const auto env = make_env("test/Counter-v0");
  REQUIRE(env);
  CHECK(env->id() == "test/Counter-v0");
  CHECK(env->action_space().to_string() == "Discrete(2)");
  const auto infos = list_envs();
  const auto it = std::find_if(infos.begin(), infos.end(), [](const auto& i) { return i.id == "test/Counter-v0"; });
  REQUIRE(it != infos.end());
  CHECK(it->max_episode_steps == 20);
  CHECK(std::find_if(it, infos.end(), [](const auto& i) { return i.id == "CartPole-v1"; }) == infos.end());

  // Each call builds a new object: two copies step independently.
  const auto a = make_env("test/Counter-v0"), b = make_env("test/Counter-v0");
  CHECK(a.get() != b.get());
  // Snapshots of a user env restore the episode exactly (state, time limit, RNG stream).
  a->reset(7);
  a->step(std::vector<double>{1.0});
  const auto snap = a->snapshot();
  const auto next = a->step(std::vector<double>{0.0});
  const auto draw = a->reset(std::uint64_t{0} + 99);
  a->restore(snap);
  CHECK(a->step(std::vector<double>{0.0}).obs == next.obs);
  CHECK(a->reset(std::uint64_t{0} + 99) == draw);

  // The unknown-id message lists registered ids too.
  try {
    make_env("test/Countr-v0");
    FAIL("no error");
  } catch (const rlmpi::UsageError& e) {
    CHECK(std::string(e.what()).find("unknown environment 'test/Countr-v0'") != std::string::npos);
    CHECK(std::string(e.what()).find("test/Counter-v0") != std::string::npos);
  }
}

TEST_CASE("registry: a malformed, duplicate or built-in id is refused at registration") {
  using rlmpi::env::RegistrationError;
  const auto make = [] { return std::make_unique<Counter>(); };
  for (const std::string& bad : std::vector<std::string>{"", "-v0", "Point Mass-v0", "a/b/c-v0", "/x-v0", "x/",
                                                         "ns.dot/x-v0", "x\n", "-rf", std::string(101, 'a')}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(rlmpi::register_env(bad, make), RegistrationError);
  }
  CHECK_THROWS_WITH_AS(rlmpi::register_env("CartPole-v1", make),
                       "rlmpi::register_env: 'CartPole-v1' is a built-in environment; choose another id",
                       RegistrationError);
  rlmpi::register_env("test/Twice-v1", [] { return std::make_unique<Counter>("test/Twice-v1"); });
  CHECK_THROWS_WITH_AS(rlmpi::register_env("test/Twice-v1", make),
                       "rlmpi::register_env: 'test/Twice-v1' is already registered", RegistrationError);
  CHECK_THROWS_AS(rlmpi::env::register_env("test/NoFactory-v0", {}), RegistrationError);
  // Ids in Gymnasium's grammar are accepted.
  for (const std::string& good : std::vector<std::string>{"Plain", "lab:x/Arm_2.b-v12", "9Lives-v0"})
    CHECK_NOTHROW(rlmpi::register_env(good, [good] { return std::make_unique<Counter>(good); }));
}

TEST_CASE("registry: a factory returning nothing or another id is a usage error when built") {
  rlmpi::env::register_env("test/Null-v0", [] { return std::unique_ptr<rlmpi::env::Env>(); });
  CHECK_THROWS_WITH_AS(make_env("test/Null-v0"),
                       "the factory registered for environment 'test/Null-v0' returned no environment",
                       rlmpi::UsageError);
  rlmpi::register_env("test/Liar-v0", [] { return std::make_unique<Counter>("test/Other-v0"); });
  CHECK_THROWS_WITH_AS(make_env("test/Liar-v0"),
                       "environment registered as 'test/Liar-v0' reports id 'test/Other-v0' (the id passed "
                       "to EnvBase must be the registered one)",
                       rlmpi::UsageError);
}
