// MuJoCo locomotion throughput: environment steps per second through rlmpi's Env interface
// (uniform random actions in [-1, 1], reset on termination/truncation), beside the raw
// mj_step rate of the same compiled model (random controls held for frame_skip substeps,
// mj_rnePostConstraint once per env step, reset every 1000 env steps: the loop of
// shared/golden/mujoco/README.md "Load test and speed"). Median of several repetitions.
//
// Usage: bench_mujoco [env_steps_per_repetition=20000] [repetitions=5] [id filter substring]
#include <mujoco/mujoco.h>  // the raw loop; rlmpi links libmujoco

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

using Clock = std::chrono::steady_clock;

double median(std::vector<double> t) {
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

struct Result {
  double env_steps_per_s = 0, episodes = 0;
  double mj_steps_per_s = 0, raw_env_steps_per_s = 0;
};

Result bench(const std::string& id, long steps, int reps) {
  Result res;
  auto env = rlmpi::env::make_env(id);
  const auto* mj = dynamic_cast<const rlmpi::env::MujocoEnv*>(env.get());
  const auto act_dim = static_cast<std::size_t>(env->act_dim());
  constexpr std::size_t kRing = 1 << 14;
  std::vector<double> actions(kRing * act_dim);
  rlmpi::Rng rng(12345);
  for (double& a : actions) a = rng.uniform(-1.0, 1.0);

  // Through the Env interface.
  std::vector<double> obs(static_cast<std::size_t>(env->obs_dim()));
  std::vector<double> rates;
  double sink = 0;
  long episodes = 0;
  for (int r = 0; r < reps; ++r) {
    env->reset(static_cast<std::uint64_t>(r), obs);
    episodes = 0;
    const auto t0 = Clock::now();
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
    rates.push_back(static_cast<double>(steps) / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  res.env_steps_per_s = median(rates);
  res.episodes = static_cast<double>(episodes);

  // Raw MuJoCo on the same model, own mjData.
  const mjModel* m = mj->model().get();
  mjData* d = mj_makeData(m);
  const int fs = mj->frame_skip();
  rates.clear();
  for (int r = 0; r < reps; ++r) {
    mj_resetData(m, d);
    mj_forward(m, d);
    const auto t0 = Clock::now();
    for (long t = 0; t < steps; ++t) {
      const double* a = &actions[(static_cast<std::size_t>(t) % kRing) * act_dim];
      for (int i = 0; i < m->nu; ++i) d->ctrl[i] = a[i];
      for (int k = 0; k < fs; ++k) mj_step(m, d);
      mj_rnePostConstraint(m, d);
      if ((t + 1) % 1000 == 0) {
        mj_resetData(m, d);
        mj_forward(m, d);
      }
    }
    rates.push_back(static_cast<double>(steps) * fs /
                    std::chrono::duration<double>(Clock::now() - t0).count());
    sink += d->qpos[0];
  }
  mj_deleteData(d);
  res.mj_steps_per_s = median(rates);
  res.raw_env_steps_per_s = res.mj_steps_per_s / fs;
  if (sink == 42.4242) std::puts("");  // keep the work observable
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  const long steps = argc > 1 ? std::atol(argv[1]) : 20000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string filter = argc > 3 ? argv[3] : "";
  if (steps <= 0 || reps <= 0) {
    std::fprintf(stderr, "usage: bench_mujoco [env_steps_per_repetition>0] [repetitions>0] [id filter]\n");
    return 2;
  }
  std::printf("bench_mujoco: %ld env steps x %d repetitions per env, median; MuJoCo %s\n", steps,
              reps, mj_versionString());
  std::printf("%-16s %12s %10s %12s %14s %10s %9s\n", "env", "env steps/s", "us/step",
              "mj_step/s", "raw env st/s", "Env/raw", "episodes");
  for (const auto& info : rlmpi::env::list_envs()) {
    if (!filter.empty() && info.id.find(filter) == std::string::npos) continue;
    auto probe = rlmpi::env::make_env(info.id);
    if (!dynamic_cast<const rlmpi::env::MujocoEnv*>(probe.get())) continue;
    const Result r = bench(info.id, steps, reps);
    std::printf("%-16s %12.0f %10.1f %12.0f %14.0f %9.0f%% %9.0f\n", info.id.c_str(),
                r.env_steps_per_s, 1e6 / r.env_steps_per_s, r.mj_steps_per_s,
                r.raw_env_steps_per_s, 100.0 * r.env_steps_per_s / r.raw_env_steps_per_s,
                r.episodes);
  }
  return 0;
}
