#pragma once
// The per-epoch table on stdout (rank 0): a chosen subset of the columns (the run file holds them
// all) and the epoch's wall time split into rollout / update / MPI / file writes.
#include "rlmpi/algo/trainer.hpp"

namespace rlmpi::cli {

void print_header(const algo::EpochResult& r);
void print_row(const algo::EpochResult& r);

}  // namespace rlmpi::cli
