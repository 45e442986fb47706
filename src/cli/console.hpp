#pragma once
// The per-epoch table on stdout (rank 0): a chosen subset of the columns (the run file holds them
// all) and the epoch's wall time split into rollout / update / MPI / file writes.
#include <string>

#include "rlmpi/algo/trainer.hpp"

namespace rlmpi::cli {

// The header and one epoch's row, each a line ending in '\n' (printed by the caller once the
// epoch is durable).
std::string header_line(const algo::EpochResult& r);
std::string row_line(const algo::EpochResult& r);

}  // namespace rlmpi::cli
