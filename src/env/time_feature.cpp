#include "rlmpi/env/time_feature.hpp"

#include <stdexcept>
#include <utility>

namespace rlmpi::env {

namespace {

Space with_feature(const Env& inner) {
  const Space& s = inner.observation_space();
  if (s.is_discrete())
    throw std::invalid_argument("a time feature needs a Box observation space (" + inner.id() + " has " +
                                s.to_string() + ")");
  if (inner.max_episode_steps() < 1)
    throw std::invalid_argument("a time feature needs a time limit (" + inner.id() + " has none)");
  std::vector<double> low = s.low, high = s.high;
  low.push_back(0.0);
  high.push_back(1.0);
  return Space::box(std::move(low), std::move(high));
}

}  // namespace

TimeFeature::TimeFeature(std::unique_ptr<Env> inner)
    : inner_(std::move(inner)), obs_space_(with_feature(*inner_)) {}

std::span<double> TimeFeature::head(std::span<double> obs) const {
  if (obs.size() != static_cast<std::size_t>(obs_space_.dim()))
    throw std::invalid_argument("observation buffer of " + std::to_string(obs.size()) + " values for " + id() +
                                " with --time-feature (expected " + std::to_string(obs_space_.dim()) + ")");
  return obs.first(obs.size() - 1);
}

double TimeFeature::feature() const {
  return 1.0 - static_cast<double>(elapsed_) / static_cast<double>(inner_->max_episode_steps());
}

void TimeFeature::reset(std::uint64_t seed, std::span<double> obs) {
  inner_->reset(seed, head(obs));
  elapsed_ = 0;
  obs.back() = feature();
}

void TimeFeature::reset(std::span<double> obs) {
  inner_->reset(head(obs));
  elapsed_ = 0;
  obs.back() = feature();
}

StepResult TimeFeature::step(std::span<const double> action, std::span<double> obs) {
  const StepResult r = inner_->step(action, head(obs));
  ++elapsed_;
  obs.back() = feature();
  return r;
}

void TimeFeature::set_state(std::span<const double> state) {
  inner_->set_state(state);
  elapsed_ = 0;
}

void TimeFeature::observe(std::span<double> obs) const {
  inner_->observe(head(obs));
  obs.back() = feature();
}

void TimeFeature::restore(const Snapshot& s) {
  inner_->restore(s);
  elapsed_ = s.elapsed_steps;
}

std::unique_ptr<Env> with_time_feature(std::unique_ptr<Env> env, bool on) {
  if (!on) return env;
  return std::make_unique<TimeFeature>(std::move(env));
}

}  // namespace rlmpi::env
