#include "rlmpi/core/signals.hpp"

#include <doctest/doctest.h>

#include <csignal>

using rlmpi::StopSignals;

namespace {
// Whether sig's current handler is `h` (compared here: doctest cannot print function pointers).
bool handler_is(int sig, void (*h)(int)) {
  struct sigaction now {};
  sigaction(sig, nullptr, &now);
  return now.sa_handler == h;
}
}  // namespace

TEST_CASE("StopSignals: TERM, USR1 and INT only set the flag, and the scope decides what follows") {
  struct sigaction before[3];
  const int sigs[3] = {SIGTERM, SIGUSR1, SIGINT};
  for (int i = 0; i < 3; ++i) sigaction(sigs[i], nullptr, &before[i]);
  {
    const StopSignals s;
    CHECK(s.received() == 0);
    std::raise(SIGUSR1);  // would end the test process with the default action
    CHECK(s.received() == SIGUSR1);
    std::raise(SIGTERM);
    CHECK(s.received() == SIGTERM);
  }
  for (int i = 0; i < 3; ++i) CHECK(handler_is(sigs[i], before[i].sa_handler));  // restored
  {
    const StopSignals s(StopSignals::Scope::UntilExit);
    CHECK(s.received() == 0);  // a new object starts clean
  }
  // The program's scope: still installed after the object is gone, so a late signal is harmless.
  for (int i = 0; i < 3; ++i) CHECK(!handler_is(sigs[i], before[i].sa_handler));
  std::raise(SIGUSR1);
  CHECK(true);  // still alive
  for (int i = 0; i < 3; ++i) sigaction(sigs[i], &before[i], nullptr);
}
