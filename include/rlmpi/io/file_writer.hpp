#pragma once
// Writing whole files durably, and doing it off the training path.
//
// A run's files (run.h5, checkpoint.h5) are in-memory HDF5 images replaced whole at every
// commit: write "<path>.tmp", fsync it, rename it over <path>, fsync the directory. The fsyncs
// and the rename wait for the disk: 3-10 ms per file on a local disk under load, more on a
// parallel file system, as long as a small network's whole update. BackgroundWriter runs such
// jobs on one thread of its own, in submission order, while the caller trains on; the caller
// builds the images (HDF5 is not thread-safe: jobs must not call it) and waits for the previous
// epoch's job before it writes the next.
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>

namespace rlmpi::io {

// Replaces `path` by `bytes` atomically and durably: readers and crashes (a kill, a power loss)
// see either the old or the new complete file, never a partial one. Throws std::runtime_error
// naming the file and the system error.
void write_file_atomically(const std::string& path, std::span<const char> bytes);

// One background thread running jobs in submission order. A job that throws stops the queue:
// the jobs after it are dropped (a row must not be printed after its file failed to be written)
// and wait() rethrows the exception once. Signals are blocked on the thread, so they reach the
// caller's threads as before.
class BackgroundWriter {
 public:
  BackgroundWriter();
  ~BackgroundWriter();  // runs what is queued, then joins; an error nobody waited for goes to stderr
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  // Queues `job` (dropped if an earlier job failed and wait() has not reported it yet).
  void submit(std::function<void()> job);
  // Blocks until every submitted job has run; rethrows the first failure since the last wait().
  void wait();

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::function<void()>> jobs_;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts after the members above exist
};

}  // namespace rlmpi::io
