#include "run_dir.hpp"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "rlmpi/core/error.hpp"
#include "rlmpi/io/run_file.hpp"

namespace rlmpi::cli {
namespace fs = std::filesystem;
namespace {

// runs/<algo>-<env>-s<seed>-<time>, made here: two runs started in the same second get
// different directories (mkdir is atomic: -2, -3, ... are tried until one is new).
std::string make_default_run_dir(const Options& cfg) {
  char stamp[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  const std::string base = "runs/" + cfg.algo + "-" + cfg.env + "-s" + std::to_string(cfg.seed) + "-" + stamp;
  std::error_code ec;
  fs::create_directories("runs", ec);
  for (int n = 1; n < 1000; ++n) {
    const std::string dir = n == 1 ? base : base + "-" + std::to_string(n);
    if (fs::create_directory(dir, ec)) return dir;
    if (ec) throw UsageError("cannot create run directory '" + dir + "': " + ec.message());
  }
  throw UsageError("cannot create a new run directory next to '" + base + "' (allowed: --out DIR)");
}

// Rank 0: where the run lives and whether it continues a checkpoint. An existing run is never
// overwritten unless --force; nothing is deleted without it.
RunPlan plan_run(const Options& cfg) {
  RunPlan p;
  p.dir = cfg.out.empty() ? make_default_run_dir(cfg) : cfg.out;
  std::error_code ec;
  if (!cfg.resume.empty() && cfg.resume != "auto") {
    const fs::path r(cfg.resume);
    if (fs::is_directory(r, ec)) {
      p.dir = r.string();
      p.resume_from = (r / kCheckpointName).string();
    } else {
      p.resume_from = r.string();
      p.dir = r.has_parent_path() ? r.parent_path().string() : ".";
    }
    // Later checkpoints go to checkpoint.h5 whatever was read (best.h5 or a kept checkpoint stays).
    p.checkpoint = (fs::path(p.dir) / kCheckpointName).string();
    if (!fs::exists(p.resume_from, ec))
      throw UsageError("invalid value '" + cfg.resume + "' for --resume (no checkpoint at '" + p.resume_from +
                       "'; allowed: auto, a run directory or a checkpoint file)");
    // The run continues where its checkpoint is; --out elsewhere would be silently ignored.
    if (!cfg.out.empty() && !fs::equivalent(cfg.out, p.dir, ec))
      throw UsageError("--resume '" + cfg.resume + "' continues the run in '" + p.dir + "', not in --out '" + cfg.out +
                       "' (allowed: no --out, or --out " + p.dir + "; to branch a run, copy its directory first)");
    p.resume = true;
  } else if (cfg.resume == "auto" && fs::exists(fs::path(p.dir) / kCheckpointName, ec)) {
    p.checkpoint = p.resume_from = (fs::path(p.dir) / kCheckpointName).string();
    p.resume = true;
  }
  p.run_file = (fs::path(p.dir) / kRunFileName).string();
  if (!p.resume) {
    p.checkpoint = (fs::path(p.dir) / kCheckpointName).string();
    // A run killed (or out of disk) before its first checkpoint has nothing to continue from:
    // --resume auto starts it over (the run file is replaced: its epochs are recomputed
    // identically) instead of failing every SLURM requeue.
    const bool no_checkpoint_yet = cfg.resume == "auto" && !fs::exists(p.checkpoint, ec) && fs::exists(p.run_file, ec);
    if (no_checkpoint_yet && !cfg.force) {
      std::string held = "a run file";
      try {
        const io::RunData d = io::read_run_file(p.run_file);
        held = "a run file with " + std::to_string(d.epochs.empty() ? 0 : d.epochs.front().values.size()) + " epoch(s)";
      } catch (const UsageError&) {
        held = "an unreadable run file";
      }
      std::fprintf(stderr, "rlmpi: warning: '%s' holds %s but no checkpoint: --resume auto starts the run over\n",
                   p.dir.c_str(), held.c_str());
    }
    if (fs::exists(p.run_file, ec) || fs::exists(p.checkpoint, ec)) {
      if (!cfg.force && !no_checkpoint_yet)
        throw UsageError("run directory '" + p.dir +
                         "' already holds a run (allowed: --resume auto to continue it, --force to overwrite it, "
                         "or another --out)");
      fs::remove(p.run_file, ec);
      fs::remove(p.checkpoint, ec);
      fs::remove(fs::path(p.dir) / kBestName, ec);  // the old run's best policy is not this run's
      std::vector<fs::path> kept;  // nor its kept checkpoints (--keep-checkpoints)
      for (const auto& e : fs::directory_iterator(p.dir, ec))
        if (const std::string f = e.path().filename().string(); f.starts_with("checkpoint-epoch") && f.ends_with(".h5"))
          kept.push_back(e.path());
      for (const auto& k : kept) fs::remove(k, ec);
    }
    fs::create_directories(p.dir, ec);
    if (ec) throw UsageError("cannot create run directory '" + p.dir + "': " + ec.message());
  } else if (!fs::exists(p.run_file, ec)) {
    throw UsageError("cannot resume in '" + p.dir + "': the checkpoint is there but the run file '" + p.run_file +
                     "' is missing");
  }
  return p;
}

}  // namespace

void write_status(const std::string& dir, const std::string& line) {
  const fs::path target = fs::path(dir) / kStatusName, tmp = fs::path(dir) / (std::string(kStatusName) + ".tmp");
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  bool ok = f != nullptr && std::fprintf(f, "%s\n", line.c_str()) >= 0;
  if (f != nullptr) ok = std::fclose(f) == 0 && ok;
  std::error_code ec;
  if (ok) fs::rename(tmp, target, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    std::fprintf(stderr, "rlmpi: warning: cannot write '%s'\n", target.c_str());
  }
}

std::string run_file_to_resume(const Options& cfg) {
  std::error_code ec;
  fs::path dir;
  if (!cfg.resume.empty() && cfg.resume != "auto") {
    const fs::path r(cfg.resume);
    dir = fs::is_directory(r, ec) ? r : (r.has_parent_path() ? r.parent_path() : fs::path("."));
    if (!fs::exists(fs::is_directory(r, ec) ? r / kCheckpointName : r, ec)) return "";
  } else if (cfg.resume == "auto" && !cfg.out.empty() && fs::exists(fs::path(cfg.out) / kCheckpointName, ec)) {
    dir = cfg.out;
  } else {
    return "";
  }
  const fs::path run = dir / kRunFileName;
  return fs::exists(run, ec) ? run.string() : "";
}

// plan_run under the directory lock: the lock is taken before anything in the directory is
// read or removed.
RunPlan plan_run_locked(const Options& cfg, RunLock& lock) {
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

}  // namespace rlmpi::cli
