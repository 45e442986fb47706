#include "mujoco_golden.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "support/golden_file.hpp"
#include "support/json.hpp"
#include "support/test_paths.hpp"

namespace rlmpi::test {

namespace {

void append_terms(const json::Value& obj, Terms& out) {
  for (const auto& [k, v] : obj.as_object()) out.emplace_back(k, v.as_doubles());
}

// Compares element-wise, updates the max error, returns the first violation (empty if none).
std::string compare(const char* what, std::span<const double> got, std::span<const double> want,
                    double atol, double rtol, double& max_err, bool& exact) {
  if (got.size() != want.size())
    return std::string(what) + " has " + std::to_string(got.size()) + " values, golden " +
           std::to_string(want.size());
  std::string bad;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - want[i]);
    if (std::bit_cast<std::uint64_t>(got[i]) != std::bit_cast<std::uint64_t>(want[i]))
      exact = false;
    if (std::isnan(err)) {
      max_err = INFINITY;
    } else {
      max_err = std::max(max_err, err);
    }
    if (!(err <= atol + rtol * std::fabs(want[i])) && bad.empty())
      bad = std::string(what) + "[" + std::to_string(i) + "] = " + num(got[i]) + ", golden " +
            num(want[i]) + " (|err| " + num(err) + ")";
  }
  return bad;
}

}  // namespace

void ReplayStats::merge(const ReplayStats& o) {
  cases += o.cases;
  failed_cases += o.failed_cases;
  steps += o.steps;
  exact_steps += o.exact_steps;
  max_obs = std::max(max_obs, o.max_obs);
  max_qpos = std::max(max_qpos, o.max_qpos);
  max_qvel = std::max(max_qvel, o.max_qvel);
  max_reward = std::max(max_reward, o.max_reward);
  max_terms = std::max(max_terms, o.max_terms);
  if (first_failure.empty()) first_failure = o.first_failure;
}

std::string ReplayStats::summary() const {
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "%zu/%zu cases pass, %zu steps (%zu bit-exact in obs/qpos/qvel/reward/terms); "
                "max |err| obs %.3g qpos %.3g qvel %.3g reward %.3g terms %.3g",
                cases - failed_cases, cases, steps, exact_steps, max_obs, max_qpos, max_qvel,
                max_reward, max_terms);
  return std::string(buf) + (first_failure.empty() ? "" : "; first failure: " + first_failure);
}

std::vector<MjCase> load_mujoco_golden(const std::string& env_id) {
  const std::string path = golden_dir() + "/" + "mujoco/" + env_id + ".jsonl";
  const std::vector<json::Value> lines = read_golden_lines("mujoco/" + env_id + ".jsonl", env_id);
  std::vector<MjCase> out;
  for (const json::Value& v : lines) {
    MjCase c;
    try {
      c.env = v["env"].as_string();
      c.case_id = v["case_id"].as_int();
      c.init_source = v.contains("init_source") ? v["init_source"].as_string() : "";
      c.init_qpos = v["init_qpos"].as_doubles();
      c.init_qvel = v["init_qvel"].as_doubles();
      c.init_obs = v["init_obs"].as_doubles();
      c.actions = v["actions"].as_double_rows();
      c.obs = v["obs"].as_double_rows();
      c.qpos = v["qpos"].as_double_rows();
      c.qvel = v["qvel"].as_double_rows();
      c.rewards = v["rewards"].as_doubles();
      c.terminated = v["terminated"].as_bools();
      append_terms(v["reward_terms"], c.terms);
      append_terms(v["info"], c.terms);
      if (const json::Value* o = v.find("onestep")) {
        c.has_onestep = true;
        c.onestep_rewards = (*o)["rewards"].as_doubles();
        c.onestep_terminated = (*o)["terminated"].as_bools();
        append_terms((*o)["reward_terms"], c.onestep_terms);
        append_terms((*o)["info"], c.onestep_terms);
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": case " + std::to_string(out.size()) + ": " + e.what());
    }
    const std::size_t n = c.actions.size();
    bool ok = c.obs.size() == n && c.qpos.size() == n && c.qvel.size() == n &&
              c.rewards.size() == n && c.terminated.size() == n;
    for (const auto& t : c.terms) ok = ok && t.second.size() == n;
    if (c.has_onestep) {
      ok = ok && c.onestep_rewards.size() == n && c.onestep_terminated.size() == n;
      for (const auto& t : c.onestep_terms) ok = ok && t.second.size() == n;
    }
    if (!ok)
      throw std::runtime_error(path + ": case " + std::to_string(c.case_id) +
                               ": per-step arrays differ in length");
    if (c.env != env_id)
      throw std::runtime_error(path + ": case " + std::to_string(c.case_id) + " is for " + c.env);
    out.push_back(std::move(c));
  }
  return out;
}

