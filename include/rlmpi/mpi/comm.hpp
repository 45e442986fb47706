#pragma once
// Thin RAII layer over MPI: the session (init/finalize) and the collective operations the
// algorithms need. Every reduction here gives the same bits on every rank (the reduced value is
// computed by MPI_Allreduce, which hands all ranks the same result) and the same bits run
// after run for a fixed number of ranks.
#include <mpi.h>

#include <Eigen/Core>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace rlmpi::mpi {

// Cross-rank statistics of a sample spread over ranks (Spinning Up's mpi_statistics_scalar):
// mean = global sum / global count; std = sqrt(global sum of (x - mean)^2 / count), the
// population std; min/max over all ranks. With no sample anywhere, all four are NaN.
struct SampleStats {
  double mean = 0;
  double std = 0;
  double min = 0;
  double max = 0;
  long long count = 0;
};

// What a rank's main thread is doing, as the stall watchdog (watchdog.hpp) sees it: inside a
// collective call since when, or not. Written by Comm around every collective, read by the
// watchdog's thread.
class Activity {
 public:
  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  void enter() { since_.store(now(), std::memory_order_relaxed); }
  void leave() { since_.store(-1.0, std::memory_order_relaxed); }
  // Seconds inside the current collective at time t, or -1 outside.
  double in_collective_for(double t) const {
    const double s = since_.load(std::memory_order_relaxed);
    return s < 0 ? -1.0 : t - s;
  }

 private:
  std::atomic<double> since_{-1.0};
};

// Thrown on every rank at once by a vector average() when some rank's stop check fired (see
// Comm::with_stop_check). Not a std::exception: it is a request, caught by the trainer.
struct StopRequested {};

// A non-owning handle on a communicator.
class Comm {
 public:
  explicit Comm(MPI_Comm comm, Activity* activity = nullptr) : comm_(comm), activity_(activity) {}
  // A copy that adds the wall time of its collective calls to *seconds (the caller's counter,
  // which must outlive the copy): the communication share of an epoch.
  Comm timed(double* seconds) const {
    Comm c(*this);
    c.seconds_ = seconds;
    return c;
  }

  // A copy whose vector averages (gradients, Fisher-vector products) also carry `*check()` of
  // every rank in one extra element and throw StopRequested on all ranks when any was true: a
  // signal stops a long update within one iteration. `check` must outlive the copy.
  Comm with_stop_check(const std::function<bool()>* check) const {
    Comm c(*this);
    c.stop_ = check;
    return c;
  }

  int rank() const;
  int size() const;
  bool is_root() const { return rank() == 0; }
  MPI_Comm native() const { return comm_; }
  // The activity record this handle updates (nullptr: none), for the watchdog.
  Activity* activity() const { return activity_; }

  // In place: x <- (sum over ranks of x) / size. One MPI_Allreduce on the whole vector.
  void average(Eigen::Ref<Eigen::VectorXd> x) const;
  void average(Eigen::Ref<Eigen::VectorXf> x) const;
  void average(std::span<double> x) const;
  // In place: x <- sum over ranks.
  void sum(std::span<double> x) const;
  // Broadcast from `root` in place.
  void broadcast(Eigen::Ref<Eigen::VectorXd> x, int root = 0) const;
  void broadcast(Eigen::Ref<Eigen::VectorXf> x, int root = 0) const;
  void broadcast(std::span<double> x, int root = 0) const;
  void broadcast(std::span<std::uint64_t> x, int root = 0) const;

  double allreduce_sum(double v) const;
  double allreduce_max(double v) const;
  double allreduce_min(double v) const;
  double average(double v) const { return allreduce_sum(v) / size(); }

  // Statistics of one local sample (two reductions).
  SampleStats stats(std::span<const double> local) const;
  // Statistics of several local samples at once, still two reductions in total.
  std::vector<SampleStats> stats(std::span<const std::span<const double>> locals) const;

  // Collective: how many ranks of this communicator run on this rank's host (same host name;
  // MPI_Comm_split_type hangs where "nodes" share a host name, e.g. network namespaces).
  int ranks_on_this_host() const;

  // Gather one value per rank to every rank (rank order).
  std::vector<double> allgather(double v) const;
  // Concatenation of every rank's equally long vector, on every rank, in rank order.
  std::vector<double> allgather(std::span<const double> local) const;
  // Byte strings (checkpoint state): broadcast from root; gather every rank's string to root
  // (index = rank, empty vector elsewhere); scatter root's strings (index = rank) to their ranks.
  void broadcast(std::string& bytes, int root = 0) const;
  std::vector<std::string> gather_bytes(const std::string& mine, int root = 0) const;
  std::string scatter_bytes(const std::vector<std::string>& on_root, int root = 0) const;
  // Concatenation of every rank's values on `root`, in rank order (empty elsewhere).
  std::vector<double> gather(std::span<const double> local, int root = 0) const;

 private:
  bool stop_wanted() const { return stop_ && *stop_ && (*stop_)(); }

  MPI_Comm comm_;
  Activity* activity_ = nullptr;
  double* seconds_ = nullptr;
  const std::function<bool()>* stop_ = nullptr;
  // Vector + stop flag, for averages with a stop check (kept to avoid an allocation per call).
  mutable std::vector<double> scratch_;
  mutable std::vector<float> scratch_f_;
};

// Owns MPI_Init/MPI_Finalize. Errors on MPI_COMM_WORLD abort the whole job with MPI's
// message (MPI_ERRORS_ARE_FATAL) instead of returning codes nobody checks. Asks for
// MPI_THREAD_MULTIPLE (the stall watchdog's thread calls MPI beside the main thread).
class Session {
 public:
  Session(int& argc, char**& argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // MPI_COMM_WORLD, recording the main thread's collectives in this session's Activity.
  Comm world() { return Comm(MPI_COMM_WORLD, &activity_); }
  // Ends the job on every rank with `code` (for failures one rank cannot share).
  [[noreturn]] static void abort(int code);

 private:
  Activity activity_;
};

}  // namespace rlmpi::mpi
