#pragma once
// Graceful stop: while a StopSignals object lives, SIGTERM, SIGUSR1 and SIGINT only set a flag
// (async-signal-safe); the training loop polls it once per epoch, agrees across ranks and
// stops with a checkpoint. The previous handlers are restored on destruction.
#include <csignal>

namespace rlmpi {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal number received last, or 0.
  int received() const;

 private:
  struct sigaction old_[3];
};

}  // namespace rlmpi
