#include "run_dir.hpp"

#include <ctime>
#include <filesystem>

#include "rlmpi/core/error.hpp"
#include "rlmpi/io/run_file.hpp"

namespace rlmpi::cli {
namespace fs = std::filesystem;
namespace {

std::string default_run_dir(const Config& cfg) {
  char stamp[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  return "runs/" + cfg.algo + "-" + cfg.env + "-s" + std::to_string(cfg.seed) + "-" + stamp;
}

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

}  // namespace

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

}  // namespace rlmpi::cli
