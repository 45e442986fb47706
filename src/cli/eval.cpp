// `rlmpi eval RUN`: run a saved policy for some episodes, split across ranks.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <variant>

#include "rlmpi/algo/normalizer.hpp"
#include "rlmpi/cli/app.hpp"
#include "rlmpi/core/bytes.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/env/time_feature.hpp"
#include "rlmpi/io/checkpoint.hpp"
#include "rlmpi/io/eval_file.hpp"
#include "rlmpi/version.hpp"
#include "rlmpi/nn/policy.hpp"
#include "evaluation.hpp"
#include "run_dir.hpp"

namespace rlmpi::cli {
namespace fs = std::filesystem;
namespace {

UsageError corrupt(const std::string& path, const std::string& reason) {
  return UsageError(io::corrupt_checkpoint_message(path, reason));
}

// The checkpoint's id.hid as layer widths (read_checkpoint has checked its syntax already; this
// parses strictly all the same).
std::vector<int> parse_hid(const std::string& hid, const std::string& path) {
  std::vector<int> out;
  for (std::size_t start = 0;;) {
    const std::size_t comma = std::min(hid.find(',', start), hid.size());
    long long v = 0;
    const auto [p, ec] = std::from_chars(hid.data() + start, hid.data() + comma, v);
    if (comma == start || ec != std::errc() || p != hid.data() + comma || v < 1 || v > (1 << 20))
      throw corrupt(path, "attribute 'id.hid' is '" + hid + "' (allowed: comma-separated layer widths >= 1, e.g. 64,64)");
    out.push_back(static_cast<int>(v));
    if (comma == hid.size()) return out;
    start = comma + 1;
  }
}

}  // namespace

EvalSummary evaluate_policy(const PolicySpec& policy, int episodes, bool deterministic, std::uint64_t seed,
                            int max_ep_len, const mpi::Comm& world, const std::string& where) {
  std::unique_ptr<env::Env> e = env::with_time_feature(env::make_env(policy.env), policy.time_feature);
  const bool discrete = e->action_space().is_discrete();
  auto pi = nn::make_policy<Scalar>(discrete, e->obs_dim(), discrete ? e->action_space().n : e->act_dim(), policy.hid,
                                    nn::parse_activation(policy.activation));
  const Vector params = Eigen::Map<const Eigen::VectorXd>(policy.params.data(), static_cast<Index>(policy.params.size()));
  // Every rank alike (the same inputs): a UsageError here is agreed on in main.
  if (params.size() != pi->num_params())
    throw UsageError(where + ": the policy has " + std::to_string(params.size()) + " parameters, the policy of " +
                     policy.env + " with hid " + std::to_string(policy.hid.size()) + " layers has " +
                     std::to_string(pi->num_params()));
  const auto& norm_state = policy.obs_norm;
  if (!norm_state.empty() && norm_state.size() != 1 + 2 * static_cast<std::size_t>(e->obs_dim()))
    throw UsageError(where + ": the observation statistics have " + std::to_string(norm_state.size()) +
                     " values, expected " + std::to_string(1 + 2 * e->obs_dim()) + " for " + policy.env);

  // Episodes split across ranks: rank r runs episodes r, r + size, ...
  Rng rng(Rng::rank_seed(seed, world.rank()) ^ 0x9E3779B97F4A7C15ULL);
  Matrix obs(1, e->obs_dim()), raw(1, e->obs_dim()), act(1, e->act_dim());
  const env::ActionScale scale = policy.scale_actions ? env::ActionScale::of(e->action_space()) : env::ActionScale{};
  algo::RunningNormalizer norm(norm_state.empty() ? 0 : e->obs_dim());
  if (!norm_state.empty()) norm.set_state(norm_state);
  auto observe = [&] {
    if (norm_state.empty()) obs = raw;
    else norm.normalize(raw.data(), obs.data());
  };
  std::vector<double> rets, lens;
  for (int ep = world.rank(); ep < episodes; ep += world.size()) {
    e->reset(Rng::rank_seed(seed, 0) + static_cast<std::uint64_t>(ep) + 1000003,
             std::span<double>(raw.data(), static_cast<std::size_t>(raw.size())));
    double ret = 0, len = 0;
    for (;;) {
      observe();
      pi->forward(params, obs);
      if (deterministic) pi->mode(act);
      else pi->sample(rng, act);
      if (!scale.empty()) scale.apply(std::span<double>(act.data(), static_cast<std::size_t>(act.size())));
      const env::StepResult r = e->step(std::span<const double>(act.data(), static_cast<std::size_t>(act.size())),
                                        std::span<double>(raw.data(), static_cast<std::size_t>(raw.size())));
      ret += r.reward;
      len += 1;
      if (r.terminated || r.truncated || len >= max_ep_len) break;
    }
    rets.push_back(ret);
    lens.push_back(len);
  }
  const std::span<const double> both[2] = {rets, lens};
  const auto st = world.stats(std::span<const std::span<const double>>(both, 2));
  // Every episode in episode order: each rank fills its own slots, one sum puts them together.
  std::vector<double> all(2 * static_cast<std::size_t>(episodes), 0.0);
  for (std::size_t k = 0; k < rets.size(); ++k) {
    const std::size_t ep = static_cast<std::size_t>(world.rank()) + k * static_cast<std::size_t>(world.size());
    all[ep] = rets[k];
    all[static_cast<std::size_t>(episodes) + ep] = lens[k];
  }
  world.sum(std::span<double>(all));
  EvalSummary out{st[0].count, st[0].mean, st[0].std, st[0].min, st[0].max, st[1].mean, st[1].std, st[1].min,
                  st[1].max, {}, {}};
  out.returns.assign(all.begin(), all.begin() + episodes);
  out.lengths.assign(all.begin() + episodes, all.end());
  return out;
}

int run_eval(const Options& cfg, const mpi::Comm& world) {
  // The policy of a run directory, run file or checkpoint.
  const fs::path p(cfg.run_path);
  std::error_code ec;
  const std::string ckpt_path = fs::is_directory(p, ec)                 ? (p / kCheckpointName).string()
                                : p.filename() == kRunFileName         ? (p.parent_path() / kCheckpointName).string()
                                                                         : p.string();
  io::Checkpoint ckpt;
  Options run_cfg = cfg;
  int code = 0;
  std::string message;
  if (world.is_root()) {
    try {
      ckpt = io::read_checkpoint(ckpt_path);  // checksums, types and ranges (finite parameters, ...)
      auto id = [&](const std::string& k) -> std::string {
        for (const auto& [name, v] : ckpt.meta)
          if (name == "id." + k) {
            if (const auto* s = std::get_if<std::string>(&v)) return *s;
            throw corrupt(ckpt_path, "attribute 'id." + k + "' is not a string");
          }
        throw corrupt(ckpt_path, "attribute 'id." + k + "' is missing");
      };
      run_cfg.algo = id("algo");
      run_cfg.env = id("env");
      run_cfg.activation = id("activation");
      run_cfg.hid = parse_hid(id("hid"), ckpt_path);
      // Checkpoints from before --scale-actions / --time-feature have no such attribute: off.
      const auto flag = [&](const std::string& k) {
        for (const auto& [name, v] : ckpt.meta)
          if (name == "id." + k) return std::get_if<std::string>(&v) && *std::get_if<std::string>(&v) == "1";
        return false;
      };
      run_cfg.scale_actions = flag("scale-actions");
      run_cfg.time_feature = flag("time-feature");
      bool has_params = false;
      for (const auto& [name, data] : ckpt.arrays) has_params = has_params || name == "pi_params";
      if (!has_params) throw corrupt(ckpt_path, "array 'pi_params' is missing");
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    } catch (const std::exception& e) {
      code = kExitUsage;
      message = "checkpoint '" + ckpt_path + "' is corrupt or unreadable: " + e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  // Rank 0 shares what the checkpoint says about the policy: env, net shape, parameters and
  // the observation statistics of a --normalize-obs run (empty otherwise, frozen while evaluating).
  std::string shared;
  if (world.is_root()) {
    ByteWriter w;
    w.put_string(run_cfg.env);
    w.put_string(run_cfg.activation);
    w.put_vector(run_cfg.hid);
    w.put_vector(ckpt.array("pi_params"));
    std::vector<double> norm;
    for (const auto& [name, data] : ckpt.arrays)
      if (name == "obs_norm") norm = data;
    w.put_vector(norm);
    w.put(static_cast<std::uint8_t>(run_cfg.scale_actions ? 1 : 0));
    w.put(static_cast<std::uint8_t>(run_cfg.time_feature ? 1 : 0));
    shared = w.take();
  }
  world.broadcast(shared);
  ByteReader in(shared, "policy broadcast");
  run_cfg.env = in.get_string();
  run_cfg.activation = in.get_string();
  run_cfg.hid = in.get_vector<int>();
  const std::vector<double> param_values = in.get_vector<double>();
  const std::vector<double> norm_state = in.get_vector<double>();
  run_cfg.scale_actions = in.get<std::uint8_t>() != 0;
  run_cfg.time_feature = in.get<std::uint8_t>() != 0;

  PolicySpec policy{run_cfg.env, run_cfg.activation, run_cfg.hid, param_values, norm_state, run_cfg.scale_actions,
                    run_cfg.time_feature};
  const EvalSummary st = evaluate_policy(policy, cfg.eval_episodes, cfg.deterministic, cfg.seed, cfg.max_ep_len, world,
                                         "checkpoint '" + ckpt_path + "'");
  // The result, also as a file: every episode and the options used (rank 0 writes it).
  std::string out_path = cfg.eval_file;
  code = 0;
  message.clear();
  if (world.is_root()) {
    if (out_path.empty()) {
      char stamp[32];
      const std::time_t t = std::time(nullptr);
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
      out_path = (fs::path(ckpt_path).parent_path() / ("eval-" + std::string(stamp) + ".h5")).string();
    }
    std::vector<long long> lengths(st.lengths.begin(), st.lengths.end());
    try {
      io::write_eval_file(out_path,
                          {{"checkpoint", ckpt_path},
                           {"environment", run_cfg.env},
                           {"episodes", static_cast<std::int64_t>(st.episodes)},
                           {"deterministic", static_cast<std::int64_t>(cfg.deterministic ? 1 : 0)},
                           {"seed", static_cast<std::int64_t>(cfg.seed)},
                           {"max_ep_len", static_cast<std::int64_t>(cfg.max_ep_len)},
                           {"num_ranks", static_cast<std::int64_t>(world.size())},
                           {"return_mean", st.return_mean},
                           {"return_std", st.return_std},
                           {"command_line", cfg.command_line},
                           {"rlmpi_version", std::string(kVersion)}},
                          st.returns, lengths);
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  if (world.is_root())
    std::printf("%s on %s, %lld episodes (%s): return mean %.6g std %.6g min %.6g max %.6g; length mean %.6g std %.6g "
                "min %.6g max %.6g; written to %s\n",
                ckpt_path.c_str(), run_cfg.env.c_str(), st.episodes, cfg.deterministic ? "deterministic" : "stochastic",
                st.return_mean, st.return_std, st.return_min, st.return_max, st.length_mean, st.length_std,
                st.length_min, st.length_max, out_path.c_str());
  return kExitOk;
}

}  // namespace rlmpi::cli
