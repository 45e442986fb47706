#include "rlmpi/io/file_writer.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace rlmpi::io {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Closes a POSIX file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

void write_file_atomically(const std::string& path, std::span<const char> bytes) {
  const std::string tmp = path + ".tmp";
  try {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw_errno("cannot create '" + tmp + "'");
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("cannot write '" + tmp + "'");
      done += static_cast<std::size_t>(n);
    }
    // Data must be on disk before the rename makes it the file, or a power loss could leave
    // a renamed but empty file.
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync '" + tmp + "'");
    if (::close(fd.release()) != 0) throw_errno("cannot close '" + tmp + "'");
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("cannot rename '" + tmp + "' to '" + path + "'");
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  // Persist the rename itself (the directory entry).
  std::string dir = std::filesystem::path(path).parent_path().string();
  Fd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0 && ::fsync(dfd.get()) != 0 && errno != EINVAL)
    throw_errno("cannot fsync directory '" + dir + "'");
}

BackgroundWriter::BackgroundWriter() {
  // The thread inherits the signal mask of its creator: block everything while creating it, so
  // that SIGTERM/SIGINT keep going to the threads that watch for them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  try {
    thread_ = std::thread([this] { loop(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

BackgroundWriter::~BackgroundWriter() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();  // loop() runs the queue to its end first
  if (error_) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rlmpi: warning: a background file write failed: %s\n", e.what());
    }
  }
}

void BackgroundWriter::submit(std::function<void()> job) {
  {
    const std::lock_guard lock(mutex_);
    if (error_) return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void BackgroundWriter::wait() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return jobs_.empty() && !busy_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void BackgroundWriter::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stop_ and nothing left
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    busy_ = true;
    lock.unlock();
    std::exception_ptr failed;
    try {
      job();
    } catch (...) {
      failed = std::current_exception();
    }
    lock.lock();
    busy_ = false;
    if (failed && !error_) {
      error_ = failed;
      jobs_.clear();  // what follows a failed write must not happen (e.g. printing its epoch)
    }
    if (jobs_.empty()) idle_.notify_all();
  }
}

}  // namespace rlmpi::io
