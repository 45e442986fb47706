#pragma once
// Paths the tests need, fixed at configure time (overridable through the environment).
#include <string>

namespace rlmpi::test {
// Directory of the Gymnasium golden data; env var RLMPI_GOLDEN_DIR overrides the CMake value.
std::string golden_dir();
std::string source_dir();
std::string binary_dir();
}  // namespace rlmpi::test
