// Space, the Env convenience wrappers and EnvBase (TimeLimit, validation, snapshots).
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "rlmpi/env/env.hpp"
#include "rlmpi/env/env_base.hpp"

namespace rlmpi::env {

ActionScale ActionScale::of(const Space& s) {
  ActionScale a;
  if (s.is_discrete()) return a;
  for (std::size_t i = 0; i < s.low.size(); ++i) {
    const bool finite = std::isfinite(s.low[i]) && std::isfinite(s.high[i]);
    a.mid.push_back(finite ? 0.5 * (s.high[i] + s.low[i]) : 0.0);
    a.half_range.push_back(finite ? 0.5 * (s.high[i] - s.low[i]) : 1.0);
  }
  return a;
}

namespace {

// Shortest round-trip text of a double ("2", "0.5", "nan", "inf").
std::string number_text(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

// A bound as NumPy prints a float32 scalar: shortest float text with a ".0" on integers.
std::string bound_text(double x) {
  char buf[64];
  std::to_chars_result r{};
  if (std::isfinite(x) && detail::r32(x) == x)
    r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(x));
  else
    r = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // not for "inf"/"nan"/"1e+20"
  return s;
}

// Gymnasium's short_repr: a scalar when all bounds are equal, else the array.
std::string bounds_text(const std::vector<double>& v) {
  bool all_equal = !v.empty();
  for (double x : v) all_equal = all_equal && x == v.front();
  if (all_equal) return bound_text(v.front());
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ' ';
    s += bound_text(v[i]);
  }
  return s + "]";
}

}  // namespace

Space Space::discrete(int n) {
  if (n <= 0) throw std::invalid_argument("Space::discrete: n must be positive");
  Space s;
  s.kind = Kind::Discrete;
  s.n = n;
  return s;
}

Space Space::box(std::vector<double> low, std::vector<double> high) {
  if (low.size() != high.size() || low.empty())
    throw std::invalid_argument("Space::box: low and high must have the same, non-zero size");
  Space s;
  s.kind = Kind::Box;
  s.low = std::move(low);
  s.high = std::move(high);
  return s;
}

std::string Space::to_string() const {
  if (is_discrete()) return "Discrete(" + std::to_string(n) + ")";
  return "Box(" + bounds_text(low) + ", " + bounds_text(high) + ", (" +
         std::to_string(low.size()) + ",))";
}

std::vector<double> Env::reset(std::uint64_t seed) {
  std::vector<double> obs(static_cast<std::size_t>(obs_dim()));
  reset(seed, obs);
  return obs;
}

Env::Transition Env::step(std::span<const double> action) {
  Transition t;
  t.obs.resize(static_cast<std::size_t>(obs_dim()));
  const StepResult r = step(action, t.obs);
  t.reward = r.reward;
  t.terminated = r.terminated;
  t.truncated = r.truncated;
  return t;
}

// ---------------------------------------------------------------- EnvBase

EnvBase::EnvBase(std::string id, Space obs_space, Space act_space, int max_episode_steps,
                 int state_dim)
    : id_(std::move(id)),
      obs_space_(std::move(obs_space)),
      act_space_(std::move(act_space)),
      max_episode_steps_(max_episode_steps),
      state_dim_(static_cast<std::size_t>(state_dim)) {
  if (max_episode_steps <= 0)
    throw std::invalid_argument(id_ + ": max_episode_steps must be positive");
}

void EnvBase::check_obs(std::span<double> obs) const {
  if (obs.size() != static_cast<std::size_t>(obs_space_.dim()))
    throw std::invalid_argument(id_ + ": observation buffer has " + std::to_string(obs.size()) +
                                " values, expected " + std::to_string(obs_space_.dim()));
}

void EnvBase::check_action(std::span<const double> action) const {
  const auto dim = static_cast<std::size_t>(act_space_.dim());
  if (action.size() != dim)
    throw InvalidAction(id_ + ": action has " + std::to_string(action.size()) +
                        " values, expected " + std::to_string(dim) + " for " +
                        act_space_.to_string());
  if (act_space_.is_discrete()) {
    const double a = action[0];
    // Negated so that NaN fails too.
    if (!(a >= 0 && a < act_space_.n && a == std::trunc(a)))
      throw InvalidAction(id_ + ": invalid action " + number_text(a) + " for " +
                          act_space_.to_string() + " (allowed: an integer in [0, " +
                          std::to_string(act_space_.n - 1) + "])");
    return;
  }
  for (std::size_t i = 0; i < dim; ++i)
    if (std::isnan(action[i]))
      throw InvalidAction(id_ + ": invalid action nan at index " + std::to_string(i) + " for " +
                          act_space_.to_string() + " (allowed: any number; values outside [" +
                          number_text(act_space_.low[i]) + ", " +
                          number_text(act_space_.high[i]) + "] are clipped)");
}

void EnvBase::reset(std::uint64_t seed, std::span<double> obs) {
  check_obs(obs);
  rng_.seed_with(seed);
  reset(obs);
}

void EnvBase::reset(std::span<double> obs) {
  check_obs(obs);
  draw_initial_state();
  elapsed_ = 0;
  observe(obs);
}

StepResult EnvBase::step(std::span<const double> action, std::span<double> obs) {
  check_action(action);
  check_obs(obs);
  const Outcome o = advance(action);
  observe(obs);
  ++elapsed_;
  // TimeLimit: independent of `terminated`, both can be true on one step.
  return StepResult{o.reward, o.terminated, elapsed_ >= max_episode_steps_};
}

void EnvBase::set_state(std::span<const double> state) {
  if (state.size() != state_dim_)
    throw std::invalid_argument(id_ + ": set_state got " + std::to_string(state.size()) +
                                " values, expected " + std::to_string(state_dim_));
  assign_state(state);
  elapsed_ = 0;
}

Snapshot EnvBase::snapshot() const {
  Snapshot s;
  s.state = state();
  s.extra = extra();
  s.elapsed_steps = elapsed_;
  s.rng = rng_.state();
  return s;
}

void EnvBase::restore(const Snapshot& s) {
  if (s.state.size() != state_dim_ || s.extra.size() != extra_size() || s.elapsed_steps < 0)
    throw std::invalid_argument(id_ + ": snapshot does not belong to this environment");
  rng_.set_state(s.rng);
  assign_state(s.state);
  assign_extra(s.extra);
  elapsed_ = s.elapsed_steps;
}

}  // namespace rlmpi::env
