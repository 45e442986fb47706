#pragma once
// Run metadata: an ordered list of (name, value) pairs, stored as root attributes of a run file
// (strings as UTF-8 text, which h5py returns as `str`; doubles as float64; integers as int64).
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace rlmpi::io {

using AttrValue = std::variant<std::string, double, std::int64_t>;
using Attributes = std::vector<std::pair<std::string, AttrValue>>;

}  // namespace rlmpi::io
