// The registry of environment ids: one table of built-in ids, one line per id, then the ids a
// program adds with register_env().
#include <algorithm>
#include <mutex>
#include <string_view>
#include <utility>

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

struct UserRegistration {
  std::string id;
  EnvFactory make;
};

// Registrations made by the program that embeds rlmpi (rlmpi::register_env). Process-wide by
// necessity: the public contract is a free function called before rlmpi::main, the way
// Gymnasium's gymnasium.register works. Guarded so that registering from static initialisers
// or threads is safe; lookups copy the factory out.
struct UserRegistry {
  std::mutex mutex;
  std::vector<UserRegistration> entries;
};
UserRegistry& user_registry() {
  static UserRegistry registry;
  return registry;
}

std::vector<UserRegistration> user_entries() {
  auto& r = user_registry();
  const std::lock_guard lock(r.mutex);
  return r.entries;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':' || c == '.' || c == '-';
}
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Gymnasium's id grammar ([namespace/]name[-vN]) with a safe first character: an id that
// starts with '-' would read as an option on the command line.
std::string id_problem(std::string_view id) {
  if (id.empty()) return "it is empty";
  if (id.size() > 100) return "it is longer than 100 characters";
  std::string_view name = id;
  if (const auto slash = id.find('/'); slash != std::string_view::npos) {
    const std::string_view ns = id.substr(0, slash);
    name = id.substr(slash + 1);
    if (ns.empty() || !is_alnum(ns.front())) return "its namespace must start with a letter or digit";
    for (char c : ns)
      if (!is_name_char(c) || c == '.') return "its namespace may only hold letters, digits and '_:-'";
  }
  if (name.empty() || !is_alnum(name.front())) return "its name must start with a letter or digit";
  for (char c : name)
    if (!is_name_char(c)) return "it may only hold letters, digits, '_:.-' and one '/' after a namespace";
  return {};
}

}  // namespace

void register_env(std::string id, EnvFactory make) {
  if (const std::string problem = id_problem(id); !problem.empty())
    throw RegistrationError("rlmpi::register_env: malformed environment id '" + id + "': " + problem +
                            " (form: [namespace/]Name[-vN], e.g. 'PointMass-v0')");
  if (!make) throw RegistrationError("rlmpi::register_env: no factory given for '" + id + "'");
  for (const auto& r : kRegistry)
    if (r.id == id)
      throw RegistrationError("rlmpi::register_env: '" + id + "' is a built-in environment; choose another id");
  auto& reg = user_registry();
  const std::lock_guard lock(reg.mutex);
  if (std::any_of(reg.entries.begin(), reg.entries.end(), [&](const auto& e) { return e.id == id; }))
    throw RegistrationError("rlmpi::register_env: '" + id + "' is already registered");
  reg.entries.push_back({std::move(id), std::move(make)});
}

std::unique_ptr<Env> make_env(const std::string& id) {
  for (const auto& r : kRegistry)
    if (r.id == id) return r.make();
  const auto users = user_entries();
  for (const auto& u : users) {
    if (u.id != id) continue;
    std::unique_ptr<Env> e = u.make();
    if (!e) throw UsageError("the factory registered for environment '" + id + "' returned no environment");
    if (e->id() != id)
      throw UsageError("environment registered as '" + id + "' reports id '" + e->id() +
                       "' (the id passed to EnvBase must be the registered one)");
    return e;
  }
  std::string valid;
  for (const auto& r : kRegistry) {
    if (!valid.empty()) valid += ", ";
    valid += r.id;
  }
  for (const auto& u : users) valid += ", " + u.id;
  throw UsageError("unknown environment '" + id + "' (valid: " + valid + ")");
}

std::vector<EnvInfo> list_envs() {
  std::vector<EnvInfo> out;
  const auto add = [&out](const std::unique_ptr<Env>& e) {
    out.push_back({e->id(), e->observation_space().to_string(), e->action_space().to_string(),
                   e->max_episode_steps()});
  };
  for (const auto& r : kRegistry) add(r.make());
  for (const auto& u : user_entries()) add(make_env(u.id));
  return out;
}

}  // namespace rlmpi::env
