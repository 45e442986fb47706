#pragma once
// Error types. A UsageError is bad user input (options, names, files): rlmpi prints its
// one-line message once and every rank exits with code 2. Anything else is a bug or a system
// failure and exits with code 1.
#include <stdexcept>
#include <string>

namespace rlmpi {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Exit codes of the rlmpi program (documented in the README).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitStoppedResumable = 3;

}  // namespace rlmpi
