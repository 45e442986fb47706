#pragma once
// Reading ../shared/golden JSONL files, shared by the classic and MuJoCo replay tests.
#include <string>
#include <vector>

#include "support/json.hpp"

namespace rlmpi::test {
// Every line of golden_dir()/<relative_path> parsed, for the environment `env_id`. Throws
// std::runtime_error naming the file and how to point the tests at the data when it is
// missing, unreadable or empty.
std::vector<json::Value> read_golden_lines(const std::string& relative_path, const std::string& env_id);
// Shortest text that reads back as exactly x (for mismatch messages).
std::string num(double x);
}  // namespace rlmpi::test
