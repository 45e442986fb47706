#include "golden_replay.hpp"

#include <bit>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "support/golden_file.hpp"
#include "support/json.hpp"
#include "support/test_paths.hpp"

namespace rlmpi::test {

namespace {

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// Distance in float32 ulps (both values must be float32-representable).
std::int64_t f32_ulps(double a, double b) {
  auto key = [](double v) {
    const auto i = std::bit_cast<std::int32_t>(static_cast<float>(v));
    return i >= 0 ? static_cast<std::int64_t>(i) : std::int64_t{INT32_MIN} - i;
  };
  const std::int64_t d = key(a) - key(b);
  return d < 0 ? -d : d;
}

std::vector<double> action_of(const json::Value& v) {
  if (v.is_number()) return {v.as_double()};
  return v.as_doubles();
}

}  // namespace

std::vector<GoldenCase> load_golden(const std::string& env_id) {
  const std::string path = golden_dir() + "/" + env_id + ".jsonl";
  const std::vector<json::Value> lines = read_golden_lines(env_id + ".jsonl", env_id);
  std::vector<GoldenCase> out;
  for (const json::Value& v : lines) {
    GoldenCase c;
    try {
      c.env = v["env"].as_string();
      c.case_id = v["case_id"].as_int();
      c.end = v.contains("end") ? v["end"].as_string() : "";
      c.init_state = v["init_state"].as_doubles();
      c.init_obs = v["init_obs"].as_doubles();
      for (const json::Value& a : v["actions"].as_array()) c.actions.push_back(action_of(a));
      c.obs = v["obs"].as_double_rows();
      c.rewards = v["rewards"].as_doubles();
      c.terminated = v["terminated"].as_bools();
      c.truncated = v["truncated"].as_bools();
      c.states = v["states"].as_double_rows();
      c.max_episode_steps = static_cast<int>(v["max_episode_steps"].as_int());
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": case " + std::to_string(out.size()) + ": " + e.what());
    }
    const std::size_t n = c.actions.size();
    if (c.obs.size() != n || c.rewards.size() != n || c.terminated.size() != n ||
        c.truncated.size() != n || c.states.size() != n)
      throw std::runtime_error(path + ": case " + std::to_string(c.case_id) +
                               ": per-step arrays differ in length");
    if (c.env != env_id)
      throw std::runtime_error(path + ": case " + std::to_string(c.case_id) + " is for " + c.env);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<GoldenCase> require_golden(const std::string& env_id) {
  try {
    return load_golden(env_id);
  } catch (const std::exception& e) {
    FAIL(std::string(e.what()));
  }
  return {};
}

ReplayResult replay_golden(env::Env& env, const GoldenCase& c, int init_obs_ulps) {
  ReplayResult r;
  const std::string where = c.env + " case " + std::to_string(c.case_id);
  auto fail = [&](const std::string& what) {
    r.ok = false;
    r.mismatch = where + ": " + what;
    return r;
  };
  auto compare_vec = [&](const std::string& what, const std::vector<double>& got,
                         const std::vector<double>& want, std::int64_t ulps) -> std::string {
    if (got.size() != want.size())
      return what + " has " + std::to_string(got.size()) + " values, golden " +
             std::to_string(want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      const bool ok = ulps == 0 ? same_bits(got[i], want[i]) : f32_ulps(got[i], want[i]) <= ulps;
      if (!ok)
        return what + "[" + std::to_string(i) + "] = " + num(got[i]) + ", golden " +
               num(want[i]) + " (diff " + num(got[i] - want[i]) + ")";
    }
    return {};
  };

  if (c.max_episode_steps != env.max_episode_steps())
    return fail("max_episode_steps " + std::to_string(env.max_episode_steps()) + ", golden " +
                std::to_string(c.max_episode_steps));
  env.set_state(c.init_state);
  std::vector<double> obs(static_cast<std::size_t>(env.obs_dim()));
  env.observe(obs);
  if (auto m = compare_vec("init_obs", obs, c.init_obs, init_obs_ulps); !m.empty()) return fail(m);
  if (auto m = compare_vec("init state()", env.state(), c.init_state, 0); !m.empty())
    return fail(m);

  for (std::size_t t = 0; t < c.actions.size(); ++t) {
    const std::string at = "step " + std::to_string(t) + " (action " +
                           (c.actions[t].empty() ? std::string("?") : num(c.actions[t][0])) +
                           "): ";
    env::StepResult s;
    try {
      s = env.step(c.actions[t], obs);
    } catch (const std::exception& e) {
      return fail(at + "step threw: " + e.what());
    }
    if (auto m = compare_vec("obs", obs, c.obs[t], 0); !m.empty()) return fail(at + m);
    if (!same_bits(s.reward, c.rewards[t]))
      return fail(at + "reward = " + num(s.reward) + ", golden " + num(c.rewards[t]));
    if (s.terminated != c.terminated[t])
      return fail(at + "terminated = " + std::to_string(s.terminated) + ", golden " +
                  std::to_string(c.terminated[t]));
    if (s.truncated != c.truncated[t])
      return fail(at + "truncated = " + std::to_string(s.truncated) + ", golden " +
                  std::to_string(c.truncated[t]));
    if (auto m = compare_vec("state", env.state(), c.states[t], 0); !m.empty())
      return fail(at + m);
    ++r.steps;
  }
  return r;
}

std::string golden_summary_text(const std::string& env_id, const ReplaySummary& s) {
  return env_id + ": " + std::to_string(s.cases - s.failed_cases) + "/" +
         std::to_string(s.cases) + " golden cases bit-exact, " + std::to_string(s.steps) +
         " steps matched" + (s.first_mismatch.empty() ? "" : "; first mismatch: " + s.first_mismatch);
}

}  // namespace rlmpi::test
