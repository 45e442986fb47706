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

void print_header(const algo::EpochResult& r) {
  for (const auto& [k, v] : r.stats)
    if (printed(k)) std::printf("%10s ", algo::find_column(k)->short_name);
  for (const char* n : kShareNames) std::printf("%5s ", n);
  std::printf("\n");
}

void print_row(const algo::EpochResult& r) {
  for (const auto& [k, v] : r.stats) {
    if (!printed(k)) continue;
    if (algo::find_column(k)->integer)
      std::printf("%10.0f ", v);
    else
      std::printf("%10.4g ", v);
  }
  double total = 0;
  for (const char* k : kShares) total += r.get(k);
  for (const char* k : kShares) std::printf("%5.1f ", total > 0 ? 100 * r.get(k) / total : 0.0);
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace rlmpi::cli
