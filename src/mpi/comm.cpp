#include "rlmpi/mpi/comm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace rlmpi::mpi {
namespace {

// Reduction of (sum, count, min, max) blocks in one MPI call: a commutative user op on a
// contiguous datatype of 4 doubles. MPI may split a buffer anywhere between elements of the
// datatype (ring, segmented-ring and Rabenseifner allreduce do), never inside one, so each call
// sees whole blocks; *len counts blocks, not doubles.
void sum_count_min_max(void* in, void* inout, int* len, MPI_Datatype*) {
  const double* a = static_cast<const double*>(in);
  double* b = static_cast<double*>(inout);
  for (int k = 0; k < *len; ++k) {
    const int i = 4 * k;
    b[i] += a[i];
    b[i + 1] += a[i + 1];
    b[i + 2] = std::fmin(b[i + 2], a[i + 2]);
    b[i + 3] = std::fmax(b[i + 3], a[i + 3]);
  }
}

// The op and its block datatype, created after MPI_Init on first use, freed at exit if MPI is alive.
struct StatsReduction {
  MPI_Op op{};
  MPI_Datatype block{};
  StatsReduction() {
    MPI_Op_create(&sum_count_min_max, /*commute=*/1, &op);
    MPI_Type_contiguous(4, MPI_DOUBLE, &block);
    MPI_Type_commit(&block);
  }
  ~StatsReduction() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Op_free(&op);
    MPI_Type_free(&block);
  }
  StatsReduction(const StatsReduction&) = delete;
  StatsReduction& operator=(const StatsReduction&) = delete;
};

// Around every collective call: adds the wall time of its scope to *acc (when set: the time
// spent in MPI calls) and marks the main thread as inside a collective for the watchdog.
class Stopwatch {
 public:
  Stopwatch(double* acc, Activity* activity) : acc_(acc), activity_(activity), t0_(acc ? MPI_Wtime() : 0.0) {
    if (activity_) activity_->enter();
  }
  ~Stopwatch() {
    if (acc_) *acc_ += MPI_Wtime() - t0_;
    if (activity_) activity_->leave();
  }
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

 private:
  double* acc_;
  Activity* activity_;
  double t0_;
};

}  // namespace

int Comm::rank() const {
  int r = 0;
  MPI_Comm_rank(comm_, &r);
  return r;
}

int Comm::size() const {
  int s = 1;
  MPI_Comm_size(comm_, &s);
  return s;
}

void Comm::average(Eigen::Ref<Eigen::VectorXd> x) const { average(std::span<double>(x.data(), x.size())); }

void Comm::average(std::span<double> x) const {
  if (!stop_) {
    sum(x);
  } else {
    scratch_.assign(x.begin(), x.end());
    scratch_.push_back(stop_wanted() ? 1.0 : 0.0);
    {
      const Stopwatch sw(seconds_, activity_);
      MPI_Allreduce(MPI_IN_PLACE, scratch_.data(), static_cast<int>(scratch_.size()), MPI_DOUBLE, MPI_SUM, comm_);
    }
    if (scratch_.back() > 0) throw StopRequested{};
    std::copy(scratch_.begin(), scratch_.end() - 1, x.begin());
  }
  const double n = size();
  for (double& v : x) v /= n;
}

void Comm::average(Eigen::Ref<Eigen::VectorXf> x) const {
  float* data = x.data();
  int count = static_cast<int>(x.size());
  if (stop_) {
    scratch_f_.assign(x.data(), x.data() + x.size());
    scratch_f_.push_back(stop_wanted() ? 1.0f : 0.0f);
    data = scratch_f_.data();
    count += 1;
  }
  {
    const Stopwatch sw(seconds_, activity_);
    MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, comm_);
  }
  if (stop_) {
    if (scratch_f_.back() > 0) throw StopRequested{};
    std::copy(scratch_f_.begin(), scratch_f_.end() - 1, x.data());
  }
  const float n = static_cast<float>(size());
  x /= n;
}

void Comm::sum(std::span<double> x) const {
  const Stopwatch sw(seconds_, activity_);
  MPI_Allreduce(MPI_IN_PLACE, x.data(), static_cast<int>(x.size()), MPI_DOUBLE, MPI_SUM, comm_);
}

void Comm::broadcast(Eigen::Ref<Eigen::VectorXd> x, int root) const {
  broadcast(std::span<double>(x.data(), x.size()), root);
}

void Comm::broadcast(Eigen::Ref<Eigen::VectorXf> x, int root) const {
  const Stopwatch sw(seconds_, activity_);
  MPI_Bcast(x.data(), static_cast<int>(x.size()), MPI_FLOAT, root, comm_);
}

void Comm::broadcast(std::span<double> x, int root) const {
  const Stopwatch sw(seconds_, activity_);
  MPI_Bcast(x.data(), static_cast<int>(x.size()), MPI_DOUBLE, root, comm_);
}

void Comm::broadcast(std::span<std::uint64_t> x, int root) const {
  const Stopwatch sw(seconds_, activity_);
  MPI_Bcast(x.data(), static_cast<int>(x.size()), MPI_UINT64_T, root, comm_);
}

double Comm::allreduce_sum(double v) const {
  const Stopwatch sw(seconds_, activity_);
  double out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_SUM, comm_);
  return out;
}

double Comm::allreduce_max(double v) const {
  const Stopwatch sw(seconds_, activity_);
  double out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, comm_);
  return out;
}

double Comm::allreduce_min(double v) const {
  const Stopwatch sw(seconds_, activity_);
  double out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MIN, comm_);
  return out;
}

