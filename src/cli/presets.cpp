#include "presets.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <utility>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/core/error.hpp"

namespace rlmpi::cli {

namespace fs = std::filesystem;

namespace {
std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return {};
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}
bool is_algorithm(const std::string& name) {
  for (const auto& a : algo::algorithms())
    if (a.name == name) return true;
  return false;
}
// "<algo>/<env>" with an env id's characters: no path tricks.
bool well_formed(const std::string& name) {
  const auto slash = name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == name.size()) return false;
  if (name.find("..") != std::string::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
           c == '_' || c == '.' || c == ':';
  }) && std::count(name.begin(), name.end(), '/') == 1;
}
}  // namespace

std::vector<std::string> preset_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("RLMPI_CONFIG_DIR"); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && exe.has_parent_path()) dirs.push_back((exe.parent_path().parent_path() / "share/rlmpi/configs").string());
  if (*RLMPI_INSTALL_CONFIG_DIR) dirs.emplace_back(RLMPI_INSTALL_CONFIG_DIR);
  if (*RLMPI_SOURCE_CONFIG_DIR) dirs.emplace_back(RLMPI_SOURCE_CONFIG_DIR);
  return dirs;
}

std::vector<std::string> list_presets() {
  std::vector<std::string> names;
  for (const auto& d : preset_search_dirs()) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (p.extension() != ".ini" || it.depth() != 1) continue;
      const std::string name = p.parent_path().filename().string() + "/" + p.stem().string();
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string find_preset(const std::string& name) {
  if (well_formed(name))
    for (const auto& d : preset_search_dirs()) {
      const fs::path p = fs::path(d) / (name + ".ini");
      std::error_code ec;
      if (fs::is_regular_file(p, ec)) return p.string();
    }
  std::string known;
  for (const auto& n : list_presets()) known += (known.empty() ? "" : ", ") + n;
  throw UsageError("unknown preset '" + name + "' (allowed: " + (known.empty() ? "none found" : known) +
                   "; searched " + std::to_string(preset_search_dirs().size()) +
                   " directories, RLMPI_CONFIG_DIR adds one)");
}

std::string drop_keys(const std::string& resolved_text, const std::vector<std::string>& keys) {
  std::istringstream in(resolved_text);
  std::string line, out;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    const std::string key = eq == std::string::npos ? std::string() : trim(line.substr(0, eq));
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) out += line + "\n";
  }
  return out;
}

std::string general_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line, value;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.starts_with("[")) break;
    const auto eq = t.find('=');
    if (eq != std::string::npos && trim(t.substr(0, eq)) == key) value = trim(t.substr(eq + 1));
  }
  return value;
}

std::string resolve_sections(const std::string& text, const std::string& algo, const std::string& path) {
  std::vector<std::pair<std::string, std::string>> general, chosen;  // (key, line)
  std::vector<std::string> other;  // lines the option parser will check as they are
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[') {
      section = t.back() == ']' ? trim(t.substr(1, t.size() - 2)) : t;
      if (!is_algorithm(section))
        throw UsageError("unknown section [" + section + "] in option file '" + path +
                         "' (allowed: options before any section, and sections " + [] {
                           std::string s;
                           for (const auto& a : algo::algorithms()) s += (s.empty() ? "[" : ", [") + std::string(a.name) + "]";
                           return s;
                         }() + ")");
      continue;
    }
    const auto eq = t.find('=');
    if (eq == std::string::npos) {
      if (section.empty() || section == algo) other.push_back(t);
      continue;
    }
    const std::string key = trim(t.substr(0, eq));
    if (section.empty()) general.emplace_back(key, t);
    else if (section == algo) chosen.emplace_back(key, t);
  }
  std::string out;
  for (const auto& [key, l] : general) {
    const bool replaced = std::any_of(chosen.begin(), chosen.end(), [&](const auto& c) { return c.first == key; });
    if (!replaced) out += l + "\n";
  }
  for (const auto& [key, l] : chosen) out += l + "\n";
  for (const auto& l : other) out += l + "\n";
  return out;
}

}  // namespace rlmpi::cli
