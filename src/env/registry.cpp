// The registry of environment ids: one table, one line per id.
#include <string_view>

#include "rlmpi/core/error.hpp"
#include "rlmpi/env/acrobot.hpp"
#include "rlmpi/env/cartpole.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/env/locomotion.hpp"
#include "rlmpi/env/mountain_car.hpp"
#include "rlmpi/env/mountain_car_continuous.hpp"
#include "rlmpi/env/pendulum.hpp"

namespace rlmpi::env {

namespace {

struct Registration {
  std::string_view id;
  std::unique_ptr<Env> (*make)();  // builds the env with its default (Gymnasium) parameters
};

template <class E>
std::unique_ptr<Env> make_default() {
  return std::make_unique<E>();
}

template <class E, GymVersion V>
std::unique_ptr<Env> make_version() {
  return std::make_unique<E>(V);
}

// Add new environments here; list_envs() and error messages follow this order.
constexpr Registration kRegistry[] = {
    {"CartPole-v1", &make_default<CartPole>},
    {"Acrobot-v1", &make_default<Acrobot>},
    {"MountainCar-v0", &make_default<MountainCar>},
    {"MountainCarContinuous-v0", &make_default<MountainCarContinuous>},
    {"Pendulum-v1", &make_default<Pendulum>},
    {"HalfCheetah-v5", &make_version<HalfCheetah, GymVersion::v5>},
    {"Hopper-v5", &make_version<Hopper, GymVersion::v5>},
    {"Walker2d-v5", &make_version<Walker2d, GymVersion::v5>},
    {"Swimmer-v5", &make_version<Swimmer, GymVersion::v5>},
    {"Ant-v5", &make_version<Ant, GymVersion::v5>},
    {"HalfCheetah-v4", &make_version<HalfCheetah, GymVersion::v4>},
    {"Hopper-v4", &make_version<Hopper, GymVersion::v4>},
    {"Walker2d-v4", &make_version<Walker2d, GymVersion::v4>},
    {"Swimmer-v4", &make_version<Swimmer, GymVersion::v4>},
    {"Ant-v4", &make_version<Ant, GymVersion::v4>},
};

}  // namespace

std::unique_ptr<Env> make_env(const std::string& id) {
  for (const auto& r : kRegistry)
    if (r.id == id) return r.make();
  std::string valid;
  for (const auto& r : kRegistry) {
    if (!valid.empty()) valid += ", ";
    valid += r.id;
  }
  throw UsageError("unknown environment '" + id + "' (valid: " + valid + ")");
}

std::vector<EnvInfo> list_envs() {
  std::vector<EnvInfo> out;
  for (const auto& r : kRegistry) {
    const auto e = r.make();
    out.push_back({std::string(r.id), e->observation_space().to_string(),
                   e->action_space().to_string(), e->max_episode_steps()});
  }
  return out;
}

}  // namespace rlmpi::env
