#include "rlmpi/cli/config.hpp"

#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/core/error.hpp"
#include "presets.hpp"
#include "run_config.hpp"

namespace rlmpi::cli {
namespace po = boost::program_options;

namespace {

// A value as quoted in a message: long ones are cut (a 10 MB value is not echoed whole).
std::string quoted(const std::string& value) {
  constexpr std::size_t kMax = 80;
  if (value.size() <= kMax) return "'" + value + "'";
  return "'" + value.substr(0, kMax) + "...' (" + std::to_string(value.size()) + " characters)";
}

[[noreturn]] void bad(const std::string& opt, const std::string& value, const std::string& allowed) {
  throw UsageError("invalid value " + quoted(value) + " for --" + opt + " (allowed: " + allowed + ")");
}

// An on/off value in a --config file.
bool parse_switch(const std::string& opt, const std::string& v) {
  std::string low;
  for (char ch : v) low += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (low == "true" || low == "1" || low == "yes" || low == "on") return true;
  if (low == "false" || low == "0" || low == "no" || low == "off") return false;
  bad(opt, v, "true, false, 1, 0, yes, no, on, off");
}

long long parse_integer(const std::string& opt, const std::string& s, long long lo, long long hi,
                        const std::string& allowed) {
  long long v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || p != end || v < lo || v > hi) bad(opt, s, allowed);
  return v;
}

int parse_positive_int(const std::string& opt, const std::string& s) {
  return static_cast<int>(
      parse_integer(opt, s, 1, std::numeric_limits<int>::max(), "an integer >= 1"));
}

int parse_nonnegative_int(const std::string& opt, const std::string& s) {
  return static_cast<int>(
      parse_integer(opt, s, 0, std::numeric_limits<int>::max(), "an integer >= 0"));
}

double parse_real(const std::string& opt, const std::string& s, double lo, double hi, bool lo_open,
                  const std::string& allowed) {
  double v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || p != end || !std::isfinite(v) || v < lo || v > hi ||
      (lo_open && v == lo))
    bad(opt, s, allowed);
  return v;
}

double parse_positive(const std::string& opt, const std::string& s) {
  return parse_real(opt, s, 0.0, std::numeric_limits<double>::max(), true, "a number > 0");
}

double parse_unit(const std::string& opt, const std::string& s) {
  return parse_real(opt, s, 0.0, 1.0, false, "a number in [0, 1]");
}

std::string parse_choice(const std::string& opt, const std::string& s,
                         std::initializer_list<const char*> choices) {
  std::string allowed;
  for (const char* c : choices) {
    if (s == c) return s;
    if (!allowed.empty()) allowed += ", ";
    allowed += c;
  }
  bad(opt, s, allowed);
}

// A duration in seconds: "3600", "90m", "8h", "2d", "1.5h", "HH:MM:SS", "MM:SS", "D-HH:MM:SS".
double parse_duration(const std::string& opt, const std::string& s) {
  const std::string allowed = "a duration > 0: seconds, 90m, 8h, 2d, [D-]HH:MM:SS or MM:SS, or off";
  auto number = [&](const std::string& t, bool integer) {
    double v = 0;
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || p != t.data() + t.size() || !(v >= 0) || !std::isfinite(v) ||
        (integer && v != std::floor(v)))
      bad(opt, s, allowed);
    return v;
  };
  double total = 0;
  if (s.find(':') != std::string::npos) {  // [D-]HH:MM:SS or MM:SS
    std::string rest = s;
    double days = 0;
    if (const auto dash = rest.find('-'); dash != std::string::npos) {
      days = number(rest.substr(0, dash), true);
      rest = rest.substr(dash + 1);
    }
    std::vector<double> parts;
    for (std::size_t start = 0;;) {
      const auto colon = rest.find(':', start);
      parts.push_back(number(rest.substr(start, colon - start), true));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (parts.size() < 2 || parts.size() > 3 || (days > 0 && parts.size() != 3)) bad(opt, s, allowed);
    double scale = 1;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it, scale *= 60) total += *it * scale;
    total += days * 86400;
  } else {
    const char unit = s.empty() ? '\0' : s.back();
    const double mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    total = mult > 0 ? number(s.substr(0, s.size() - 1), false) * mult : number(s, false);
  }
  if (!(total > 0) || total > 1e9) bad(opt, s, allowed);
  return total;
}

std::vector<int> parse_hidden(const std::string& opt, const std::string& s) {
  const std::string allowed = "comma-separated layer widths >= 1, e.g. 64,64";
  std::vector<int> out;
  std::size_t start = 0;
  if (s.empty()) bad(opt, s, allowed);
  while (true) {
    const std::size_t comma = s.find(',', start);
    const std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    long long v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || p != part.data() + part.size() || v < 1 || v > 1 << 20)
      bad(opt, s, allowed);
    out.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s;
}

