// doctest runner for tests that need MPI: every rank runs every test case; only rank 0
// reports successes, every rank reports failures, and the exit code is non-zero when any
// rank failed, so mpiexec fails the CTest test.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "rlmpi/mpi/comm.hpp"

int main(int argc, char** argv) {
  rlmpi::mpi::Session session(argc, argv);
  doctest::Context context(argc, argv);
  context.setOption("no-colors", true);
  if (session.world().rank() != 0) context.setOption("minimal", true);
  const int local = context.run();
  if (context.shouldExit()) return local;
  const double failed = session.world().allreduce_max(local != 0 ? 1.0 : 0.0);
  return failed > 0 ? 1 : 0;
}
