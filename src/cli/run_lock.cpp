#include "rlmpi/cli/run_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "rlmpi/core/error.hpp"

namespace rlmpi::cli {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string this_host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

struct Owner {
  std::string job = "-", host;
  long pid = 0;
};

Owner parse_owner(const std::string& text) {
  Owner o;
  std::istringstream in(text);
  std::string field;
  while (in >> field) {
    const auto eq = field.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = field.substr(0, eq), v = field.substr(eq + 1);
    if (k == "job") o.job = v;
    else if (k == "host") o.host = v;
    else if (k == "pid") o.pid = std::strtol(v.c_str(), nullptr, 10);
  }
  return o;
}

// Creates `path` holding exactly `text`, or nothing: the text goes to a private temporary file
// first, which link() then publishes under the lock's name (atomic, fails with EEXIST if the lock
// exists). A full disk leaves no empty lock behind. On failure errno tells why.
bool write_new(const std::string& path, const std::string& text) {
  std::string tmp = path + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return false;
  int err = 0;
  const ssize_t n = ::write(fd, text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size())) err = n < 0 ? errno : ENOSPC;  // short write: the disk is full
  if (::fchmod(fd, 0644) != 0 && err == 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::link(tmp.c_str(), path.c_str()) != 0) err = errno;
  ::unlink(tmp.c_str());
  errno = err;
  return err == 0;
}

// No such process, or a zombie: killed (or exited) and not yet reaped by its parent, which may
// be slow or, in a container whose PID 1 is no init, never come; kill(pid, 0) succeeds on it.
bool process_gone(long pid) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && (line[close + 2] == 'Z' || line[close + 2] == 'X');
}

}  // namespace

RunLock::RunLock(const std::string& dir) {
  const std::string path = dir + "/rlmpi.lock";
  const std::string job = env_or("SLURM_JOB_ID", "-");
  const std::string me = "job=" + job + " host=" + this_host() + " pid=" + std::to_string(::getpid()) + "\n";
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (write_new(path, me)) {
      path_ = path;
      return;
    }
    if (errno != EEXIST)
      throw UsageError("cannot create lock file '" + path + "': " + std::strerror(errno) +
                       " (allowed: a run directory rlmpi can write)");
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    const Owner o = parse_owner(text.str());
    const bool same_host = o.host == this_host();
    const bool dead = same_host && o.pid > 0 && process_gone(o.pid);
    const bool requeued_self = job != "-" && o.job == job;
    // Locks are written whole (write_new); one without an owner is a leftover of an older
    // rlmpi that died on a full disk.
    const bool ownerless = o.pid <= 0 && o.host.empty();
    if (!dead && !requeued_self && !ownerless)
      throw UsageError("run directory '" + dir + "' is in use by job " + o.job + " on host " + o.host + " (pid " +
                       std::to_string(o.pid) + "); if that job is dead, remove '" + path + "'");
    std::fprintf(stderr, "rlmpi: warning: taking over the stale lock '%s' of job %s on %s (pid %ld)\n", path.c_str(),
                 o.job.c_str(), o.host.c_str(), o.pid);
    ::unlink(path.c_str());
  }
  throw UsageError("cannot take the lock '" + path + "' (another process raced for it)");
}

RunLock::~RunLock() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

RunLock::RunLock(RunLock&& o) noexcept : path_(std::exchange(o.path_, {})) {}

RunLock& RunLock::operator=(RunLock&& o) noexcept {
  if (this != &o) {
    if (!path_.empty()) ::unlink(path_.c_str());
    path_ = std::exchange(o.path_, {});
  }
  return *this;
}

void check_slurm_world_size(int world_size) {
  for (const char* var : {"SLURM_NTASKS", "SLURM_NPROCS"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end && *end == '\0' && n != world_size)
      throw UsageError(std::string(var) + "=" + v + " but the MPI world has " + std::to_string(world_size) +
                       " rank(s) (allowed: the same number; under srun use --mpi=pmix, or launch with mpirun "
                       "inside the allocation)");
    return;
  }
}

}  // namespace rlmpi::cli
