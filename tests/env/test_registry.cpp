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
