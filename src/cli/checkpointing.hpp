#pragma once
// Checkpoints of a training run: what a checkpoint must agree on with the run that resumes it,
// writing one (collective), reading and checking one (rank 0) and handing every rank its state
// (collective).
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/algo/trainer.hpp"
#include "rlmpi/cli/config.hpp"
#include "rlmpi/io/checkpoint.hpp"
#include "rlmpi/mpi/comm.hpp"

namespace rlmpi::cli {

// What a checkpoint must agree on with the run that resumes it (option name, value).
std::vector<std::pair<std::string, std::string>> identity(const Options& cfg, const mpi::Comm& world);

// Collective: gathers every rank's state; rank 0 writes the checkpoint at `path`.
void save_checkpoint(const algo::Trainer& trainer, const std::string& path, const Options& cfg,
                     const mpi::Comm& world);
// Collective: the same checkpoint as bytes on rank 0 (empty on the other ranks), for
// io::write_file_atomically(path, ...) off the training path; `path` names it in errors.
std::vector<char> checkpoint_image(const algo::Trainer& trainer, const std::string& path, const Options& cfg,
                                   const mpi::Comm& world);
// Collective: its contents on rank 0 (empty on the other ranks), copied out of the trainer, for
// io::checkpoint_image on another thread.
io::Checkpoint checkpoint_contents(const algo::Trainer& trainer, const Options& cfg, const mpi::Comm& world);

// Rank 0, after `checkpoint` (in `dir`) was written for the epochs 0..last_epoch: with keep > 0
// it is also kept as dir/checkpoint-epoch<last_epoch>.h5 (a hard link, or a copy where links are
// impossible), and only the newest `keep` of those files (by epoch) stay. A failure is reported
// on stderr and does not stop the run: checkpoint.h5 itself is intact.
void keep_checkpoint_history(const std::string& dir, const std::string& checkpoint, int last_epoch, int keep);

// Rank 0: reads the checkpoint and checks it against this run (throws UsageError).
io::Checkpoint load_checkpoint(const std::string& path, const Options& cfg, const mpi::Comm& world);

// Collective: rank 0's checkpoint -> this rank's TrainerState (rank 0 broadcasts the shared part
// and scatters the per-rank parts).
algo::TrainerState distribute(const io::Checkpoint& c, const mpi::Comm& world);

}  // namespace rlmpi::cli
