#include "rlmpi/core/signals.hpp"

namespace rlmpi {
namespace {
// The only state a signal handler may touch.
volatile std::sig_atomic_t g_signal = 0;
constexpr int kSignals[3] = {SIGTERM, SIGUSR1, SIGINT};

extern "C" void on_stop_signal(int sig) { g_signal = sig; }
}  // namespace

StopSignals::StopSignals(Scope scope) : scope_(scope) {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // system calls (file writes) continue instead of failing with EINTR
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &old_[i]);
}

StopSignals::~StopSignals() {
  if (scope_ == Scope::UntilExit) return;
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &old_[i], nullptr);
}

int StopSignals::received() const { return g_signal; }

}  // namespace rlmpi
