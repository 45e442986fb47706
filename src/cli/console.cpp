#include "console.hpp"

#include <cstdio>
#include <string>

#include "rlmpi/algo/columns.hpp"

namespace rlmpi::cli {
namespace {

bool printed(const std::string& c) {
  const auto* info = algo::find_column(c);
  return info && info->printed;
}

// The epoch's wall time split into rollout / update / MPI / file writes, in percent.
constexpr const char* kShares[] = {"TimeRollout", "TimeUpdate", "TimeComm", "TimeIO"};
constexpr const char* kShareNames[] = {"Roll%", "Upd%", "Comm%", "IO%"};

}  // namespace

namespace {

void append(std::string& out, const char* fmt, auto... args) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, args...);
  out += buf;
}

}  // namespace

std::string header_line(const algo::EpochResult& r) {
  std::string out;
  for (const auto& [k, v] : r.stats)
    if (printed(k)) append(out, "%10s ", algo::find_column(k)->short_name);
  for (const char* n : kShareNames) append(out, "%5s ", n);
  return out + "\n";
}

std::string row_line(const algo::EpochResult& r) {
  std::string out;
  for (const auto& [k, v] : r.stats) {
    if (!printed(k)) continue;
    append(out, algo::find_column(k)->integer ? "%10.0f " : "%10.4g ", v);
  }
  double total = 0;
  for (const char* k : kShares) total += r.get(k);
  for (const char* k : kShares) append(out, "%5.1f ", total > 0 ? 100 * r.get(k) / total : 0.0);
  return out + "\n";
}

}  // namespace rlmpi::cli
