#pragma once
// Graceful stop: while a StopSignals object lives, SIGTERM, SIGUSR1 and SIGINT only set a flag
// (async-signal-safe); the training loop polls it once per epoch, agrees across ranks and
// stops with a checkpoint. The previous handlers are restored on destruction, unless the object
// was made with Scope::UntilExit: the program's own (rlmpi::main) stays installed until the process
// has exited, so a second signal while a stopped rank finishes exiting cannot kill it.
#include <csignal>

namespace rlmpi {

class StopSignals {
 public:
  enum class Scope { Object, UntilExit };
  explicit StopSignals(Scope scope = Scope::Object);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal number received last, or 0.
  int received() const;

 private:
  struct sigaction old_[3];
  Scope scope_;
};

}  // namespace rlmpi
