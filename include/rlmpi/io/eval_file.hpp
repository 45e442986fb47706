#pragma once
// The result of `rlmpi eval`: one small HDF5 file per evaluation.
//   /                 attributes: what was evaluated and how (checkpoint, env, episodes,
//                     deterministic, seed, max_ep_len, ranks, time, rlmpi version) +
//                     rlmpi_file_format = "rlmpi-eval-1"
//   /episodes/return  float64 [episodes]  undiscounted return of episode i (i = its seed index)
//   /episodes/length  int64   [episodes]  its length in steps
// Written whole, atomically (a reader never sees a partial file).
#include <span>
#include <string>

#include "rlmpi/io/attributes.hpp"

namespace rlmpi::io {

inline constexpr const char* kEvalFileFormat = "rlmpi-eval-1";

// Throws rlmpi::UsageError naming the path when it cannot be written.
void write_eval_file(const std::string& path, const Attributes& attrs, std::span<const double> returns,
                     std::span<const long long> lengths);

}  // namespace rlmpi::io