// The shortest text that reads back as exactly v (0.99, not 0.98999999999999999).
std::string fmt(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// One row per option: name, default shown in --help, help text, how to apply a value.
struct OptionSpec {
  const char* group;
  const char* name;
  std::string help;
  std::function<void(Options&, const std::string&)> apply;
  std::function<std::string(const Options&)> show;
};

// On/off options (no value): name, help, member.
struct SwitchSpec {
  const char* name;
  const char* help;
  bool Options::*member;
};

const std::vector<SwitchSpec>& switch_table() {
  static const std::vector<SwitchSpec> table = {
      {"normalize-obs", "normalise observations by running mean/std merged across ranks each epoch (clip +-10)",
       &Options::normalize_obs},
      {"normalize-reward", "scale rewards by the running std of the discounted return", &Options::normalize_reward},
      {"anneal-lr", "decay the learning rates linearly to 0 over the epochs", &Options::anneal_lr},
      {"clip-vloss", "clipped value loss around the rollout values (uses --clip-ratio)", &Options::clip_vloss},
      {"scale-actions",
       "Box actions: the policy acts in [-1, 1] per dimension, scaled to the action space's bounds before the "
       "environment (its initial std then is relative to the range)",
       &Options::scale_actions},
      {"time-feature",
       "append the remaining time 1 - t / T to Box observations (sb3-contrib's TimeFeatureWrapper, used by "
       "rl-baselines3-zoo's tuned settings)",
       &Options::time_feature},
      {"skip-memory-check",
       "start even when the memory estimate exceeds what is available (an allocation that then fails ends the "
       "run with exit 1)",
       &Options::skip_memory_check},
      {"force", "overwrite an existing run in --out", &Options::force},
      {"allow-change", "on resume, accept changed options that alter the learning problem (recorded in /changes)",
       &Options::allow_change},
  };
  return table;
}

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = {
      {"Training", "algo", "algorithm: " + algo::algorithm_names(),
       [](Options& c, const std::string& v) {
         for (const auto& a : algo::algorithms())
           if (a.name == v) return void(c.algo = v);
         bad("algo", v, algo::algorithm_names());
       },
       [](const Options& c) { return c.algo; }},
      {"Training", "env", "environment id (list them with `rlmpi envs`)",
       [](Options& c, const std::string& v) {
         if (v.empty()) bad("env", v, "an environment id, see `rlmpi envs`");
         c.env = v;
       },
       [](const Options& c) { return c.env; }},
      {"Training", "seed", "base seed; rank r uses seed + 10000 r",
       [](Options& c, const std::string& v) {
         c.seed = static_cast<std::uint64_t>(
             parse_integer("seed", v, 0, std::numeric_limits<long long>::max(), "an integer >= 0"));
       },
       [](const Options& c) { return std::to_string(c.seed); }},
      {"Training", "epochs", "number of epochs",
       [](Options& c, const std::string& v) { c.epochs = parse_positive_int("epochs", v); },
       [](const Options& c) { return std::to_string(c.epochs); }},
      {"Training", "steps-per-epoch",
       "environment steps per epoch, summed over ranks (strong scaling; must divide by ranks x envs-per-rank)",
       [](Options& c, const std::string& v) { c.steps_per_epoch = parse_positive_int("steps-per-epoch", v); },
       [](const Options& c) { return std::to_string(c.steps_per_epoch); }},
      {"Training", "steps-per-rank",
       "environment steps per epoch on each rank (weak scaling: the batch is N x ranks); instead of "
       "--steps-per-epoch (0: off)",
       [](Options& c, const std::string& v) { c.steps_per_rank = parse_nonnegative_int("steps-per-rank", v); },
       [](const Options& c) { return std::to_string(c.steps_per_rank); }},
      {"Training", "epoch-end",
       "an episode running at the epoch end: continue (bootstrapped, then goes on in the next epoch) or reset (Spinning Up)",
       [](Options& c, const std::string& v) { c.epoch_end = parse_choice("epoch-end", v, {"continue", "reset"}); },
       [](const Options& c) { return c.epoch_end; }},
      {"Training", "max-ep-len", "episode length cap (truncates like a time limit)",
       [](Options& c, const std::string& v) { c.max_ep_len = parse_positive_int("max-ep-len", v); },
       [](const Options& c) { return std::to_string(c.max_ep_len); }},
      {"Training", "envs-per-rank", "environments stepped together on each rank (one batched forward per step)",
       [](Options& c, const std::string& v) { c.envs_per_rank = parse_positive_int("envs-per-rank", v); },
       [](const Options& c) { return std::to_string(c.envs_per_rank); }},
      {"Network", "hid", "hidden layer widths of policy and value nets",
       [](Options& c, const std::string& v) { c.hid = parse_hidden("hid", v); },
       [](const Options& c) { return join_ints(c.hid); }},
      {"Network", "activation", "hidden activation: tanh or relu",
       [](Options& c, const std::string& v) { c.activation = parse_choice("activation", v, {"tanh", "relu"}); },
       [](const Options& c) { return c.activation; }},
      {"Network", "precision", "network arithmetic: float or double (environments always step in double)",
       [](Options& c, const std::string& v) { c.precision = parse_choice("precision", v, {"double", "float"}); },
       [](const Options& c) { return c.precision; }},
      {"Network", "isa",
       "instruction set of the network kernels: auto (the best every rank's CPU runs), sse2, avx2 or avx512 "
       "(results differ between sets in the last bits)",
       [](Options& c, const std::string& v) { c.isa = parse_choice("isa", v, {"auto", "sse2", "avx2", "avx512"}); },
       [](const Options& c) { return c.isa; }},
      {"Network", "init-log-std", "initial log standard deviation of Gaussian policies (learned, state-independent)",
       [](Options& c, const std::string& v) {
         c.init_log_std = parse_real("init-log-std", v, -20.0, 5.0, false, "a number in [-20, 5]");
       },
       [](const Options& c) { return fmt(c.init_log_std); }},
      {"Network", "init", "weight init: default (PyTorch nn.Linear) or orthogonal (Baselines/CleanRL gains)",
       [](Options& c, const std::string& v) { c.init = parse_choice("init", v, {"default", "orthogonal"}); },
       [](const Options& c) { return c.init; }},
      {"Optimisation", "max-grad-norm", "clip the global gradient norm before each Adam step (0: off)",
       [](Options& c, const std::string& v) {
         c.max_grad_norm = parse_real("max-grad-norm", v, 0.0, std::numeric_limits<double>::max(), false, "a number >= 0");
       },
       [](const Options& c) { return fmt(c.max_grad_norm); }},
      {"Optimisation", "adam-eps", "Adam epsilon",
       [](Options& c, const std::string& v) { c.adam_eps = parse_positive("adam-eps", v); },
       [](const Options& c) { return fmt(c.adam_eps); }},
      {"Optimisation", "ent-coef", "entropy bonus coefficient in the policy loss (VPG, PPO)",
       [](Options& c, const std::string& v) {
         c.ent_coef = parse_real("ent-coef", v, 0.0, std::numeric_limits<double>::max(), false, "a number >= 0");
       },
       [](const Options& c) { return fmt(c.ent_coef); }},
      {"Optimisation", "gamma", "discount factor in [0, 1]",
       [](Options& c, const std::string& v) { c.gamma = parse_unit("gamma", v); },
       [](const Options& c) { return fmt(c.gamma); }},
      {"Optimisation", "lam", "GAE lambda in [0, 1]",
       [](Options& c, const std::string& v) { c.lam = parse_unit("lam", v); },
       [](const Options& c) { return fmt(c.lam); }},
      {"Optimisation", "pi-lr", "policy Adam learning rate (VPG, PPO)",
       [](Options& c, const std::string& v) { c.pi_lr = parse_positive("pi-lr", v); },
       [](const Options& c) { return fmt(c.pi_lr); }},
      {"Optimisation", "vf-lr", "value-function Adam learning rate",
       [](Options& c, const std::string& v) { c.vf_lr = parse_positive("vf-lr", v); },
       [](const Options& c) { return fmt(c.vf_lr); }},
      {"Optimisation", "train-pi-iters", "max policy steps per epoch (PPO)",
       [](Options& c, const std::string& v) { c.train_pi_iters = parse_positive_int("train-pi-iters", v); },
       [](const Options& c) { return std::to_string(c.train_pi_iters); }},
      {"Optimisation", "train-v-iters", "value-function steps per epoch",
       [](Options& c, const std::string& v) { c.train_v_iters = parse_nonnegative_int("train-v-iters", v); },
       [](const Options& c) { return std::to_string(c.train_v_iters); }},
      {"PPO", "ppo-variant", "clip (clipped surrogate) or penalty (adaptive KL penalty)",
       [](Options& c, const std::string& v) { c.ppo_variant = parse_choice("ppo-variant", v, {"clip", "penalty"}); },
       [](const Options& c) { return c.ppo_variant; }},
      {"PPO", "clip-ratio", "PPO clip epsilon in (0, 1)",
       [](Options& c, const std::string& v) {
         c.clip_ratio = parse_real("clip-ratio", v, 0.0, 1.0, true, "a number in (0, 1]");
       },
       [](const Options& c) { return fmt(c.clip_ratio); }},
      {"PPO", "target-kl", "PPO early-stop KL target (stop at 1.5x; 0: no early stop, as SB3 and CleanRL by default) / penalty d_targ",
       [](Options& c, const std::string& v) {
         c.target_kl = parse_real("target-kl", v, 0.0, std::numeric_limits<double>::max(), false,
                                  "a number >= 0; 0 turns the early stop off");
       },
       [](const Options& c) { return fmt(c.target_kl); }},
      {"PPO", "kl-coef", "PPO-penalty initial beta",
       [](Options& c, const std::string& v) { c.kl_coef = parse_positive("kl-coef", v); },
       [](const Options& c) { return fmt(c.kl_coef); }},
      {"PPO", "update-epochs", "0: Spinning Up full-batch steps; N > 0: N epochs of shuffled minibatches",
       [](Options& c, const std::string& v) { c.update_epochs = parse_nonnegative_int("update-epochs", v); },
       [](const Options& c) { return std::to_string(c.update_epochs); }},
      {"PPO", "minibatch-size", "minibatch size per rank with --update-epochs (0: 64)",
       [](Options& c, const std::string& v) { c.minibatch_size = parse_nonnegative_int("minibatch-size", v); },
       [](const Options& c) { return std::to_string(c.minibatch_size); }},
      {"PPO", "vf-update",
       "the critic's fit: full (train-v-iters full-batch steps after the policy, Spinning Up), minibatch (one step "
       "on each policy minibatch, the PPO paper, CleanRL, SB3) or auto (minibatch with --update-epochs)",
       [](Options& c, const std::string& v) { c.vf_update = parse_choice("vf-update", v, {"auto", "full", "minibatch"}); },
       [](const Options& c) { return c.vf_update; }},
      {"Optimisation", "norm-adv",
       "advantage normalisation: batch (mean/std over all ranks' batch, Spinning Up), minibatch (per PPO "
       "minibatch, SB3/CleanRL/RLtools; needs --update-epochs) or off",
       [](Options& c, const std::string& v) { c.norm_adv = parse_choice("norm-adv", v, {"batch", "minibatch", "off"}); },
       [](const Options& c) { return c.norm_adv; }},
      {"TRPO", "delta", "KL trust-region size",
       [](Options& c, const std::string& v) { c.delta = parse_positive("delta", v); },
       [](const Options& c) { return fmt(c.delta); }},
      {"TRPO", "cg-iters", "conjugate-gradient iterations",
       [](Options& c, const std::string& v) { c.cg_iters = parse_positive_int("cg-iters", v); },
       [](const Options& c) { return std::to_string(c.cg_iters); }},
      {"TRPO", "damping", "Fisher damping coefficient (>= 0)",
       [](Options& c, const std::string& v) {
         c.damping = parse_real("damping", v, 0.0, std::numeric_limits<double>::max(), false, "a number >= 0");
       },
       [](const Options& c) { return fmt(c.damping); }},
      {"TRPO", "backtrack-iters", "line-search steps",
       [](Options& c, const std::string& v) { c.backtrack_iters = parse_positive_int("backtrack-iters", v); },
       [](const Options& c) { return std::to_string(c.backtrack_iters); }},
      {"TRPO", "backtrack-coeff", "line-search shrink factor in (0, 1)",
       [](Options& c, const std::string& v) {
         c.backtrack_coeff = parse_real("backtrack-coeff", v, 0.0, 1.0, true, "a number in (0, 1]");
       },
       [](const Options& c) { return fmt(c.backtrack_coeff); }},
      {"Output", "out", "run directory (default runs/<algo>-<env>-s<seed>-<timestamp>)",
       [](Options& c, const std::string& v) {
         if (v.empty()) bad("out", v, "a directory path");
         c.out = v;
       },
       [](const Options& c) { return c.out; }},
      {"Output", "resume", "continue a run: 'auto' (if --out holds a checkpoint, else start), or a run directory or checkpoint file",
       [](Options& c, const std::string& v) {
         if (v.empty()) bad("resume", v, "auto, a run directory or a checkpoint file");
         c.resume = v;
       },
       [](const Options& c) { return c.resume; }},
      {"Output", "checkpoint-every", "epochs between checkpoints (a checkpoint is also written after the last epoch)",
       [](Options& c, const std::string& v) { c.checkpoint_every = parse_positive_int("checkpoint-every", v); },
       [](const Options& c) { return std::to_string(c.checkpoint_every); }},
      {"Output", "keep-checkpoints",
       "also keep the checkpoints of the newest N checkpointed epochs as checkpoint-epoch<E>.h5 next to "
       "checkpoint.h5 (hard links; resumable and evaluable); 0: only checkpoint.h5",
       [](Options& c, const std::string& v) { c.keep_checkpoints = parse_nonnegative_int("keep-checkpoints", v); },
       [](const Options& c) { return std::to_string(c.keep_checkpoints); }},
      {"Cluster", "stall-timeout",
       "abort the job when a rank stops answering or the others wait for it in MPI longer than this many seconds "
       "(0: off; choose more than one epoch's rollout)",
       [](Options& c, const std::string& v) {
         c.stall_timeout =
             parse_real("stall-timeout", v, 0.0, 1e9, false, "a number of seconds >= 0 (0: off)");
       },
       [](const Options& c) { return fmt(c.stall_timeout); }},
      {"Cluster", "time-limit",
       "wall-clock budget of this start: stop after the last epoch that fits (checkpoint written, exit 3, resume "
       "with --resume auto); seconds, 90m, 8h, 2d, [D-]HH:MM:SS or MM:SS as SLURM writes them; off: none",
       [](Options& c, const std::string& v) {
         if (v == "off") return void(c.time_limit.reset());
         c.time_limit = parse_duration("time-limit", v);
       },
       [](const Options& c) { return c.time_limit ? fmt(*c.time_limit) : std::string("off"); }},
      {"Evaluation", "eval-every",
       "every K epochs (and after the last), run --eval-episodes deterministic episodes on separate environments "
       "(the same start states every time), log them to /eval and keep the best policy in best.h5 (0: off)",
       [](Options& c, const std::string& v) { c.eval_every = parse_nonnegative_int("eval-every", v); },
       [](const Options& c) { return std::to_string(c.eval_every); }},
      {"Evaluation", "eval-episodes", "episodes per evaluation during training (split across ranks)",
       [](Options& c, const std::string& v) { c.eval_episodes = parse_positive_int("eval-episodes", v); },
       [](const Options& c) { return std::to_string(c.eval_episodes); }},
      {"Evaluation", "target-return",
       "stop when an evaluation's mean return reaches this (exit 0, recorded in the run file); needs --eval-every; "
       "off: never",
       [](Options& c, const std::string& v) {
         if (v == "off") return void(c.target_return.reset());
         c.target_return = parse_real("target-return", v, -1e300, 1e300, false, "a number, or off");
       },
       [](const Options& c) { return c.target_return ? fmt(*c.target_return) : std::string("off"); }},
  };
  return table;
}

