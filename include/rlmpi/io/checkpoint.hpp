#pragma once
// Checkpoint files: everything needed to continue a run bit for bit, written atomically (an
// in-memory HDF5 image goes to "<path>.tmp", is fsync'ed and renamed over <path>), so a
// checkpoint on disk is always complete, whatever moment the writer dies at.
//
// Layout (HDF5):
//   /                     attributes: rlmpi_file_format = "rlmpi-checkpoint-1" and `meta`
//   /arrays/<name>        float64 [n]   state identical on all ranks (parameters, Adam moments, ...)
//   /ranks/<r>            int64 [k]     rank r's private state (RNG, environments) as raw bytes,
//                                       attribute `bytes` = its length
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/io/attributes.hpp"

namespace rlmpi::io {

inline constexpr const char* kCheckpointFormat = "rlmpi-checkpoint-1";

struct Checkpoint {
  Attributes meta;
  std::vector<std::pair<std::string, std::vector<double>>> arrays;
  std::vector<std::string> rank_blobs;  // index = rank

  const AttrValue& attribute(const std::string& name) const;  // throws std::out_of_range
  const std::vector<double>& array(const std::string& name) const;
};

// Writes `c` to `path` atomically (replacing an older checkpoint).
void write_checkpoint(const std::string& path, const Checkpoint& c);
// Reads a checkpoint. A missing, truncated, corrupt or foreign file is rlmpi::UsageError whose
// one-line message names the path and the reason.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace rlmpi::io
