#include "rlmpi/mpi/watchdog.hpp"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rlmpi/core/error.hpp"

namespace rlmpi::mpi {
namespace {

constexpr int kTagBeat = 1;  // payload: seconds the sender's main thread is inside a collective, or -1
constexpr int kTagBye = 2;   // the sender's watchdog stops: nothing more will come from it
constexpr int kHostLen = 64;

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

}  // namespace

class Watchdog::Impl {
 public:
  Impl(const Comm& world, double timeout) : timeout_(timeout), activity_(world.activity()) {
    int provided = MPI_THREAD_SINGLE;
    MPI_Query_thread(&provided);
    if (provided < MPI_THREAD_MULTIPLE)
      throw UsageError("--stall-timeout needs an MPI library with MPI_THREAD_MULTIPLE (allowed here: 0, off)");
    if (!(timeout > 0)) throw UsageError("invalid value for --stall-timeout (allowed: a number of seconds > 0)");
    MPI_Comm_dup(world.native(), &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    char mine[kHostLen] = {};
    ::gethostname(mine, kHostLen - 1);
    hosts_.resize(static_cast<std::size_t>(size_) * kHostLen);
    MPI_Allgather(mine, kHostLen, MPI_CHAR, hosts_.data(), kHostLen, MPI_CHAR, comm_);
    const double t = Activity::now();
    last_seen_.assign(static_cast<std::size_t>(size_), t);
    waiting_.assign(static_cast<std::size_t>(size_), -1.0);
    gone_.assign(static_cast<std::size_t>(size_), 0);
    out_.assign(static_cast<std::size_t>(size_), 0.0);
    requests_.assign(static_cast<std::size_t>(size_), MPI_REQUEST_NULL);
    // A tenth of the timeout between heartbeats: a stall is seen within 1.1 x the timeout.
    period_ = std::clamp(timeout / 10, 0.05, 1.0);
    thread_ = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      tick();
      lock.lock();
      wake_.wait_for(lock, std::chrono::duration<double>(period_), [this] { return stop_; });
    }
    lock.unlock();
    say_bye();
  }

  std::string who(int r) const {
    return "rank " + std::to_string(r) + " (host " + std::string(hosts_.data() + static_cast<std::size_t>(r) * kHostLen) +
           ")";
  }

  void receive_all(double t) {
    for (;;) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, &st);
      if (!flag) return;
      double v = -1;
      MPI_Recv(&v, 1, MPI_DOUBLE, st.MPI_SOURCE, st.MPI_TAG, comm_, MPI_STATUS_IGNORE);
      const auto src = static_cast<std::size_t>(st.MPI_SOURCE);
      if (st.MPI_TAG == kTagBye) {
        gone_[src] = 1;
      } else {
        last_seen_[src] = t;
        waiting_[src] = v;
      }
    }
  }

  // Non-blocking: a peer that stopped reading leaves its previous beat pending; skip it then.
  void send(int to, int tag, double v) {
    const auto d = static_cast<std::size_t>(to);
    int done = 1;
    if (requests_[d] != MPI_REQUEST_NULL) MPI_Test(&requests_[d], &done, MPI_STATUS_IGNORE);
    if (!done) return;
    out_[d] = v;
    MPI_Isend(&out_[d], 1, MPI_DOUBLE, to, tag, comm_, &requests_[d]);
  }

  [[noreturn]] void fail(const std::string& what) const {
    std::fprintf(stderr, "rlmpi: error: stall watchdog: %s (--stall-timeout %s s); aborting the job\n", what.c_str(),
                 fmt_seconds(timeout_).c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, kExitFailure);
    std::abort();  // not reached
  }

  void tick() {
    const double t = Activity::now();
    receive_all(t);
    const double mine = activity_ ? activity_->in_collective_for(t) : -1.0;
    if (rank_ != 0) {
      send(0, kTagBeat, mine);
      const double silent = t - last_seen_[0];
      // Rank 1 reports a silent rank 0; the others only if rank 1 did not (it may be gone too).
      if (!gone_[0] && silent > timeout_ * (rank_ == 1 ? 1 : 2))
        fail(who(0) + " has not answered for " + fmt_seconds(silent) + " s");
      return;
    }
    last_seen_[0] = t;
    waiting_[0] = mine;
    for (int r = 1; r < size_; ++r)
      if (!gone_[static_cast<std::size_t>(r)]) send(r, kTagBeat, mine);
    check(t);
  }

  // Rank 0: is anyone stalled?
  void check(double t) const {
    for (int r = 1; r < size_; ++r) {
      const auto u = static_cast<std::size_t>(r);
      if (!gone_[u] && t - last_seen_[u] > timeout_)
        fail(who(r) + " has not answered for " + fmt_seconds(t - last_seen_[u]) + " s");
    }
    // The longest wait inside a collective, as of each rank's last beat.
    int waiter = -1;
    double longest = -1;
    for (int r = 0; r < size_; ++r) {
      const auto u = static_cast<std::size_t>(r);
      if (gone_[u] || waiting_[u] < 0) continue;
      const double w = waiting_[u] + (t - last_seen_[u]);
      if (w > longest) {
        longest = w;
        waiter = r;
      }
    }
    if (longest <= timeout_) return;
    std::string late;
    for (int r = 0; r < size_; ++r) {
      const auto u = static_cast<std::size_t>(r);
      if (!gone_[u] && waiting_[u] < 0) late += (late.empty() ? "" : ", ") + who(r);
    }
    if (late.empty())
      fail("every rank has been waiting inside MPI (" + who(waiter) + " for " + fmt_seconds(longest) +
           " s): the collectives do not match");
    fail(late + " has not reached the collective that " + who(waiter) + " has waited in for " + fmt_seconds(longest) +
         " s");
  }

  // Tell the peers this watchdog stops, so that a rank finishing earlier than another is not
  // taken for a stalled one. Then give pending beats a moment to leave; a beat to a peer that
  // stopped reading may stay pending, and its buffer is then left allocated (MPI may still read it).
  void say_bye() {
    static const double bye = -1;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_ || (rank_ != 0 && r != 0)) continue;
      MPI_Request req = MPI_REQUEST_NULL;
      MPI_Isend(&bye, 1, MPI_DOUBLE, r, kTagBye, comm_, &req);
      MPI_Request_free(&req);
    }
    const double deadline = Activity::now() + 0.5;
    int all_done = 0;
    while (!all_done && Activity::now() < deadline)
      MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &all_done, MPI_STATUSES_IGNORE);
    if (all_done) return;
    for (auto& req : requests_)
      if (req != MPI_REQUEST_NULL) MPI_Request_free(&req);
    new std::vector<double>(std::move(out_));  // deliberately never freed, see above
  }

  double timeout_, period_ = 1;
  Activity* activity_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::vector<char> hosts_;          // size x kHostLen, NUL-terminated
  std::vector<double> last_seen_;    // when each rank's last beat arrived (rank 0's view; [0] elsewhere)
  std::vector<double> waiting_;      // its main thread's time inside a collective then, or -1
  std::vector<char> gone_;           // its watchdog said bye
  std::vector<double> out_;          // send buffers, one per destination
  std::vector<MPI_Request> requests_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

Watchdog::Watchdog(const Comm& world, double timeout_seconds)
    : impl_(std::make_unique<Impl>(world, timeout_seconds)) {}
Watchdog::~Watchdog() = default;

}  // namespace rlmpi::mpi