std::string option_default(const OptionSpec& o) { return o.show(Options{}); }

// Options that act once, on the command line only: in a --config file they would fire at every
// start of the run (`force = 0` deleted a run).
constexpr const char* kCommandLineOnly[] = {"force", "resume", "help", "version", "config", "allow-change", "preset"};

bool command_line_only(const std::string& name) {
  for (const char* n : kCommandLineOnly)
    if (name == n) return true;
  return false;
}

// Options of `rlmpi eval` (besides the run): every other option belongs to training.
constexpr const char* kEvalOptions[] = {"episodes", "deterministic", "seed", "max-ep-len", "config", "quiet", "save"};
// Options that only eval uses.
constexpr const char* kEvalOnly[] = {"episodes", "deterministic", "save"};

template <std::size_t N>
bool listed(const char* const (&list)[N], const std::string& name) {
  for (const char* n : list)
    if (name == n) return true;
  return false;
}

// On the command line, switches take no value; in a --config file (for_ini) they take an on/off
// value, and the one-shot actions are not accepted.
po::options_description described_options(bool with_defaults, bool for_ini = false) {
  po::options_description all("Options");
  std::string group;
  std::vector<po::options_description> groups;
  for (const auto& o : option_table()) {
    if (for_ini && command_line_only(o.name)) continue;
    if (groups.empty() || group != o.group) {
      groups.emplace_back(o.group);
      group = o.group;
    }
    std::string help = o.help;
    if (with_defaults && !option_default(o).empty()) help += " [" + option_default(o) + "]";
    groups.back().add_options()(o.name, po::value<std::string>()->value_name("V"), help.c_str());
  }
  po::options_description general("General");
  if (!for_ini)
    general.add_options()("help,h", "print this help and exit")("version", "print the version and exit")(
        "config", po::value<std::string>()->value_name("FILE"),
        "read options from an INI file (key = value, same names; switches as key = true/false); the command "
        "line wins. force, resume, help, version, config and preset are command-line only. A run directory or "
        "run file gives that run's configuration (reproduce it: --config RUN/run.h5 --out NEW)")(
        "preset", po::value<std::string>()->value_name("NAME"),
        "load a preset, configs/<algo>/<env>.ini shipped with rlmpi (e.g. ppo/Hopper-v4); a --config file and "
        "the command line override its values");
  po::options_description switches("Switches");
  auto add_switch = [&](po::options_description& d, const char* name, const char* help) {
    if (for_ini) d.add_options()(name, po::value<std::string>(), help);
    else d.add_options()(name, help);
  };
  add_switch(general, "quiet", "do not print the per-epoch table");
  general.add_options()("episodes", po::value<std::string>()->value_name("N"), "eval: number of episodes [10]");
  general.add_options()("save", po::value<std::string>()->value_name("FILE"),
                        "eval: HDF5 file for the result (every episode, the options) [eval-<UTC time>.h5 beside the "
                        "checkpoint]");
  add_switch(general, "deterministic", "eval: act with the distribution's mode");
  for (const auto& sw : switch_table())
    if (!(for_ini && command_line_only(sw.name))) add_switch(switches, sw.name, sw.help);
  all.add(general);
  all.add(switches);
  for (auto& g : groups) all.add(g);
  return all;
}