ReplayStats replay_case(env::Env& env, const MjCase& c, ReplayMode mode, std::size_t horizon,
                        const Tolerance& tol) {
  ReplayStats s;
  s.cases = 1;
  const std::string where = c.env + " case " + std::to_string(c.case_id) +
                            (mode == ReplayMode::Rollout ? " (rollout)" : " (one-step)");
  auto fail = [&](const std::string& what) {
    if (s.first_failure.empty()) s.first_failure = where + ": " + what;
    s.failed_cases = 1;
  };
  const std::size_t nq = c.init_qpos.size();
  std::vector<double> obs(static_cast<std::size_t>(env.obs_dim()));
  std::vector<double> start;
  auto set_state = [&](const std::vector<double>& qpos, const std::vector<double>& qvel) {
    start.assign(qpos.begin(), qpos.end());
    start.insert(start.end(), qvel.begin(), qvel.end());
    env.set_state(start);
  };

  set_state(c.init_qpos, c.init_qvel);
  env.observe(obs);
  {
    bool exact = true;
    if (auto m = compare("init_obs", obs, c.init_obs, tol.vel_atol, tol.vel_rtol, s.max_obs, exact);
        !m.empty()) {
      fail(m);
      return s;
    }
  }

  const std::size_t n =
      mode == ReplayMode::Rollout && horizon > 0 ? std::min(horizon, c.steps()) : c.steps();
  for (std::size_t t = 0; t < n; ++t) {
    const bool onestep = mode == ReplayMode::OneStep;
    if (onestep && t > 0) set_state(c.qpos[t - 1], c.qvel[t - 1]);
    const bool alt = onestep && c.has_onestep;
    const std::vector<double>& rewards = alt ? c.onestep_rewards : c.rewards;
    const std::vector<bool>& terminated = alt ? c.onestep_terminated : c.terminated;
    const Terms& terms = alt ? c.onestep_terms : c.terms;

    env::StepResult r;
    try {
      r = env.step(c.actions[t], obs);
    } catch (const std::exception& e) {
      fail("step " + std::to_string(t) + " threw: " + e.what());
      return s;
    }
    ++s.steps;
    bool exact = true;
    std::vector<std::string> bad;
    const auto state = env.state();
    const std::span<const double> st(state);
    bad.push_back(compare("obs", obs, c.obs[t], tol.vel_atol, tol.vel_rtol, s.max_obs, exact));
    bad.push_back(compare("qpos", st.first(std::min(nq, st.size())), c.qpos[t], tol.qpos_atol,
                          tol.qpos_rtol, s.max_qpos, exact));
    bad.push_back(compare("qvel", st.subspan(std::min(nq, st.size())), c.qvel[t], tol.vel_atol,
                          tol.vel_rtol, s.max_qvel, exact));
    const double rw = r.reward;
    bad.push_back(compare("reward", {&rw, 1}, {&rewards[t], 1}, tol.rew_atol, tol.rew_rtol,
                          s.max_reward, exact));
    const auto info = env.info();
    for (const auto& [key, values] : terms) {
      const auto it = std::find_if(info.begin(), info.end(),
                                   [&](const env::InfoTerm& i) { return key == i.name; });
      if (it == info.end()) {
        bad.push_back("info term '" + key + "' missing");
        continue;
      }
      const double v = it->value;
      bad.push_back(compare(key.c_str(), {&v, 1}, {&values[t], 1}, tol.rew_atol, tol.rew_rtol,
                            s.max_terms, exact));
    }
    if (info.size() != terms.size())
      bad.push_back("env reports " + std::to_string(info.size()) + " info terms, golden " +
                    std::to_string(terms.size()));
    if (r.terminated != terminated[t])
      bad.push_back("terminated = " + std::to_string(r.terminated) + ", golden " +
                    std::to_string(terminated[t]));
    if (r.truncated) bad.push_back("truncated = 1");
    if (exact) ++s.exact_steps;
    for (const auto& m : bad)
      if (!m.empty()) {
        fail("step " + std::to_string(t) + ": " + m);
        return s;
      }
    if (!onestep && r.terminated) break;
  }
  return s;
}

ReplayStats replay_cases(const std::vector<MjCase>& cases,
                         const std::function<std::unique_ptr<env::Env>()>& make,
                         ReplayMode mode, std::size_t horizon, const Tolerance& tol) {
  ReplayStats all;
  for (const MjCase& c : cases) {
    const auto e = make();
    all.merge(replay_case(*e, c, mode, horizon, tol));
  }
  return all;
}

}  // namespace rlmpi::test
