// Environment stepping throughput: steps per second of every registered environment with
// uniformly random valid actions (Discrete: uniform index; Box: uniform in [low, high]),
// resetting when an episode ends. Actions are drawn up front into a ring buffer so the timing
// covers step()/reset() only. Median of several repetitions.
//
// MuJoCo locomotion envs are ~100x slower per step: they run steps/50 per repetition (marked
// with *); tools/bench/bench_mujoco compares them with the raw mj_step rate.
//
// Usage: bench_env [steps_per_repetition=1000000] [repetitions=5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/env/mujoco_env.hpp"

namespace {

double median(std::vector<double> t) {
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

struct Result {
  double steps_per_s = 0;
  double episodes = 0;  // per repetition
};

Result bench(const std::string& id, long steps, int reps) {
  auto env = rlmpi::env::make_env(id);
  const auto& space = env->action_space();
  const auto act_dim = static_cast<std::size_t>(env->act_dim());
  constexpr std::size_t kRing = 1 << 16;
  std::vector<double> actions(kRing * act_dim);
  rlmpi::Rng rng(12345);
  for (std::size_t i = 0; i < kRing; ++i)
    for (std::size_t j = 0; j < act_dim; ++j)
      actions[i * act_dim + j] =
          space.is_discrete()
              ? static_cast<double>(rng.uniform_int(static_cast<std::uint64_t>(space.n)))
              : rng.uniform(space.low[j], space.high[j]);

  std::vector<double> obs(static_cast<std::size_t>(env->obs_dim()));
  std::vector<double> rates;
  double sink = 0;
  long episodes = 0;
  for (int r = 0; r < reps; ++r) {
    env->reset(static_cast<std::uint64_t>(r), obs);
    episodes = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (long t = 0; t < steps; ++t) {
      const std::span<const double> a(&actions[(static_cast<std::size_t>(t) % kRing) * act_dim],
                                      act_dim);
      const auto s = env->step(a, obs);
      sink += s.reward;
      if (s.terminated || s.truncated) {
        env->reset(obs);
        ++episodes;
      }
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(static_cast<double>(steps) / dt);
  }
  if (sink == 42.4242) std::puts("");  // keep the work observable
  return {median(rates), static_cast<double>(episodes)};
}

}  // namespace

int main(int argc, char** argv) {
  const long steps = argc > 1 ? std::atol(argv[1]) : 1000000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  if (steps <= 0 || reps <= 0) {
    std::fprintf(stderr, "usage: bench_env [steps_per_repetition>0] [repetitions>0]\n");
    return 2;
  }
  std::printf("bench_env: %ld steps x %d repetitions per env, median, random valid actions\n",
              steps, reps);
  std::printf("%-26s %14s %10s %12s\n", "env", "steps/s", "ns/step", "episodes/rep");
  for (const auto& info : rlmpi::env::list_envs()) {
    const bool physics =
        dynamic_cast<const rlmpi::env::MujocoEnv*>(rlmpi::env::make_env(info.id).get()) != nullptr;
    const long n = physics ? std::max(1L, steps / 50) : steps;
    const Result r = bench(info.id, n, reps);
    std::printf("%-26s %14.0f %10.1f %12.0f%s\n", info.id.c_str(), r.steps_per_s,
                1e9 / r.steps_per_s, r.episodes, physics ? " *" : "");
  }
  return 0;
}