// An option file's text ([algo] sections resolved, see resolve_sections) parsed with `ini_desc`,
// which must outlive the result (parsed_options points at it).
po::parsed_options parse_ini(const std::string& path, const std::string& resolved_text,
                             const po::options_description& ini_desc) {
  std::istringstream in(resolved_text);
  try {
    return po::parse_config_file(in, ini_desc, /*allow_unregistered=*/false);
  } catch (const po::unknown_option& e) {
    const std::string name = e.get_option_name();
    if (command_line_only(name))
      throw UsageError("option '" + name + "' in --config file " + quoted(path) +
                       " is command-line only (allowed in a file: every option of rlmpi --help but force, resume, "
                       "allow-change, help, version, config)");
    throw UsageError("unknown option " + quoted(name) + " in --config file " + quoted(path) +
                     " (see rlmpi --help for the allowed options)");
  } catch (const po::error& e) {
    throw UsageError("cannot parse --config file " + quoted(path) + ": " + e.what() +
                     " (allowed: lines 'name = value' with the long option names)");
  }
}

}  // namespace

Options merge_with_run(const Options& cfg, const std::vector<std::pair<std::string, std::string>>& stored,
                      std::vector<OptionChange>& changes) {
  // How the run is driven, not what it learns: free to change on resume, not recorded.
  constexpr const char* kOperational[] = {"epochs",     "out",           "resume",       "checkpoint-every",
                                          "stall-timeout", "quiet",      "eval-every", "eval-episodes",
                                          "target-return", "time-limit", "skip-memory-check", "isa",
                                          "keep-checkpoints"};
  // Part of the checkpoint's identity: a resume cannot change them at all.
  constexpr const char* kIdentity[] = {"algo",          "env",        "hid",           "activation",
                                       "precision",     "ppo-variant", "envs-per-rank", "steps-per-epoch",
                                       "steps-per-rank", "epoch-end", "seed",        "scale-actions"};
  // Options a run file may lack (older rlmpi): what those runs did.
  const std::pair<const char*, const char*> kOldDefaults[] = {{"epoch-end", "reset"}, {"precision", "double"},
                                                              {"steps-per-rank", "0"},   {"vf-update", "full"},
                                                              {"norm-adv", "batch"},     {"init-log-std", "-0.5"},
                                                              {"scale-actions", "0"}};
  auto stored_value = [&](const std::string& name) -> std::optional<std::string> {
    for (const auto& [k, v] : stored)
      if (k == name) return v;
    for (const auto& [k, v] : kOldDefaults)
      if (name == k) return std::string(v);
    return std::nullopt;
  };
  const auto given = [&](const std::string& name) {
    return std::find(cfg.given.begin(), cfg.given.end(), name) != cfg.given.end();
  };
  Options out = cfg;
  auto merge = [&](const std::string& name, auto apply, auto show) {
    if (listed(kOperational, name)) return;
    const auto old_text = stored_value(name);
    if (!old_text) return;  // an option newer than the run: keep this run's value
    Options old = cfg;
    try {
      apply(old, *old_text);
    } catch (const UsageError&) {
      throw UsageError("cannot resume: the run file stores an invalid value " + quoted(*old_text) + " for --" + name);
    }
    if (!given(name)) {
      apply(out, *old_text);
      return;
    }
    const std::string was = show(old), now = show(cfg);
    if (was == now) return;
    if (listed(kIdentity, name))
      throw UsageError("cannot resume with --" + name + " " + quoted(now) + ": the run was made with " + quoted(was) +
                       " (allowed: the run's own value; start a new run for another)");
    if (!cfg.allow_change)
      throw UsageError("--" + name + " " + quoted(now) + " differs from the run's " + quoted(was) +
                       " (allowed: leave it out to keep the run's value, or add --allow-change to continue with the "
                       "new value, recorded in the run file's /changes)");
    changes.push_back({name, was, now});
  };
  for (const auto& o : option_table()) merge(o.name, o.apply, o.show);
  for (const auto& sw : switch_table()) {
    if (command_line_only(sw.name)) continue;
    const auto member = sw.member;
    merge(
        sw.name, [&](Options& c, const std::string& v) { c.*member = parse_switch(sw.name, v); },
        [&](const Options& c) { return std::string(c.*member ? "1" : "0"); });
  }
  // --steps-per-epoch given alone replaces the run's per-rank batch and vice versa.
  if (given("steps-per-epoch") && !given("steps-per-rank")) out.steps_per_rank = 0;
  return out;
}

