#include "support/golden_file.hpp"

#include <charconv>
#include <exception>
#include <stdexcept>

#include "support/test_paths.hpp"

namespace rlmpi::test {

std::vector<json::Value> read_golden_lines(const std::string& relative_path, const std::string& env_id) {
  const std::string path = golden_dir() + "/" + relative_path;
  std::vector<json::Value> lines;
  try {
    lines = json::parse_jsonl_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error("golden data for " + env_id + " unavailable: " + e.what() +
                             " (set RLMPI_GOLDEN_DIR or the CMake cache variable)");
  }
  if (lines.empty()) throw std::runtime_error("golden file '" + path + "' holds no cases");
  return lines;
}

std::string num(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

}  // namespace rlmpi::test
