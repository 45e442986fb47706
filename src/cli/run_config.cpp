#include "run_config.hpp"

#include <charconv>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

#include "rlmpi/core/error.hpp"
#include "rlmpi/io/run_file.hpp"
#include "rlmpi/version.hpp"

namespace rlmpi::cli {

namespace {
bool is_regular_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool is_directory(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
// HDF5's format signature, at offset 0 for the files rlmpi writes.
bool has_hdf5_signature(const std::string& p) {
  char head[8] = {};
  std::ifstream in(p, std::ios::binary);
  return in.read(head, sizeof head) && std::memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0;
}
}  // namespace

std::string run_file_of(const std::string& path) {
  if (path.empty()) return {};
  if (is_regular_file(path)) return has_hdf5_signature(path) ? path : std::string();
  if (is_directory(path) && is_regular_file(path + "/run.h5")) return path + "/run.h5";
  return {};
}

std::string attribute_text(const io::AttrValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, *d);
    return std::string(buf, r.ptr);
  }
  return std::get<std::string>(v);
}

std::vector<std::pair<std::string, std::string>> stored_run_options(const std::string& run_file) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : io::read_run_file(run_file).attributes)
    if (name.starts_with("config.")) out.emplace_back(name.substr(7), attribute_text(value));
  if (out.empty())
    throw UsageError("run file '" + run_file + "' stores no configuration (allowed: a run file written by rlmpi)");
  return out;
}

std::string reproduce_ini(const std::string& run_file) {
  const auto options = stored_run_options(run_file);
  bool per_rank = false;
  for (const auto& [k, v] : options) per_rank = per_rank || (k == "steps-per-rank" && v != "0");
  std::string ini = "# The configuration of " + run_file + " (rlmpi " + kVersion +
                    "). Reproduce it with\n#   rlmpi --config THIS_FILE --out NEW_DIR\n";
  for (const auto& [k, v] : options) {
    // resume: command-line only (stored by rlmpi 0.1 and 0.2.0).
    if (k == "out" || k == "resume" || (per_rank && k == "steps-per-epoch")) continue;
    ini += k + " = " + v + "\n";
  }
  return ini;
}

}  // namespace rlmpi::cli
