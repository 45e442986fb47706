#include "rlmpi/io/checkpoint.hpp"

#include "rlmpi/io/file_writer.hpp"

#include <hdf5.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "rlmpi/core/error.hpp"
#include "rlmpi/io/hdf5.hpp"

namespace rlmpi::io {
namespace {
constexpr const char* kFormatAttr = "rlmpi_file_format";

// ---- checksum of the attributes and the dataset directory (see the header)

// zlib's crc32 over a byte stream; numbers enter little-endian whatever the host order.
class Crc32 {
 public:
  void bytes(const void* p, std::size_t n) {
    if (n > 0) crc_ = crc32_z(crc_, static_cast<const Bytef*>(p), n);  // (a null buffer would reset it)
  }
  void u64(std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(b, sizeof b);
  }
  void str(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  void value(const AttrValue& v) {
    if (const auto* s = std::get_if<std::string>(&v)) {
      str("s");
      str(*s);
    } else if (const auto* d = std::get_if<double>(&v)) {
      str("d");
      u64(std::bit_cast<std::uint64_t>(*d));
    } else {
      str("i");
      u64(static_cast<std::uint64_t>(std::get<std::int64_t>(v)));
    }
  }
  std::uint32_t result() const { return static_cast<std::uint32_t>(crc_); }

 private:
  uLong crc_ = crc32(0L, Z_NULL, 0);
};

// What the checksum covers of one dataset besides its (Fletcher32-protected) data.
struct DatasetEntry {
  std::string name;
  std::uint64_t length = 0;
  bool fletcher32 = false;
  std::optional<std::int64_t> bytes;  // /ranks/<r>: attribute `bytes`
};

// The canonical serialisation: "rlmpi-checkpoint-crc32-1"; the root attributes (but the
// checksum) sorted by name, each name + tagged value; "arrays" and "ranks", each followed by its
// datasets sorted by name: name, length, Fletcher32 flag, `bytes` (ranks only). Every field is
// length-prefixed, so no two different contents serialise alike.
std::uint32_t checksum(std::vector<std::pair<std::string, const AttrValue*>> attrs, std::vector<DatasetEntry> arrays,
                       std::vector<DatasetEntry> ranks) {
  Crc32 crc;
  crc.str("rlmpi-checkpoint-crc32-1");
  std::sort(attrs.begin(), attrs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  crc.u64(attrs.size());
  for (const auto& [name, value] : attrs) {
    crc.str(name);
    crc.value(*value);
  }
  for (auto* group : {&arrays, &ranks}) {
    crc.str(group == &arrays ? "arrays" : "ranks");
    std::sort(group->begin(), group->end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    crc.u64(group->size());
    for (const DatasetEntry& d : *group) {
      crc.str(d.name);
      crc.u64(d.length);
      crc.u64(d.fletcher32 ? 1 : 0);
      if (group == &ranks) crc.u64(static_cast<std::uint64_t>(d.bytes.value_or(-1)));
    }
  }
  return crc.result();
}

// ---- range checks (see the header); a violation throws h5::Error with the reason

[[noreturn]] void bad(const std::string& reason) { throw h5::Error(reason); }

std::string show(double x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

// A stored string in a message: printable ASCII, at most 60 characters, in quotes.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < 60; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out + (s.size() > 60 ? "...'" : "'");
}

std::string type_name(const AttrValue& v) {
  if (std::holds_alternative<std::string>(v)) return "a string";
  if (std::holds_alternative<double>(v)) return "a floating-point number";
  return "an integer";
}

// --hid's syntax: comma-separated layer widths in [1, 2^20].
bool valid_layer_widths(const std::string& s) {
  if (s.empty()) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = std::min(s.find(',', start), s.size());
    long long v = 0;
    const auto [p, ec] = std::from_chars(s.data() + start, s.data() + comma, v);
    if (comma == start || ec != std::errc() || p != s.data() + comma || v < 1 || v > (1 << 20)) return false;
    if (comma == s.size()) return true;
    start = comma + 1;
  }
}

void check_attribute(const std::string& name, const AttrValue& v) {
  const std::string what = "attribute '" + name + "'";
  if (name == "epoch" || name == "total_steps" || name == kCheckpointChecksumAttr) {
    const auto* i = std::get_if<std::int64_t>(&v);
    if (!i) bad(what + " is " + type_name(v) + ", expected an integer");
    if (*i < 0) bad(what + " is " + std::to_string(*i) + " (allowed: >= 0)");
    if (name == kCheckpointChecksumAttr && *i > 0xffffffffLL)
      bad(what + " is " + std::to_string(*i) + " (allowed: a 32-bit crc32)");
  } else if (name == "elapsed_seconds") {
    const auto* d = std::get_if<double>(&v);
    if (!d) bad(what + " is " + type_name(v) + ", expected a floating-point number");
    if (!std::isfinite(*d) || *d < 0) bad(what + " is " + show(*d) + " (allowed: a finite number >= 0)");
  } else if (name.starts_with("id.")) {
    const auto* s = std::get_if<std::string>(&v);
    if (!s) bad(what + " is " + type_name(v) + ", expected a string");
    if (std::any_of(s->begin(), s->end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; }))
      bad(what + " is " + quote(*s) + " (allowed: no control characters)");
    if (name == "id.hid" && !valid_layer_widths(*s))
      bad(what + " is " + quote(*s) + " (allowed: comma-separated layer widths >= 1, e.g. 64,64)");
  }
}

void check_array(const std::string& name, const std::vector<double>& a) {
  const std::string what = "array '" + name + "'";
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!std::isfinite(a[i])) bad(what + " holds a non-finite value (" + show(a[i]) + " at index " + std::to_string(i) + ")");
  auto nonnegative = [&](std::size_t from, std::size_t to, const char* why) {
    for (std::size_t i = from; i < to; ++i)
      if (a[i] < 0)
        bad(what + " holds a negative value (" + show(a[i]) + " at index " + std::to_string(i) + "; " + why + ")");
  };
  auto one_value = [&](const char* allowed) {
    if (a.size() != 1) bad(what + " has " + std::to_string(a.size()) + " values (allowed: one, " + allowed + ")");
  };
  if (name.ends_with("_adam.v")) {
    nonnegative(0, a.size(), "Adam second moments are >= 0");
  } else if (name.ends_with("_adam.t")) {
    one_value("the Adam step count");
    if (a[0] < 0 || a[0] != std::floor(a[0]) || a[0] > 9007199254740992.0)
      bad(what + " is " + show(a[0]) + " (allowed: a whole number >= 0, the Adam step count)");
  } else if (name == "obs_norm" || name == "ret_norm") {
    if (a.size() % 2 == 0)
      bad(what + " has " + std::to_string(a.size()) + " values (allowed: 1 + 2 d: count, d means, d variances)");
    const std::size_t d = a.size() / 2;
    nonnegative(0, 1, "the sample count is >= 0");
    nonnegative(1 + d, a.size(), "variances are >= 0");
  } else if (name == "beta") {
    one_value("the PPO-penalty coefficient");
    nonnegative(0, 1, "the PPO-penalty coefficient is >= 0");
  }
}

}  // namespace

std::string corrupt_checkpoint_message(const std::string& path, const std::string& reason) {
  return "checkpoint '" + path + "' is corrupt or unreadable: " + reason;
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
  write_file_atomically(path, checkpoint_image(path, c));
}

std::vector<char> checkpoint_image(const std::string& path, const Checkpoint& c) {
  h5::ErrorSilencer quiet;
  const std::string what = "cannot write checkpoint '" + path + "'";
  h5::PropList fapl = h5::memory_fapl();
  // The in-memory file gets a unique name so nothing on disk is touched until the final rename.
  const std::string mem_name = path + ".mem";
  h5::File file(h5::check(H5Fcreate(mem_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), what));
  const AttrValue format = std::string(kCheckpointFormat);
  std::vector<std::pair<std::string, const AttrValue*>> attrs{{kFormatAttr, &format}};
  h5::write_attribute(file.get(), kFormatAttr, format);
  for (const auto& [k, v] : c.meta) {
    h5::write_attribute(file.get(), k, v);
    attrs.emplace_back(k, &v);
  }
  std::vector<DatasetEntry> array_entries, rank_entries;
  {
    h5::Group arrays = h5::create_group(file.get(), "arrays");
    for (const auto& [name, values] : c.arrays) {
      h5::write_checksummed<double>(arrays.get(), name, values);
      array_entries.push_back({name, values.size(), true, std::nullopt});
    }
  }
  {
    h5::Group ranks = h5::create_group(file.get(), "ranks");
    for (std::size_t r = 0; r < c.rank_blobs.size(); ++r) {
      const std::string& blob = c.rank_blobs[r];
      std::vector<long long> words((blob.size() + 7) / 8, 0);
      if (!blob.empty()) std::memcpy(words.data(), blob.data(), blob.size());
      const std::string name = std::to_string(r);
      h5::Dataset d = h5::write_checksummed<long long>(ranks.get(), name, words);
      const auto bytes = static_cast<std::int64_t>(blob.size());
      h5::write_attribute(d.get(), "bytes", bytes);
      rank_entries.push_back({name, words.size(), true, bytes});
    }
  }
  const std::uint32_t crc = checksum(std::move(attrs), std::move(array_entries), std::move(rank_entries));
  h5::write_attribute(file.get(), kCheckpointChecksumAttr, static_cast<std::int64_t>(crc));
  return h5::file_image(file.get(), what);
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
    const Attributes root = h5::read_attributes(file.get());
    std::optional<AttrValue> stored_crc;
    std::vector<std::pair<std::string, const AttrValue*>> covered;  // by the checksum
    for (const auto& [k, v] : root) {
      if (k == kFormatAttr) {
        if (!std::holds_alternative<std::string>(v) || std::get<std::string>(v) != kCheckpointFormat)
          throw h5::Error("unsupported checkpoint format");
      } else if (k == kCheckpointChecksumAttr) {
        stored_crc = v;
        continue;
      } else {
        c.meta.emplace_back(k, v);
      }
      covered.emplace_back(k, &v);
    }
    if (!h5::exists(file.get(), "arrays") || !h5::exists(file.get(), "ranks"))
      throw h5::Error("missing /arrays or /ranks");
    std::vector<DatasetEntry> array_entries, rank_entries;
    h5::Group arrays = h5::open_group(file.get(), "arrays");
    for (const auto& name : h5::child_names(arrays.get())) {
      h5::Dataset d = h5::open_dataset(arrays.get(), name);
      h5::require_type<double>(d.get(), "/arrays/" + name);
      c.arrays.emplace_back(name, h5::read_all<double>(d.get()));  // Fletcher32 is verified here
      array_entries.push_back({name, c.arrays.back().second.size(), h5::has_fletcher32(d.get()), std::nullopt});
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
      rank_entries.push_back({name, words.size(), h5::has_fletcher32(d.get()), *n});
    }
    // Ranges first (their messages name the attribute or array), then the checksum.
    if (stored_crc) check_attribute(kCheckpointChecksumAttr, *stored_crc);
    for (const auto& [k, v] : c.meta) check_attribute(k, v);
    for (const auto& [k, v] : c.arrays) check_array(k, v);
    if (stored_crc) {
      const auto stored = static_cast<std::uint32_t>(std::get<std::int64_t>(*stored_crc));
      const std::uint32_t computed = checksum(std::move(covered), std::move(array_entries), std::move(rank_entries));
      if (stored != computed) {
        char hex[64];
        std::snprintf(hex, sizeof hex, " (stored %08x, computed %08x)", stored, computed);
        throw h5::Error(std::string("its attributes or list of datasets do not match ") + kCheckpointChecksumAttr + hex);
      }
    }
  } catch (const h5::Error& e) {
    throw UsageError(corrupt_checkpoint_message(path, e.what()));
  } catch (const std::runtime_error& e) {
    throw UsageError(corrupt_checkpoint_message(path, e.what()));
  }
  return c;
}

}  // namespace rlmpi::io
