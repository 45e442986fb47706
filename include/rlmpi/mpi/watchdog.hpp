#pragma once
// Stall watchdog (--stall-timeout): a rank that stops answering (SIGSTOP, a dead node, a hung
// file system) must not leave the job waiting forever inside a collective.
//
// Each rank runs one background thread on its own duplicate of the communicator (so its
// messages never mix with the training's). Every `period` seconds the thread of rank r > 0
// sends rank 0 a heartbeat with what its main thread is doing (inside a collective since when,
// or computing), and rank 0's thread answers every rank with its own. Rank 0 aborts the job
// (MPI_Abort, exit 1) with a message naming the rank and host when
//   - a rank's heartbeat is older than the timeout (the process is stopped or gone), or
//   - some rank has waited inside a collective for longer than the timeout: the ranks that are
//     not inside one are what it waits for (stuck in the rollout, a file write, ...);
//     when every rank is inside one, the job is deadlocked and that is reported.
// A rank r > 0 that hears nothing from rank 0 for the timeout reports rank 0 (rank 1 does;
// the others wait twice as long, in case rank 1 is gone too).
//
// Needs MPI_THREAD_MULTIPLE (Session asks for it). Comm records the main thread's activity
// around every collective call (see Activity in comm.hpp).
#include <memory>

#include "rlmpi/mpi/comm.hpp"

namespace rlmpi::mpi {

class Watchdog {
 public:
  // Collective over `world` (duplicates it and exchanges host names). Throws UsageError when
  // the MPI library gives no MPI_THREAD_MULTIPLE or timeout_seconds <= 0.
  Watchdog(const Comm& world, double timeout_seconds);
  // Stops the thread (not collective: safe on every exit path).
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rlmpi::mpi
