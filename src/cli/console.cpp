#include "console.hpp"

#include <cstdio>
#include <string>

namespace rlmpi::cli {
namespace {

// Columns printed per epoch (the run file holds them all).
bool printed(const std::string& c) {
  for (const char* p : {"Epoch", "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "EpLen", "AverageVVals", "LossPi",
                        "LossV", "KL", "Entropy", "ClipFrac", "StopIter", "Beta", "BacktrackIters",
                        "TotalEnvInteracts", "StepsPerSecond", "Time"})
    if (c == p) return true;
  return false;
}

std::string short_name(const std::string& c) {
  if (c == "AverageEpRet") return "AvgEpRet";
  if (c == "AverageVVals") return "AvgVVals";
  if (c == "TotalEnvInteracts") return "EnvSteps";
  if (c == "StepsPerSecond") return "Steps/s";
  if (c == "BacktrackIters") return "Backtrack";
  return c;
}

// The epoch's wall time split into rollout / update / MPI / file writes, in percent.
constexpr const char* kShares[] = {"TimeRollout", "TimeUpdate", "TimeComm", "TimeIO"};
constexpr const char* kShareNames[] = {"Roll%", "Upd%", "Comm%", "IO%"};

}  // namespace

void print_header(const algo::EpochResult& r) {
  for (const auto& [k, v] : r.stats)
    if (printed(k)) std::printf("%10s ", short_name(k).c_str());
  for (const char* n : kShareNames) std::printf("%5s ", n);
  std::printf("\n");
}

void print_row(const algo::EpochResult& r) {
  for (const auto& [k, v] : r.stats) {
    if (!printed(k)) continue;
    if (k == "Epoch" || k == "TotalEnvInteracts" || k == "StopIter" || k == "BacktrackIters")
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
