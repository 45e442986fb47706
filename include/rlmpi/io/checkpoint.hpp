#pragma once
// Checkpoint files: everything needed to continue a run bit for bit, written atomically (an
// in-memory HDF5 image goes to "<path>.tmp", is fsync'ed and renamed over <path>), so a
// checkpoint on disk is always complete, whatever moment the writer dies at.
//
// Layout (HDF5):
//   /                     attributes: rlmpi_file_format = "rlmpi-checkpoint-1", `meta`, and
//                                     checksum_crc32 (int64, see below)
//   /arrays/<name>        float64 [n]   state identical on all ranks (parameters, Adam moments, ...)
//   /ranks/<r>            int64 [k]     rank r's private state (RNG, environments) as raw bytes,
//                                       attribute `bytes` = its length
//
// Integrity. Every dataset is chunked with HDF5's Fletcher32 filter: HDF5 checks each chunk
// when it is read, so flipped data bytes make the read fail. checksum_crc32 is zlib's crc32 of
// a canonical serialisation of everything else: every root attribute but itself (sorted by
// name: name, type, value; numbers little-endian), then for every /arrays and /ranks dataset
// (sorted by name) its name, length and Fletcher32 flag, and the `bytes` attribute of the rank
// datasets. So a changed attribute, a dataset added, removed, resized or stripped of its filter
// is detected too. A checkpoint without checksum_crc32 (written before it existed, then also
// without Fletcher32) is accepted without these two checks; the range checks apply to all.
//
// Range checks on read (a violation is a corrupt checkpoint), where present:
//   epoch, total_steps         int64 >= 0
//   elapsed_seconds            float64, finite, >= 0
//   id.*                       strings without control characters; id.hid comma-separated
//                              layer widths in [1, 2^20]
//   every array                finite values only
//   <x>_adam.v                 Adam second moments: >= 0
//   <x>_adam.t                 Adam step count: one whole number in [0, 2^53]
//   obs_norm, ret_norm         normaliser state [count, mean[d], var[d]]: count >= 0, var >= 0
//   beta                       one value >= 0 (PPO-penalty coefficient)
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/io/attributes.hpp"

namespace rlmpi::io {

inline constexpr const char* kCheckpointFormat = "rlmpi-checkpoint-1";
inline constexpr const char* kCheckpointChecksumAttr = "checksum_crc32";

struct Checkpoint {
  Attributes meta;  // without rlmpi_file_format and checksum_crc32 (the writer adds them)
  std::vector<std::pair<std::string, std::vector<double>>> arrays;
  std::vector<std::string> rank_blobs;  // index = rank

  const AttrValue& attribute(const std::string& name) const;  // throws std::out_of_range
  const std::vector<double>& array(const std::string& name) const;
};

// Writes `c` to `path` atomically (replacing an older checkpoint), with the checksums above.
void write_checkpoint(const std::string& path, const Checkpoint& c);
// The bytes write_checkpoint(path, c) writes, for write_file_atomically (file_writer.hpp) on
// another thread; `path` only names the file in error messages.
std::vector<char> checkpoint_image(const std::string& path, const Checkpoint& c);
// Reads a checkpoint and verifies its checksums and ranges. A missing, truncated, corrupt,
// out-of-range or foreign file is rlmpi::UsageError whose one-line message names the path and
// the reason, e.g. "checkpoint 'run/checkpoint.h5' is corrupt or unreadable: attribute
// 'total_steps' is -5 (allowed: >= 0)".
Checkpoint read_checkpoint(const std::string& path);

// The message of a corrupt checkpoint: "checkpoint '<path>' is corrupt or unreadable: <reason>".
std::string corrupt_checkpoint_message(const std::string& path, const std::string& reason);

}  // namespace rlmpi::io
