#pragma once
// The run directory (rank 0 only): where a run lives, whether it continues a checkpoint, and the
// lock that makes rank 0 its only writer.
#include <string>

#include "rlmpi/cli/config.hpp"
#include "rlmpi/cli/run_lock.hpp"

namespace rlmpi::cli {

inline constexpr const char* kRunFileName = "run.h5";
inline constexpr const char* kCheckpointName = "checkpoint.h5";
inline constexpr const char* kBestName = "best.h5";  // --eval-every: the best evaluated policy
inline constexpr const char* kStatusName = "status";  // one line: how the run stands, for shells

struct RunPlan {
  std::string dir, run_file, checkpoint;  // checkpoint: where this run writes, always dir/checkpoint.h5
  std::string resume_from;                // with resume: the checkpoint read (checkpoint.h5, best.h5, a kept one)
  bool resume = false;
};

// Read-only: the run file a resume with these options would continue (a checkpoint exists
// beside it), or "" when the run starts fresh. Nothing is created or locked.
std::string run_file_to_resume(const Options& cfg);

// Where the run lives and whether it continues a checkpoint, decided under the directory lock
// (taken before anything in the directory is read or removed). An existing run is never
// overwritten unless --force. Throws UsageError.
RunPlan plan_run_locked(const Options& cfg, RunLock& lock);

// Rank 0: replaces dir/status with one line, written whole (a temporary file renamed over it):
// "- running: ..." while the run goes on, "<exit code> <what happened>" once it has ended, so a
// batch script can tell a finished run from a launcher that returned 0 without running it.
// Best effort: a warning, never an exception (a full disk must not hide the run's own outcome).
void write_status(const std::string& dir, const std::string& line);

}  // namespace rlmpi::cli
