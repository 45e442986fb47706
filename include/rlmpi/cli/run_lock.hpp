#pragma once
// One writer per run directory: DIR/rlmpi.lock holds "job=<SLURM_JOB_ID or ->
// host=<hostname> pid=<pid>". Acquiring fails with UsageError while another live process owns
// it. A lock is stale, and is taken over with a warning on stderr, when its process is gone
// (same host, no such pid) or when it carries our own SLURM job id (a requeued job's earlier
// run). The lock is removed when the owner is destroyed.
#include <string>

namespace rlmpi::cli {

class RunLock {
 public:
  RunLock() = default;
  explicit RunLock(const std::string& dir);  // acquires; throws UsageError
  ~RunLock();
  RunLock(RunLock&& o) noexcept;
  RunLock& operator=(RunLock&& o) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;  // empty when not held
};

// Launch sanity under SLURM: if SLURM_NTASKS (or SLURM_NPROCS) is set and differs from the MPI
// world size (e.g. srun without PMIx starts N one-rank copies), throws UsageError.
void check_slurm_world_size(int world_size);

}  // namespace rlmpi::cli