std::string help_text() {
  std::ostringstream os;
  os << "rlmpi: VPG, TRPO and PPO on MPI ranks, one HDF5 run file per run.\n\n"
        "Usage:\n"
        "  mpirun -np N rlmpi [train] [options]   train (default command)\n"
        "  rlmpi envs                             list environments with spaces and time limits\n"
        "  rlmpi eval RUN [--episodes N] [--deterministic]   evaluate a saved policy\n"
        "  rlmpi config RUN                       print a run's configuration as an INI file;\n"
        "                                         rlmpi --config RUN/run.h5 --out NEW reproduces the run\n\n"
     << described_options(true) << "\n"
     << "Exit codes: 0 done, 1 failure, 2 bad input, 3 stopped early by a signal (resumable).\n";
  return os.str();
}

std::string read_config_file(const std::string& path) {
  constexpr std::size_t kMaxBytes = 1 << 20;
  if (const std::string run_file = run_file_of(path); !run_file.empty()) return reproduce_ini(run_file);
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0)
    throw UsageError("cannot read --config file " + quoted(path) + ": " + std::strerror(errno) +
                     " (allowed: a readable INI file)");
  // Not a FIFO, a device or a directory: they block, never end or differ between readers.
  if (!S_ISREG(st.st_mode))
    throw UsageError("cannot read --config file " + quoted(path) + ": not a regular file (allowed: a readable INI file)");
  if (static_cast<std::size_t>(st.st_size) > kMaxBytes)
    throw UsageError("cannot read --config file " + quoted(path) + ": " + std::to_string(st.st_size) +
                     " bytes (allowed: an INI file of at most 1 MiB)");
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    throw UsageError("cannot read --config file " + quoted(path) + " (allowed: a readable INI file)");
  return text;
}