std::vector<double> Comm::allgather(double v) const {
  const Stopwatch sw(seconds_, activity_);
  std::vector<double> out(static_cast<std::size_t>(size()));
  MPI_Allgather(&v, 1, MPI_DOUBLE, out.data(), 1, MPI_DOUBLE, comm_);
  return out;
}

std::vector<double> Comm::allgather(std::span<const double> local) const {
  const Stopwatch sw(seconds_, activity_);
  std::vector<double> out(local.size() * static_cast<std::size_t>(size()));
  MPI_Allgather(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, out.data(), static_cast<int>(local.size()),
                MPI_DOUBLE, comm_);
  return out;
}

int Comm::ranks_on_this_host() const {
  const Stopwatch sw(seconds_, activity_);
  char mine[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  MPI_Get_processor_name(mine, &len);
  const int n = size();
  std::vector<char> all(static_cast<std::size_t>(n) * MPI_MAX_PROCESSOR_NAME);
  MPI_Allgather(mine, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm_);
  int same = 0;
  for (int r = 0; r < n; ++r)
    same += std::strncmp(mine, all.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME,
                         MPI_MAX_PROCESSOR_NAME) == 0;
  return same;
}

std::vector<double> Comm::gather(std::span<const double> local, int root) const {
  const Stopwatch sw(seconds_, activity_);
  const int n = size();
  const int mine = static_cast<int>(local.size());
  std::vector<int> counts(rank() == root ? static_cast<std::size_t>(n) : 0);
  MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_);
  std::vector<int> displs(counts.size(), 0);
  int total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    displs[i] = total;
    total += counts[i];
  }
  std::vector<double> out(static_cast<std::size_t>(total));
  MPI_Gatherv(local.data(), mine, MPI_DOUBLE, out.data(), counts.data(), displs.data(), MPI_DOUBLE, root, comm_);
  return out;
}

void Comm::broadcast(std::string& bytes, int root) const {
  const Stopwatch sw(seconds_, activity_);
  unsigned long long n = bytes.size();
  MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, comm_);
  bytes.resize(n);
  MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_BYTE, root, comm_);
}

std::vector<std::string> Comm::gather_bytes(const std::string& mine, int root) const {
  const Stopwatch sw(seconds_, activity_);
  const int n = size();
  const int len = static_cast<int>(mine.size());
  const bool am_root = rank() == root;
  std::vector<int> counts(am_root ? static_cast<std::size_t>(n) : 0), displs(counts.size(), 0);
  MPI_Gather(&len, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_);
  int total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    displs[i] = total;
    total += counts[i];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  MPI_Gatherv(mine.data(), len, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, root, comm_);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < counts.size(); ++i)
    out.push_back(all.substr(static_cast<std::size_t>(displs[i]), static_cast<std::size_t>(counts[i])));
  return out;
}

std::string Comm::scatter_bytes(const std::vector<std::string>& on_root, int root) const {
  const Stopwatch sw(seconds_, activity_);
  const bool am_root = rank() == root;
  std::vector<int> counts, displs;
  std::string all;
  if (am_root) {
    for (const auto& s : on_root) {
      displs.push_back(static_cast<int>(all.size()));
      counts.push_back(static_cast<int>(s.size()));
      all += s;
    }
  }
  int len = 0;
  MPI_Scatter(counts.data(), 1, MPI_INT, &len, 1, MPI_INT, root, comm_);
  std::string mine(static_cast<std::size_t>(len), '\0');
  MPI_Scatterv(all.data(), counts.data(), displs.data(), MPI_BYTE, mine.data(), len, MPI_BYTE, root, comm_);
  return mine;
}

SampleStats Comm::stats(std::span<const double> local) const {
  const std::span<const double> one[1] = {local};
  return stats(std::span<const std::span<const double>>(one, 1)).front();
}

std::vector<SampleStats> Comm::stats(std::span<const std::span<const double>> locals) const {
  const Stopwatch sw(seconds_, activity_);
  static const StatsReduction red;
  const std::size_t k = locals.size();
  constexpr double inf = std::numeric_limits<double>::infinity();
  std::vector<double> first(4 * k);
  for (std::size_t j = 0; j < k; ++j) {
    double s = 0, lo = inf, hi = -inf;
    for (double v : locals[j]) {
      s += v;
      lo = std::fmin(lo, v);
      hi = std::fmax(hi, v);
    }
    first[4 * j] = s;
    first[4 * j + 1] = static_cast<double>(locals[j].size());
    first[4 * j + 2] = lo;
    first[4 * j + 3] = hi;
  }
  MPI_Allreduce(MPI_IN_PLACE, first.data(), static_cast<int>(k), red.block, red.op, comm_);

  std::vector<double> sq(k);
  for (std::size_t j = 0; j < k; ++j) {
    const double n = first[4 * j + 1];
    const double mean = n > 0 ? first[4 * j] / n : 0.0;
    double s = 0;
    for (double v : locals[j]) s += (v - mean) * (v - mean);
    sq[j] = s;
  }
  MPI_Allreduce(MPI_IN_PLACE, sq.data(), static_cast<int>(k), MPI_DOUBLE, MPI_SUM, comm_);

  std::vector<SampleStats> out(k);
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t j = 0; j < k; ++j) {
    const double n = first[4 * j + 1];
    SampleStats& s = out[j];
    s.count = static_cast<long long>(n);
    if (n > 0) {
      s.mean = first[4 * j] / n;
      s.std = std::sqrt(sq[j] / n);
      s.min = first[4 * j + 2];
      s.max = first[4 * j + 3];
    } else {
      s.mean = s.std = s.min = s.max = nan;
    }
  }
  return out;
}

Session::Session(int& argc, char**& argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  int provided = 0;
  if (!initialized) MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
}

Session::~Session() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void Session::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // not reached
}

}  // namespace rlmpi::mpi
