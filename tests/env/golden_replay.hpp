#pragma once
// Replays Gymnasium golden trajectories (shared/golden/<id>.jsonl) through an rlmpi env and
// compares every step bit for bit: observation, reward, terminated, truncated and state().
#include <cstdint>
#include <string>
#include <vector>

#include "rlmpi/env/env.hpp"

namespace rlmpi::test {

struct GoldenCase {
  std::string env;
  std::int64_t case_id = 0;
  std::string end;  // terminated / truncated / prefix / post_terminal
  std::vector<double> init_state;
  std::vector<double> init_obs;
  std::vector<std::vector<double>> actions;  // one vector per step
  std::vector<std::vector<double>> obs;
  std::vector<double> rewards;
  std::vector<bool> terminated;
  std::vector<bool> truncated;
  std::vector<std::vector<double>> states;
  int max_episode_steps = 0;
};

// Every case of <golden_dir>/<env_id>.jsonl. Throws std::runtime_error (naming the path) when
// the file is missing, empty or malformed.
std::vector<GoldenCase> load_golden(const std::string& env_id);
// load_golden, turning any error into a doctest FAIL with its message.
std::vector<GoldenCase> require_golden(const std::string& env_id);

struct ReplayResult {
  bool ok = true;
  std::size_t steps = 0;  // steps that matched exactly
  std::string mismatch;   // first difference: case, step, quantity, values
};

// set_state(init_state), observe() vs init_obs (up to init_obs_ulps float32 ulps), then every
// action, comparing bit for bit. Stops at the first mismatch.
ReplayResult replay_golden(env::Env& env, const GoldenCase& c, int init_obs_ulps = 0);

struct ReplaySummary {
  std::size_t cases = 0, failed_cases = 0, steps = 0;
  std::string first_mismatch;
};
// Replays every case, each on a fresh env from `make` (a callable returning unique_ptr<Env>).
template <class Make>
ReplaySummary replay_all(const std::vector<GoldenCase>& cases, Make make, int init_obs_ulps = 0) {
  ReplaySummary s;
  for (const GoldenCase& c : cases) {
    auto e = make();
    const ReplayResult r = replay_golden(*e, c, init_obs_ulps);
    ++s.cases;
    s.steps += r.steps;
    if (!r.ok) {
      ++s.failed_cases;
      if (s.first_mismatch.empty()) s.first_mismatch = r.mismatch;
    }
  }
  return s;
}

// Exact-replay test body: every case of the file must match; reports the counts.
template <class Make>
void check_golden_exact(const std::string& env_id, Make make, int init_obs_ulps = 0);

// Deliberately wrong physics: checks that the replay detects it (every case must fail).
template <class Make>
void check_golden_detects(const std::string& env_id, Make make);

std::string golden_summary_text(const std::string& env_id, const ReplaySummary& s);

}  // namespace rlmpi::test

#include <doctest/doctest.h>

namespace rlmpi::test {

template <class Make>
void check_golden_exact(const std::string& env_id, Make make, int init_obs_ulps) {
  const auto cases = require_golden(env_id);
  const ReplaySummary s = replay_all(cases, make, init_obs_ulps);
  MESSAGE(golden_summary_text(env_id, s));
  CHECK_MESSAGE(s.failed_cases == 0, s.first_mismatch);
  CHECK(s.cases > 0);
}

template <class Make>
void check_golden_detects(const std::string& env_id, Make make) {
  const auto cases = require_golden(env_id);
  const ReplaySummary s = replay_all(cases, make);
  INFO(golden_summary_text(env_id, s));
  CHECK(s.cases > 0);
  CHECK(s.failed_cases == s.cases);
}

}  // namespace rlmpi::test