Options parse_command_line(int argc, const char* const* argv, const ConfigReader& read_config) {
  Options cfg;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (int i = 0; i < argc; ++i) {  // shell-quoted where needed, for the run file
    const std::string a = argv[i];
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    std::string q = "'";
    for (char ch : a) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    cfg.command_line += (i ? " " : "") + (plain ? a : q + "'");
  }

  // Subcommand: first argument that is not an option.
  if (!args.empty() && !args.front().empty() && args.front()[0] != '-') {
    const std::string cmd = args.front();
    args.erase(args.begin());
    if (cmd == "train") cfg.command = Command::Train;
    else if (cmd == "envs") cfg.command = Command::Envs;
    else if (cmd == "eval") cfg.command = Command::Eval;
    else if (cmd == "config") cfg.command = Command::Config;
    else
      throw UsageError("unknown command " + quoted(cmd) + " (allowed: train, envs, eval, config; options start with --)");
  }

  // "--epochs -3": join a value-taking option with the next argument even when that starts
  // with '-', so a negative number is reported as a bad value rather than an unknown option.
  // An empty value ("--env ''", "--env=") is reported by the option's own check.
  auto reject_empty = [&](const std::string& name) {
    if (name == "config") read_config("");
    if (name == "preset") (void)find_preset("");
    if (name == "episodes") (void)parse_positive_int("episodes", "");
    if (name == "save") bad("save", "", "a file path for the evaluation result");
    for (const auto& o : option_table())
      if (name == o.name) o.apply(cfg, "");
  };
  {
    std::vector<std::string> joined;
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      bool takes_value = a == "--config" || a == "--episodes" || a == "--preset" || a == "--save";
      for (const auto& o : option_table()) takes_value = takes_value || a == std::string("--") + o.name;
      if (a.starts_with("--") && a.ends_with("=")) reject_empty(a.substr(2, a.size() - 3));
      if (takes_value && i + 1 < args.size()) {
        if (args[i + 1].empty()) reject_empty(a.substr(2));
        joined.push_back(a + "=" + args[i + 1]);
        ++i;
      } else {
        joined.push_back(a);
      }
    }
    args = std::move(joined);
  }

  const po::options_description desc = described_options(false);
  po::positional_options_description positional;
  positional.add("eval-path", 1);
  po::options_description hidden;
  hidden.add_options()("eval-path", po::value<std::string>());
  po::options_description cmdline;
  cmdline.add(desc).add(hidden);

  po::variables_map vm, ini;
  try {
    auto parsed = po::command_line_parser(args)
                      .options(cmdline)
                      .positional(positional)
                      .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
                      .run();
    po::store(parsed, vm);
  } catch (const po::unknown_option& e) {
    throw UsageError("unknown option " + quoted(e.get_option_name()) + " (see rlmpi --help for the allowed options)");
  } catch (const po::invalid_command_line_syntax& e) {
    throw UsageError(std::string(e.what()) + " (see rlmpi --help)");
  } catch (const po::multiple_occurrences& e) {
    throw UsageError("option '" + e.get_option_name() + "' given more than once (allowed: once)");
  } catch (const po::too_many_positional_options_error&) {
    throw UsageError("unexpected extra argument (see rlmpi --help)");
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see rlmpi --help)");
  }

  if (vm.count("help")) {
    cfg.command = Command::Help;
    return cfg;
  }
  if (vm.count("version")) {
    cfg.command = Command::Version;
    return cfg;
  }
  const po::options_description ini_desc = described_options(false, true);
  // Option files: --config, then --preset; a value stored first wins (po::store keeps it), so
  // the command line > --config > --preset. [algo] sections follow the algorithm chosen by the
  // command line, else by the files' general part, else the default.
  std::string config_text, preset_text, preset_path;
  auto without_bom = [](std::string t) { return t.starts_with("\xEF\xBB\xBF") ? t.erase(0, 3) : t; };
  if (vm.count("config")) {
    cfg.config_file = vm["config"].as<std::string>();
    config_text = without_bom(read_config(cfg.config_file));
  }
  if (vm.count("preset")) {
    preset_path = find_preset(vm["preset"].as<std::string>());
    preset_text = without_bom(read_config(preset_path));
  }
  std::string algo_for_sections = cfg.algo;
  if (vm.count("algo")) algo_for_sections = vm["algo"].as<std::string>();
  else if (const auto a = general_value(config_text, "algo"); !a.empty()) algo_for_sections = a;
  else if (const auto b = general_value(preset_text, "algo"); !b.empty()) algo_for_sections = b;
  config_text = resolve_sections(config_text, algo_for_sections, cfg.config_file);
  preset_text = resolve_sections(preset_text, algo_for_sections, preset_path);
  // The batch is set by one of steps-per-epoch / steps-per-rank: the source that sets either
  // (command line, then --config, then --preset) decides, lower ones' batch lines are dropped.
  const std::vector<std::string> batch_keys = {"steps-per-epoch", "steps-per-rank"};
  if (vm.count("steps-per-epoch") || vm.count("steps-per-rank")) {
    config_text = drop_keys(config_text, batch_keys);
    preset_text = drop_keys(preset_text, batch_keys);
  } else if (drop_keys(config_text, batch_keys) != config_text) {
    preset_text = drop_keys(preset_text, batch_keys);
  }
  if (vm.count("config")) po::store(parse_ini(cfg.config_file, config_text, ini_desc), ini);
  if (vm.count("preset")) po::store(parse_ini(preset_path, preset_text, ini_desc), ini);
  if (vm.count("eval-path")) {
    if (cfg.command != Command::Eval && cfg.command != Command::Config)
      throw UsageError("unexpected argument " + quoted(vm["eval-path"].as<std::string>()) +
                       " (allowed: options starting with --, or the command train, envs, eval, config)");
    cfg.run_path = vm["eval-path"].as<std::string>();
  }

  // Options that would do nothing where they are given.
  for (const auto& [name, value] : vm) {
    if (name == "eval-path") continue;
    if (cfg.command == Command::Config)
      throw UsageError("option --" + name + " does nothing in rlmpi config (usage: rlmpi config RUN)");
    if (cfg.command == Command::Eval && !listed(kEvalOptions, name))
      throw UsageError("option --" + name + " does nothing in rlmpi eval: the policy, its environment and network "
                       "come from the run (allowed with eval: --episodes, --deterministic, --seed, --max-ep-len)");
    if (cfg.command == Command::Train && listed(kEvalOnly, name))
      throw UsageError("option --" + name + " is for rlmpi eval only (allowed in training: the options of "
                       "rlmpi --help outside 'eval:')");
  }
  for (const auto& [name, value] : ini)
    if (cfg.command == Command::Train && listed(kEvalOnly, name))
      throw UsageError("option '" + name + "' in --config file " + quoted(cfg.config_file) +
                       " is for rlmpi eval only (allowed in training: the options of rlmpi --help outside 'eval:')");

  for (const auto* m : {&vm, &ini})
    for (const auto& [name, value] : *m)
      if (name != "eval-path" && !listed(kCommandLineOnly, name)) cfg.given.push_back(name);
  // The command line wins over the file.
  auto given = [&](const char* name) -> const po::variable_value* {
    if (vm.count(name)) return &vm[name];
    if (ini.count(name)) return &ini[name];
    return nullptr;
  };
  for (const auto& o : option_table())
    if (const auto* v = given(o.name)) o.apply(cfg, v->as<std::string>());
  // A switch on the command line is on; in the file it says on or off.
  auto on = [&](const char* name, bool current) {
    if (vm.count(name)) return true;
    if (ini.count(name)) return parse_switch(name, ini[name].as<std::string>());
    return current;
  };
  cfg.quiet = on("quiet", cfg.quiet);
  for (const auto& sw : switch_table()) cfg.*sw.member = on(sw.name, cfg.*sw.member);
  cfg.deterministic = on("deterministic", cfg.deterministic);
  if (const auto* v = given("episodes")) cfg.eval_episodes = parse_positive_int("episodes", v->as<std::string>());
  if (const auto* v = given("save")) {
    cfg.eval_file = v->as<std::string>();
    if (cfg.eval_file.empty()) bad("save", "", "a file path for the evaluation result");
  }

  if (cfg.command == Command::Eval && cfg.run_path.empty())
    throw UsageError("rlmpi eval needs a run file or checkpoint (usage: rlmpi eval RUN [--episodes N])");
  if (cfg.command == Command::Config && cfg.run_path.empty())
    throw UsageError("rlmpi config needs a run directory or run file (usage: rlmpi config RUN)");
  if (cfg.target_return && cfg.eval_every == 0)
    throw UsageError("--target-return " + fmt(*cfg.target_return) +
                     " needs evaluations to compare with (allowed: together with --eval-every K > 0)");
  if (cfg.norm_adv == "minibatch" && (cfg.algo != "ppo" || cfg.update_epochs == 0))
    throw UsageError("invalid value 'minibatch' for --norm-adv (allowed: batch or off; minibatch only with --algo ppo "
                     "--update-epochs N > 0)");
  if (cfg.vf_update == "minibatch" && (cfg.algo != "ppo" || cfg.update_epochs == 0))
    throw UsageError("invalid value 'minibatch' for --vf-update (allowed: full or auto; minibatch only with --algo ppo "
                     "--update-epochs N > 0)");
  if (cfg.target_kl == 0 && cfg.algo == "ppo" && cfg.ppo_variant == "penalty")
    throw UsageError("invalid value '0' for --target-kl (allowed: a number > 0 with --ppo-variant penalty, whose beta "
                     "adapts to it; 0 turns off the early stop of --ppo-variant clip)");
  if (cfg.update_epochs == 0 && cfg.minibatch_size != 0)
    throw UsageError("invalid value '" + std::to_string(cfg.minibatch_size) +
                     "' for --minibatch-size (allowed: only together with --update-epochs N > 0)");
  if (given("steps-per-epoch") && given("steps-per-rank"))
    throw UsageError("--steps-per-epoch " + given("steps-per-epoch")->as<std::string>() + " and --steps-per-rank " +
                     given("steps-per-rank")->as<std::string>() + " given together (allowed: one of them)");
  return cfg;
}

std::vector<std::pair<std::string, std::string>> option_values(const Options& o) {
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& opt : option_table())
    if (!command_line_only(opt.name)) kv.emplace_back(opt.name, opt.show(o));
  for (const auto& sw : switch_table())
    if (!command_line_only(sw.name)) kv.emplace_back(sw.name, o.*sw.member ? "1" : "0");
  return kv;
}

}  // namespace rlmpi::cli
