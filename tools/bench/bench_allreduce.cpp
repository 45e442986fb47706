// MPI_Allreduce (MPI_SUM, in place) latency and bandwidth of double vectors over message sizes
// 1, 4, 16, ..., 4^10 (~1e6) doubles, plus the exact sizes rlmpi reduces (policy/value gradient
// lengths of 64x64 nets). Each size: a barrier, then `reps` timed calls, each timed separately;
// every rank times its own calls and the per-call time is the max over ranks (an allreduce of the
// times afterwards). Reported: median and 10th/90th percentiles of the per-call times, and the
// "bus bandwidth" 8 n / t (bytes of the vector per second; a ring allreduce moves about
// 2 (p-1)/p of that per rank).
//
// Usage: mpiexec -n P bench_allreduce [--reps R] [--max N] [--csv FILE] [--thread-multiple]
// --thread-multiple initialises MPI as rlmpi does (MPI_THREAD_MULTIPLE, for its stall watchdog)
// instead of plain MPI_Init, to measure what that level costs.
// CSV columns: ranks,doubles,bytes,median_us,p10_us,p90_us,reps
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto i = static_cast<std::size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

}  // namespace

int main(int argc, char** argv) {
  bool multiple = false;
  for (int i = 1; i < argc; ++i) multiple = multiple || !std::strcmp(argv[i], "--thread-multiple");
  int provided = 0;
  if (multiple) MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  else MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int reps = 0;  // 0: automatic (more for small messages)
  long max_n = 1L << 20;
  std::string csv;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--max") && i + 1 < argc) {
      max_n = std::atol(argv[++i]);
    } else if (!std::strcmp(argv[i], "--csv") && i + 1 < argc) {
      csv = argv[++i];
    } else if (!std::strcmp(argv[i], "--thread-multiple")) {
    } else {
      if (rank == 0)
        std::fprintf(stderr, "usage: bench_allreduce [--reps R] [--max N] [--csv FILE] [--thread-multiple]\n");
      MPI_Finalize();
      return 2;
    }
  }

  std::vector<long> sizes;
  for (long n = 1; n <= max_n; n *= 4) sizes.push_back(n);
  for (long n : {4610L, 4545L, 9220L}) sizes.push_back(n);  // CartPole pi / v, pi + v
  std::sort(sizes.begin(), sizes.end());

  FILE* out = nullptr;
  if (rank == 0 && !csv.empty()) {
    out = std::fopen(csv.c_str(), "w");
    if (out == nullptr) {
      std::fprintf(stderr, "bench_allreduce: cannot write %s\n", csv.c_str());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    std::fprintf(out, "ranks,doubles,bytes,median_us,p10_us,p90_us,reps\n");
  }
  if (rank == 0) {
    std::printf("bench_allreduce: %d ranks, MPI_Allreduce(MPI_IN_PLACE, double, MPI_SUM), per-call max over ranks, %s\n",
                size, multiple ? "MPI_THREAD_MULTIPLE" : "MPI_Init");
    std::printf("%10s %12s %12s %12s %12s %12s %7s\n", "doubles", "bytes", "median us", "p10 us", "p90 us",
                "MB/s (8n/t)", "reps");
  }

  std::vector<double> buf(static_cast<std::size_t>(max_n) + 10000, 1.0);
  for (long n : sizes) {
    const int r = reps > 0 ? reps : static_cast<int>(std::clamp(200000000L / (8 * n + 20000), 20L, 2000L));
    std::vector<double> t(static_cast<std::size_t>(r));
    for (int w = 0; w < 5; ++w)
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < r; ++i) {
      std::fill_n(buf.data(), n, 1.0 / size);  // keep values bounded
      const double t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
      t[static_cast<std::size_t>(i)] = MPI_Wtime() - t0;
    }
    MPI_Allreduce(MPI_IN_PLACE, t.data(), r, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
      const double med = quantile(t, 0.5) * 1e6, p10 = quantile(t, 0.1) * 1e6, p90 = quantile(t, 0.9) * 1e6;
      const double bytes = 8.0 * static_cast<double>(n);
      std::printf("%10ld %12.0f %12.2f %12.2f %12.2f %12.1f %7d\n", n, bytes, med, p10, p90, bytes / med, r);
      if (out != nullptr) std::fprintf(out, "%d,%ld,%.0f,%.4f,%.4f,%.4f,%d\n", size, n, bytes, med, p10, p90, r);
    }
  }
  if (out != nullptr) std::fclose(out);
  MPI_Finalize();
  return 0;
}
