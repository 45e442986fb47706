#include "support/test_paths.hpp"

#include <cstdlib>

namespace rlmpi::test {
std::string golden_dir() {
  if (const char* e = std::getenv("RLMPI_GOLDEN_DIR"); e && *e) return e;
  return RLMPI_GOLDEN_DIR;
}
std::string source_dir() { return RLMPI_SOURCE_DIR; }
std::string binary_dir() { return RLMPI_BINARY_DIR; }
}  // namespace rlmpi::test
