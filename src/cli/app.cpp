#include "rlmpi/cli/app.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "rlmpi/algo/normalizer.hpp"
#include "rlmpi/algo/trainer.hpp"
#include "rlmpi/cli/run_lock.hpp"
#include "rlmpi/nn/policy.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/core/signals.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/io/checkpoint.hpp"
#include "rlmpi/io/run_file.hpp"
#include "rlmpi/mpi/watchdog.hpp"
#include "rlmpi/version.hpp"

namespace rlmpi::cli {
namespace fs = std::filesystem;

int agree_on_error(const mpi::Comm& world, int local_code, const std::string& message) {
  const int n = world.size();
  const int first_bad = static_cast<int>(world.allreduce_min(local_code != 0 ? world.rank() : n));
  if (first_bad == n) return 0;
  const int code = static_cast<int>(world.allreduce_max(local_code));
  if (world.rank() == first_bad) {
    std::fprintf(stderr, "rlmpi: error: %s\n", message.c_str());
    std::fflush(stderr);
  }
  return code;
}

int run_envs(const Config&, const mpi::Comm& world) {
  if (!world.is_root()) return kExitOk;
  const auto envs = env::list_envs();
  std::printf("%-26s %-10s %-44s %s\n", "id", "max_steps", "observation space", "action space");
  for (const auto& e : envs)
    std::printf("%-26s %-10d %-44s %s\n", e.id.c_str(), e.max_episode_steps, e.observation_space.c_str(),
                e.action_space.c_str());
  return kExitOk;
}

namespace {

constexpr const char* kRunFileName = "run.h5";
constexpr const char* kCheckpointName = "checkpoint.h5";

std::string default_run_dir(const Config& cfg) {
  char stamp[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  return "runs/" + cfg.algo + "-" + cfg.env + "-s" + std::to_string(cfg.seed) + "-" + stamp;
}

struct RunPlan {
  std::string dir, run_file, checkpoint;
  bool resume = false;
};

// Rank 0: where the run lives and whether it continues a checkpoint. An existing run is never
// overwritten unless --force; nothing is deleted without it.
RunPlan plan_run(const Config& cfg) {
  RunPlan p;
  p.dir = cfg.out.empty() ? default_run_dir(cfg) : cfg.out;
  std::error_code ec;
  if (!cfg.resume.empty() && cfg.resume != "auto") {
    const fs::path r(cfg.resume);
    if (fs::is_directory(r, ec)) {
      p.dir = r.string();
      p.checkpoint = (r / kCheckpointName).string();
    } else {
      p.checkpoint = r.string();
      p.dir = r.has_parent_path() ? r.parent_path().string() : ".";
    }
    if (!fs::exists(p.checkpoint, ec))
      throw UsageError("invalid value '" + cfg.resume + "' for --resume (no checkpoint at '" + p.checkpoint +
                       "'; allowed: auto, a run directory or a checkpoint file)");
    p.resume = true;
  } else if (cfg.resume == "auto" && fs::exists(fs::path(p.dir) / kCheckpointName, ec)) {
    p.checkpoint = (fs::path(p.dir) / kCheckpointName).string();
    p.resume = true;
  }
  p.run_file = (fs::path(p.dir) / kRunFileName).string();
  if (!p.resume) {
    p.checkpoint = (fs::path(p.dir) / kCheckpointName).string();
    // A run killed before its first checkpoint left no epoch behind: --resume auto restarts it.
    auto no_epochs = [](const std::string& f) {
      const io::RunData d = io::read_run_file(f);
      return d.epochs.empty() || d.epochs.front().values.empty();
    };
    const bool empty_run =
        cfg.resume == "auto" && !fs::exists(p.checkpoint, ec) && fs::exists(p.run_file, ec) && no_epochs(p.run_file);
    if (fs::exists(p.run_file, ec) || fs::exists(p.checkpoint, ec)) {
      if (!cfg.force && !empty_run)
        throw UsageError("run directory '" + p.dir +
                         "' already holds a run (allowed: --resume auto to continue it, --force to overwrite it, "
                         "or another --out)");
      fs::remove(p.run_file, ec);
      fs::remove(p.checkpoint, ec);
    }
    fs::create_directories(p.dir, ec);
    if (ec) throw UsageError("cannot create run directory '" + p.dir + "': " + ec.message());
  } else if (!fs::exists(p.run_file, ec)) {
    throw UsageError("cannot resume in '" + p.dir + "': the checkpoint is there but the run file '" + p.run_file +
                     "' is missing");
  }
  return p;
}

// plan_run under the directory lock: the lock is taken before anything in the directory is
// read or removed.
RunPlan plan_run_locked(const Config& cfg, RunLock& lock) {
  if (cfg.resume.empty() || cfg.resume == "auto") {
    if (!cfg.out.empty()) {  // lock before plan_run may remove an old run (--force)
      std::error_code ec;
      fs::create_directories(cfg.out, ec);
      if (ec) throw UsageError("cannot create run directory '" + cfg.out + "': " + ec.message());
      lock = RunLock(cfg.out);
      return plan_run(cfg);
    }
    RunPlan p = plan_run(cfg);  // a new timestamped directory
    lock = RunLock(p.dir);
    return p;
  }
  RunPlan p = plan_run(cfg);  // an explicit checkpoint: only reads, then lock its directory
  lock = RunLock(p.dir);
  return p;
}

// Option values as typed attributes: numbers as float64 (integers as int64), the rest as text.
io::AttrValue typed(const std::string& v) {
  if (v.empty()) return v;
  long long i = 0;
  auto [pi, ei] = std::from_chars(v.data(), v.data() + v.size(), i);
  if (ei == std::errc() && pi == v.data() + v.size()) return static_cast<std::int64_t>(i);
  double d = 0;
  auto [pd, ed] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ed == std::errc() && pd == v.data() + v.size()) return d;
  return v;
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string iso_time_now() {
  char buf[40];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

io::Attributes run_attributes(const Config& cfg, const mpi::Comm& world) {
  io::Attributes a = {{"algorithm", cfg.algo},
                      {"environment", cfg.env},
                      {"seed", static_cast<std::int64_t>(cfg.seed)},
                      {"num_ranks", static_cast<std::int64_t>(world.size())},
                      {"rlmpi_version", std::string(kVersion)},
                      {"git_commit", std::string(kGitCommit)},
                      {"host", host_name()},
                      {"start_time", iso_time_now()}};
  for (const auto& [k, v] : cfg.to_key_values()) a.emplace_back("config." + k, typed(v));
  return a;
}

// What a checkpoint must agree on with the run that resumes it.
std::vector<std::pair<std::string, std::string>> identity(const Config& cfg, const mpi::Comm& world) {
  std::string hid;
  for (int h : cfg.hid) hid += (hid.empty() ? "" : ",") + std::to_string(h);
  return {{"algo", cfg.algo},
          {"env", cfg.env},
          {"hid", hid},
          {"activation", cfg.activation},
          {"precision", cfg.precision},
          {"ppo-variant", cfg.ppo_variant},
          {"ranks", std::to_string(world.size())},
          {"envs-per-rank", std::to_string(cfg.envs_per_rank)},
          {"steps-per-epoch", std::to_string(cfg.steps_per_epoch)},
          {"epoch-end", cfg.epoch_end},
          {"seed", std::to_string(cfg.seed)}};
}

void save_checkpoint(const algo::Trainer& trainer, const std::string& path, const Config& cfg,
                     const mpi::Comm& world) {
  const algo::TrainerState st = trainer.state();
  std::vector<std::string> blobs = world.gather_bytes(st.rank_blob);
  if (!world.is_root()) return;
  io::Checkpoint c;
  for (const auto& [k, v] : identity(cfg, world)) c.meta.emplace_back("id." + k, v);
  c.meta.emplace_back("epoch", static_cast<std::int64_t>(st.epoch));
  c.meta.emplace_back("total_steps", static_cast<std::int64_t>(st.total_steps));
  c.meta.emplace_back("elapsed_seconds", st.elapsed_seconds);
  for (const auto& a : st.arrays) c.arrays.emplace_back(a.name, a.data);
  c.rank_blobs = std::move(blobs);
  io::write_checkpoint(path, c);
}

// Rank 0: reads and checks the checkpoint; returns it serialized for the broadcast.
io::Checkpoint load_checkpoint(const std::string& path, const Config& cfg, const mpi::Comm& world) {
  io::Checkpoint c = io::read_checkpoint(path);
  for (const auto& [k, v] : identity(cfg, world)) {
    std::string theirs;
    try {
      theirs = std::get<std::string>(c.attribute("id." + k));
    } catch (const std::exception&) {
      // Checkpoints from before --precision / --epoch-end existed were double / reset.
      if (k != "precision" && k != "epoch-end")
        throw UsageError("checkpoint '" + path + "' is corrupt or unreadable: no '" + k + "' recorded");
      theirs = k == "precision" ? "double" : "reset";
    }
    if (theirs != v)
      throw UsageError("cannot resume from '" + path + "': it was written with " + (k == "ranks" ? "" : "--") + k + " " +
                       theirs + ", this run has " + v + " (allowed: the same " + k + " as the checkpoint)");
  }
  if (c.rank_blobs.size() != static_cast<std::size_t>(world.size()))
    throw UsageError("checkpoint '" + path + "' is corrupt or unreadable: it holds " +
                     std::to_string(c.rank_blobs.size()) + " rank states");
  return c;
}

// Checkpoint -> this rank's TrainerState (collective: root broadcasts the shared part and
// scatters the per-rank parts).
algo::TrainerState distribute(const io::Checkpoint& c, const mpi::Comm& world) {
  std::string shared;
  if (world.is_root()) {
    auto put = [&](const void* p, std::size_t n) { shared.append(static_cast<const char*>(p), n); };
    const auto epoch = std::get<std::int64_t>(c.attribute("epoch"));
    const auto steps = std::get<std::int64_t>(c.attribute("total_steps"));
    const auto elapsed = std::get<double>(c.attribute("elapsed_seconds"));
    put(&epoch, sizeof epoch);
    put(&steps, sizeof steps);
    put(&elapsed, sizeof elapsed);
    for (const auto& [name, data] : c.arrays) {
      const std::uint64_t nl = name.size(), nd = data.size();
      put(&nl, sizeof nl);
      put(name.data(), nl);
      put(&nd, sizeof nd);
      put(data.data(), nd * sizeof(double));
    }
  }
  world.broadcast(shared);
  algo::TrainerState st;
  std::size_t pos = 0;
  auto get = [&](void* p, std::size_t n) {
    std::memcpy(p, shared.data() + pos, n);
    pos += n;
  };
  std::int64_t epoch = 0, steps = 0;
  get(&epoch, sizeof epoch);
  get(&steps, sizeof steps);
  get(&st.elapsed_seconds, sizeof st.elapsed_seconds);
  st.epoch = epoch;
  st.total_steps = steps;
  while (pos < shared.size()) {
    std::uint64_t nl = 0, nd = 0;
    get(&nl, sizeof nl);
    algo::NamedArray a;
    a.name.assign(shared.data() + pos, nl);
    pos += nl;
    get(&nd, sizeof nd);
    a.data.resize(nd);
    get(a.data.data(), nd * sizeof(double));
    st.arrays.push_back(std::move(a));
  }
  st.rank_blob = world.scatter_bytes(world.is_root() ? c.rank_blobs : std::vector<std::string>{});
  return st;
}

// Columns printed per epoch (the run file holds them all).
bool printed(const std::string& c) {
  for (const char* p : {"Epoch", "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "EpLen", "AverageVVals", "LossPi",
                        "LossV", "KL", "Entropy", "ClipFrac", "StopIter", "Beta", "BacktrackIters",
                        "TotalEnvInteracts", "StepsPerSecond", "Time"})
    if (c == p) return true;
  return false;
}

std::string short_name(const std::string& c) {
  if (c == "AverageEpRet") return "AvgEpRet";
  if (c == "AverageVVals") return "AvgVVals";
  if (c == "TotalEnvInteracts") return "EnvSteps";
  if (c == "StepsPerSecond") return "Steps/s";
  if (c == "BacktrackIters") return "Backtrack";
  return c;
}

// The epoch's wall time split into rollout / update / MPI / file writes, in percent.
constexpr const char* kShares[] = {"TimeRollout", "TimeUpdate", "TimeComm", "TimeIO"};
constexpr const char* kShareNames[] = {"Roll%", "Upd%", "Comm%", "IO%"};

void print_header(const algo::EpochResult& r) {
  for (const auto& [k, v] : r.stats)
    if (printed(k)) std::printf("%10s ", short_name(k).c_str());
  for (const char* n : kShareNames) std::printf("%5s ", n);
  std::printf("\n");
}

void print_row(const algo::EpochResult& r) {
  for (const auto& [k, v] : r.stats) {
    if (!printed(k)) continue;
    if (k == "Epoch" || k == "TotalEnvInteracts" || k == "StopIter" || k == "BacktrackIters")
      std::printf("%10.0f ", v);
    else
      std::printf("%10.4g ", v);
  }
  double total = 0;
  for (const char* k : kShares) total += r.get(k);
  for (const char* k : kShares) std::printf("%5.1f ", total > 0 ? 100 * r.get(k) / total : 0.0);
  std::printf("\n");
  std::fflush(stdout);
}

std::vector<int> parse_hid(const std::string& hid) {
  std::vector<int> out;
  for (std::size_t pos = 0; pos <= hid.size();) {
    const std::size_t comma = std::min(hid.find(',', pos), hid.size());
    out.push_back(std::stoi(hid.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

void append_to_run_file(io::RunFile& run, const algo::EpochResult& r, const algo::Trainer& trainer) {
  std::vector<long long> len(r.episode_length.begin(), r.episode_length.end());
  std::vector<int> rank(r.episode_rank.begin(), r.episode_rank.end());
  run.append_episodes(r.episode_return, len, rank, run.epochs());
  run.append_epoch(r.stats);
  for (const auto& a : trainer.normalizer_stats()) run.set_vector("normalizer", a.name, a.data);
  run.commit();
}

}  // namespace

int run_train(const Config& given, const mpi::Comm& world) {
  check_slurm_world_size(world.size());  // same verdict on every rank, before any collective
  const Config cfg = resolve_for_ranks(given, world.size());
  algo::Trainer trainer(cfg, world);      // throws UsageError on every rank alike, before any collective
  StopSignals signals;
  // Started before rank 0 touches the file system: a hung one is reported too.
  std::optional<mpi::Watchdog> watchdog;
  if (cfg.stall_timeout > 0 && world.size() > 1) watchdog.emplace(world, cfg.stall_timeout);

  // Rank 0 plans the run directory and reads the checkpoint; every rank learns the outcome.
  RunPlan plan;
  io::Checkpoint ckpt;
  std::optional<io::RunFile> run;
  RunLock lock;
  int code = 0;
  std::string message;
  if (world.is_root()) {
    try {
      plan = plan_run_locked(cfg, lock);
      if (plan.resume) ckpt = load_checkpoint(plan.checkpoint, cfg, world);
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  std::string resume_flag = plan.resume ? "1" : "0";
  world.broadcast(resume_flag);

  if (resume_flag == "1") {
    const algo::TrainerState st = distribute(ckpt, world);
    try {
      trainer.restore(st);
    } catch (const std::invalid_argument& e) {
      code = kExitUsage;
      message = std::string("cannot resume from the checkpoint: ") + e.what();
    }
    if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  }
  if (world.is_root()) {
    try {
      run = plan.resume ? io::RunFile::open_for_resume(plan.run_file, trainer.epoch())
                        : io::RunFile::create(plan.run_file, run_attributes(cfg, world));
      for (const char* c : {"Time", "TimeRollout", "TimeUpdate", "TimeComm", "TimeIO"}) run->set_units(c, "s");
      run->set_units("StepsPerSecond", "steps/s");
      run->set_units("UpdateGFLOPS", "GFLOP/s");
      run->set_units("TotalEnvInteracts", "steps");
      run->set_units("EpLen", "steps");
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;

  if (world.is_root()) {
    std::printf("rlmpi %s: %s on %s, %d rank(s) x %d env(s), seed %llu, epochs %d..%d of %d steps (%d per rank, "
                "epoch end: %s); run file %s\n",
                kVersion, cfg.algo.c_str(), cfg.env.c_str(), world.size(), cfg.envs_per_rank,
                static_cast<unsigned long long>(cfg.seed), trainer.epoch(), cfg.epochs - 1, cfg.steps_per_epoch,
                cfg.steps_per_epoch / world.size(), cfg.epoch_end.c_str(), plan.run_file.c_str());
    std::printf("Number of parameters: pi: %lld, v: %lld\n",
                static_cast<long long>(trainer.pi_params().size()), static_cast<long long>(trainer.v_params().size()));
    std::fflush(stdout);
  }
  int printed_rows = 0;
  while (trainer.epoch() < cfg.epochs) {
    const algo::EpochResult r = trainer.run_epoch();
    const bool last = trainer.epoch() == cfg.epochs;
    // One flag reduction per epoch: every rank stops after the same epoch.
    const bool stop = world.allreduce_max(signals.received() != 0 ? 1.0 : 0.0) > 0;
    const double io0 = MPI_Wtime();
    if (world.is_root()) append_to_run_file(*run, r, trainer);
    if (last || stop || trainer.epoch() % cfg.checkpoint_every == 0) save_checkpoint(trainer, plan.checkpoint, cfg, world);
    trainer.add_io_seconds(MPI_Wtime() - io0);
    if (world.is_root() && !cfg.quiet) {
      if (printed_rows++ % 25 == 0) print_header(r);
      print_row(r);
    }
    if (stop && !last) {
      if (world.is_root())
        std::fprintf(stderr, "rlmpi: stopped by a signal after epoch %d; resume with --resume auto --out %s\n",
                     trainer.epoch() - 1, plan.dir.c_str());
      return kExitStoppedResumable;
    }
  }
  return kExitOk;
}

int run_eval(const Config& cfg, const mpi::Comm& world) {
  // The policy of a run directory, run file or checkpoint.
  const fs::path p(cfg.eval_path);
  std::error_code ec;
  const std::string ckpt_path = fs::is_directory(p, ec)                 ? (p / kCheckpointName).string()
                                : p.filename() == kRunFileName         ? (p.parent_path() / kCheckpointName).string()
                                                                         : p.string();
  io::Checkpoint ckpt;
  Config run_cfg = cfg;
  int code = 0;
  std::string message;
  if (world.is_root()) {
    try {
      ckpt = io::read_checkpoint(ckpt_path);
      auto id = [&](const std::string& k) { return std::get<std::string>(ckpt.attribute("id." + k)); };
      run_cfg.algo = id("algo");
      run_cfg.env = id("env");
      run_cfg.activation = id("activation");
      run_cfg.hid = parse_hid(id("hid"));
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    } catch (const std::exception& e) {
      code = kExitUsage;
      message = "checkpoint '" + ckpt_path + "' is corrupt or unreadable: " + e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  std::string shared;
  if (world.is_root()) {
    std::string hid;
    for (int h : run_cfg.hid) hid += (hid.empty() ? "" : ",") + std::to_string(h);
    shared = run_cfg.env + "\n" + run_cfg.activation + "\n" + hid;
    const auto& params = ckpt.array("pi_params");
    shared += "\n";
    shared.append(reinterpret_cast<const char*>(params.data()), params.size() * sizeof(double));
  }
  world.broadcast(shared);
  // Observation statistics of a --normalize-obs run, frozen during evaluation.
  std::string norm_bytes;
  if (world.is_root()) {
    for (const auto& [name, data] : ckpt.arrays)
      if (name == "obs_norm") norm_bytes.assign(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(double));
  }
  world.broadcast(norm_bytes);
  std::size_t a = shared.find('\n'), b = shared.find('\n', a + 1), c = shared.find('\n', b + 1);
  run_cfg.env = shared.substr(0, a);
  run_cfg.activation = shared.substr(a + 1, b - a - 1);
  run_cfg.hid = parse_hid(shared.substr(b + 1, c - b - 1));
  const std::size_t n_params = (shared.size() - c - 1) / sizeof(double);

  std::unique_ptr<env::Env> e = env::make_env(run_cfg.env);
  const bool discrete = e->action_space().is_discrete();
  auto pi = nn::make_policy<Scalar>(discrete, e->obs_dim(), discrete ? e->action_space().n : e->act_dim(),
                                    run_cfg.hid, nn::parse_activation(run_cfg.activation));
  Vector params(static_cast<Index>(n_params));
  std::memcpy(params.data(), shared.data() + c + 1, n_params * sizeof(double));
  if (params.size() != pi->num_params())
    throw std::runtime_error("checkpoint policy has " + std::to_string(params.size()) + " parameters, expected " +
                             std::to_string(pi->num_params()));

  // Episodes split across ranks: rank r runs episodes r, r + size, ...
  Rng rng(Rng::rank_seed(cfg.seed, world.rank()) ^ 0x9E3779B97F4A7C15ULL);
  Matrix obs(1, e->obs_dim()), raw(1, e->obs_dim()), act(1, e->act_dim());
  algo::RunningNormalizer norm(norm_bytes.empty() ? 0 : e->obs_dim());
  if (!norm_bytes.empty()) {
    std::vector<double> st(norm_bytes.size() / sizeof(double));
    std::memcpy(st.data(), norm_bytes.data(), norm_bytes.size());
    norm.set_state(st);
  }
  auto observe = [&] {
    if (norm_bytes.empty()) obs = raw;
    else norm.normalize(raw.data(), obs.data());
  };
  std::vector<double> rets, lens;
  for (int ep = world.rank(); ep < cfg.eval_episodes; ep += world.size()) {
    e->reset(Rng::rank_seed(cfg.seed, 0) + static_cast<std::uint64_t>(ep) + 1000003,
             std::span<double>(raw.data(), static_cast<std::size_t>(raw.size())));
    double ret = 0, len = 0;
    for (;;) {
      observe();
      pi->forward(params, obs);
      if (cfg.deterministic) pi->mode(act);
      else pi->sample(rng, act);
      const env::StepResult r = e->step(std::span<const double>(act.data(), static_cast<std::size_t>(act.size())),
                                        std::span<double>(raw.data(), static_cast<std::size_t>(raw.size())));
      ret += r.reward;
      len += 1;
      if (r.terminated || r.truncated || len >= cfg.max_ep_len) break;
    }
    rets.push_back(ret);
    lens.push_back(len);
  }
  const std::span<const double> both[2] = {rets, lens};
  const auto st = world.stats(std::span<const std::span<const double>>(both, 2));
  if (world.is_root())
    std::printf("%s on %s, %lld episodes (%s): return mean %.6g std %.6g min %.6g max %.6g; length mean %.6g std %.6g "
                "min %.6g max %.6g\n",
                ckpt_path.c_str(), run_cfg.env.c_str(), st[0].count, cfg.deterministic ? "deterministic" : "stochastic",
                st[0].mean, st[0].std, st[0].min, st[0].max, st[1].mean, st[1].std, st[1].min, st[1].max);
  return kExitOk;
}

}  // namespace rlmpi::cli
