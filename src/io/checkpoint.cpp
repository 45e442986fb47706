#include "rlmpi/io/checkpoint.hpp"

#include <hdf5.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "rlmpi/core/error.hpp"
#include "rlmpi/io/hdf5.hpp"

namespace rlmpi::io {
namespace {
constexpr const char* kFormatAttr = "rlmpi_file_format";
}

const AttrValue& Checkpoint::attribute(const std::string& name) const {
  for (const auto& [k, v] : meta)
    if (k == name) return v;
  throw std::out_of_range("checkpoint has no attribute '" + name + "'");
}

const std::vector<double>& Checkpoint::array(const std::string& name) const {
  for (const auto& [k, v] : arrays)
    if (k == name) return v;
  throw std::out_of_range("checkpoint has no array '" + name + "'");
}

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  h5::ErrorSilencer quiet;
  const std::string what = "cannot write checkpoint '" + path + "'";
  h5::PropList fapl = h5::memory_fapl();
  // The in-memory file gets a unique name so nothing on disk is touched until the final rename.
  const std::string mem_name = path + ".mem";
  h5::File file(h5::check(H5Fcreate(mem_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), what));
  h5::write_attribute(file.get(), kFormatAttr, std::string(kCheckpointFormat));
  for (const auto& [k, v] : c.meta) h5::write_attribute(file.get(), k, v);
  {
    h5::Group arrays = h5::create_group(file.get(), "arrays");
    for (const auto& [name, values] : c.arrays) {
      h5::Dataset d = h5::create_extendable<double>(arrays.get(), name, 4096);
      h5::append<double>(d.get(), values);
    }
  }
  {
    h5::Group ranks = h5::create_group(file.get(), "ranks");
    for (std::size_t r = 0; r < c.rank_blobs.size(); ++r) {
      const std::string& blob = c.rank_blobs[r];
      std::vector<long long> words((blob.size() + 7) / 8, 0);
      if (!blob.empty()) std::memcpy(words.data(), blob.data(), blob.size());
      h5::Dataset d = h5::create_extendable<long long>(ranks.get(), std::to_string(r), 4096);
      h5::append<long long>(d.get(), words);
      h5::write_attribute(d.get(), "bytes", static_cast<std::int64_t>(blob.size()));
    }
  }
  h5::write_image_atomically(file.get(), path, what);
}

Checkpoint read_checkpoint(const std::string& path) {
  h5::ErrorSilencer quiet;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UsageError("checkpoint '" + path + "' does not exist");
  Checkpoint c;
  try {
    h5::PropList fapl = h5::unlocked_read_fapl();
    h5::File file(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), "HDF5 cannot open it"));
    if (H5Aexists(file.get(), kFormatAttr) <= 0) throw h5::Error("it is not an rlmpi checkpoint");
    const AttrValue format = h5::read_attribute(file.get(), kFormatAttr);
    if (!std::holds_alternative<std::string>(format) || std::get<std::string>(format) != kCheckpointFormat)
      throw h5::Error("unsupported checkpoint format");
    for (auto& [k, v] : h5::read_attributes(file.get()))
      if (k != kFormatAttr) c.meta.emplace_back(k, v);
    if (!h5::exists(file.get(), "arrays") || !h5::exists(file.get(), "ranks"))
      throw h5::Error("missing /arrays or /ranks");
    h5::Group arrays = h5::open_group(file.get(), "arrays");
    for (const auto& name : h5::child_names(arrays.get())) {
      h5::Dataset d = h5::open_dataset(arrays.get(), name);
      h5::require_type<double>(d.get(), "/arrays/" + name);
      c.arrays.emplace_back(name, h5::read_all<double>(d.get()));
    }
    h5::Group ranks = h5::open_group(file.get(), "ranks");
    const auto names = h5::child_names(ranks.get());
    c.rank_blobs.resize(names.size());
    for (std::size_t r = 0; r < names.size(); ++r) {
      const std::string name = std::to_string(r);
      if (!h5::exists(ranks.get(), name)) throw h5::Error("missing /ranks/" + name);
      h5::Dataset d = h5::open_dataset(ranks.get(), name);
      h5::require_type<long long>(d.get(), "/ranks/" + name);
      const std::vector<long long> words = h5::read_all<long long>(d.get());
      const AttrValue bytes = h5::read_attribute(d.get(), "bytes");
      const auto* n = std::get_if<std::int64_t>(&bytes);
      if (!n || *n < 0 || static_cast<std::size_t>(*n) > words.size() * 8)
        throw h5::Error("bad size of /ranks/" + name);
      c.rank_blobs[r].assign(reinterpret_cast<const char*>(words.data()), static_cast<std::size_t>(*n));
    }
  } catch (const h5::Error& e) {
    throw UsageError("checkpoint '" + path + "' is corrupt or unreadable: " + e.what());
  } catch (const std::runtime_error& e) {
    throw UsageError("checkpoint '" + path + "' is corrupt or unreadable: " + e.what());
  }
  return c;
}

}  // namespace rlmpi::io
