// Memory estimate of a run and its check against the limits of the process and its node.
#include "rlmpi/algo/sizing.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <span>
#include <sstream>
#include <string>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/nn/mlp.hpp"

namespace rlmpi::algo {
namespace {

// Layer widths {in, hidden..., out} of a network of the run.
std::vector<double> widths(const Config& cfg, int in, int out) {
  std::vector<double> w{static_cast<double>(in)};
  for (int h : cfg.hid) w.push_back(h);
  w.push_back(out);
  return w;
}

double num_params(const std::vector<double>& w) {
  double p = 0;
  for (std::size_t l = 0; l + 1 < w.size(); ++l) p += w[l] * w[l + 1] + w[l + 1];
  return p;
}

// Entries of an Mlp workspace for n rows (Mlp::reserve and its constructor): every layer's
// activations and the output tangent for all n rows, two backprop buffers of the widest layer for
// one block of rows (Mlp::kBlockRows), and at most three copies of the weights (two sets
// transposed, weight gradients accumulated transposed).
double workspace(const std::vector<double>& w, double n) {
  double sum = 0, widest = 0, weights = 0;
  for (std::size_t l = 0; l < w.size(); ++l) {
    sum += w[l];
    widest = std::max(widest, w[l]);
    if (l + 1 < w.size()) weights += w[l] * w[l + 1];
  }
  const double block = std::min(n, static_cast<double>(nn::Mlp<double>::kBlockRows));
  return n * (sum + w.back()) + 2 * widest * block + 3 * weights;
}

// /proc/self/status "<key>:  123 kB" in bytes, 0 when absent.
double proc_status_bytes(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line)) {
    if (line.compare(0, k.size(), k) != 0) continue;
    std::istringstream in(line.substr(k.size()));
    double kb = 0;
    in >> kb;
    return kb * 1024.0;
  }
  return 0;
}

// Limits at or above this are "unlimited" (cgroup v1 reports 2^63 rounded to a page).
constexpr double kUnlimited = 1e18;

// A cgroup file holding a byte count or "max"; 0 when absent or unlimited.
double read_limit_file(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  if (!(f >> s) || s == "max") return 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  return (end && *end == '\0' && v > 0 && v < kUnlimited) ? v : 0;
}

// Smallest limit named `file` in `dir` and its ancestors up to `root`; 0: none.
double smallest_up_the_tree(const std::string& root, std::string rel, const char* file) {
  double best = 0;
  for (;;) {
    const double v = read_limit_file(root + rel + (rel.empty() || rel.back() != '/' ? "/" : "") + file);
    if (v > 0 && (best == 0 || v < best)) best = v;
    if (rel.empty() || rel == "/") break;
    const auto slash = rel.find_last_of('/');
    rel = slash == std::string::npos || slash == 0 ? std::string("/") : rel.substr(0, slash);
  }
  return best;
}

struct Demand {
  double demand = 0, available = 0;
  double ratio() const { return available > 0 ? demand / available : std::numeric_limits<double>::infinity(); }
};

bool node_wide(MemoryLimit::Kind k) { return k == MemoryLimit::Kind::Physical || k == MemoryLimit::Kind::Cgroup; }

Demand demand_on(double need, int ranks_on_node, const MemoryLimit& l) {
  if (node_wide(l.kind)) return {need * std::max(1, ranks_on_node), l.bytes};
  return {need, l.bytes - l.in_use};
}

std::string limit_text(const MemoryLimit& l, int rank) {
  const std::string of_rank = rank >= 0 ? " of rank " + std::to_string(rank) : "";
  switch (l.kind) {
    case MemoryLimit::Kind::AddressSpace:
      return "the " + format_bytes(l.bytes - l.in_use) + " left under the address-space limit" + of_rank +
             " (ulimit -v, " + format_bytes(l.bytes) + ")";
    case MemoryLimit::Kind::Data:
      return "the " + format_bytes(l.bytes - l.in_use) + " left under the data limit" + of_rank + " (ulimit -d, " +
             format_bytes(l.bytes) + ")";
    case MemoryLimit::Kind::Physical:
      return "the " + format_bytes(l.bytes) + " of physical memory of the node" + of_rank;
    case MemoryLimit::Kind::Cgroup:
      return "the " + format_bytes(l.bytes) + " memory limit of the cgroup" + of_rank + " (e.g. SLURM's --mem)";
  }
  return "";
}

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (int x : v) {
    if (!s.empty()) s += ',';
    s += std::to_string(x);
  }
  return s;
}

// The message for a run that needs more than limit `l` allows (rank >= 0: whose limit it is).
std::string verdict_text(const Config& cfg, int ranks, const NetShape& shape, int ranks_on_node,
                         const MemoryLimit& l, int rank) {
  const double need = estimate_memory(cfg, ranks, shape).total();
  const auto fits = [&](const Config& c) {
    const Demand d = demand_on(estimate_memory(c, ranks, shape).total(), ranks_on_node, l);
    return d.demand <= d.available;
  };
  // The option to blame: the one whose default would save most, preferring one that would fit.
  const Config defaults;
  Config small_net = cfg, small_batch = cfg;
  small_net.hid = defaults.hid;
  small_batch.steps_per_epoch = std::min(cfg.steps_per_epoch, defaults.steps_per_epoch);
  const double save_net = need - estimate_memory(small_net, ranks, shape).total();
  const double save_batch = need - estimate_memory(small_batch, ranks, shape).total();
  const bool net_fits = save_net > 0 && fits(small_net), batch_fits = save_batch > 0 && fits(small_batch);
  std::string option, value, allowed;
  const bool blame_net = net_fits != batch_fits ? net_fits : save_net >= save_batch;
  if (blame_net && save_net > 0) {
    option = "hid";
    value = join_ints(cfg.hid);
    allowed = "hidden layers that fit in memory";
  } else if (save_batch > 0) {
    option = cfg.steps_per_rank > 0 ? "steps-per-rank" : "steps-per-epoch";
    value = std::to_string(cfg.steps_per_rank > 0 ? cfg.steps_per_rank : cfg.steps_per_epoch);
    allowed = cfg.steps_per_rank > 0 ? "a batch per rank that fits in memory"
                                     : "a batch that fits in memory, or more ranks to share it";
  }
  std::string needs = "this run needs at least " + format_bytes(need) + " per rank";
  if (node_wide(l.kind) && ranks_on_node > 1) needs += " x " + std::to_string(ranks_on_node) + " ranks on one node";
  needs += ", more than " + limit_text(l, rank);
  if (option.empty()) return "the run does not fit in memory: " + needs;
  return "invalid value '" + value + "' for --" + option + " (allowed: " + allowed + ": " + needs + ")";
}

// The limit this rank exceeds most (index into limits), -1 when it fits all.
int binding_limit(double need, int ranks_on_node, const std::vector<MemoryLimit>& limits, double* ratio) {
  int worst = -1;
  double worst_ratio = 1.0;
  for (std::size_t i = 0; i < limits.size(); ++i) {
    const double r = demand_on(need, ranks_on_node, limits[i]).ratio();
    if (r > worst_ratio) {
      worst_ratio = r;
      worst = static_cast<int>(i);
    }
  }
  if (ratio) *ratio = worst < 0 ? 0 : worst_ratio;
  return worst;
}

}  // namespace

NetShape net_shape(const env::Env& e) {
  NetShape s;
  s.obs_dim = e.obs_dim();
  s.act_dim = e.act_dim();
  s.discrete = e.action_space().is_discrete();
  s.pi_out = s.discrete ? static_cast<int>(e.action_space().n) : e.act_dim();
  return s;
}

MemoryEstimate estimate_memory(const Config& cfg, int ranks, const NetShape& s) {
  const double t = cfg.precision == "float" ? 4.0 : 8.0;
  const double rows = static_cast<double>(cfg.steps_per_epoch) / std::max(1, ranks);
  const auto pi = widths(cfg, s.obs_dim, s.pi_out), v = widths(cfg, s.obs_dim, 1);
  const double p_pi = num_params(pi) + (s.discrete ? 0 : s.act_dim), p_v = num_params(v);
  const double dist = s.discrete ? s.pi_out : 2.0 * s.act_dim;
  MemoryEstimate m;
  m.params = t * (p_pi + p_v);
  const AlgorithmEntry& algo = find_algorithm(cfg.algo);
  m.optimizer = t * (algo.pi_optimizer_vectors * p_pi + 2 * p_v);
  m.gradients = t * (algo.pi_gradient_vectors * p_pi + p_v);
  // Categorical: log-probabilities, probabilities and their gradient; Gaussian: the gradient.
  const double policy_bufs = s.discrete ? 3 * rows * s.pi_out : rows * s.act_dim;
  m.workspace = t * (workspace(pi, rows) + workspace(v, rows) + policy_bufs);
  m.buffer = t * rows * (s.obs_dim + s.act_dim + dist + 5);
  return m;
}

double cgroup_memory_limit(const std::string& self_cgroup, const std::string& cgroup_root) {
  double best = 0;
  std::istringstream in(self_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    // "<id>:<controllers>:<path>"; v2: "0::<path>".
    const auto a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    double v = 0;
    if (controllers.empty()) {
      v = smallest_up_the_tree(cgroup_root, path, "memory.max");
    } else {
      std::istringstream cs(controllers);
      std::string c;
      bool memory = false;
      while (std::getline(cs, c, ',')) memory = memory || c == "memory";
      if (memory) v = smallest_up_the_tree(cgroup_root + "/memory", path, "memory.limit_in_bytes");
    }
    if (v > 0 && (best == 0 || v < best)) best = v;
  }
  return best;
}

std::vector<MemoryLimit> process_memory_limits(const std::string& cgroup_root) {
  std::vector<MemoryLimit> out;
  rlimit rl{};
  if (::getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    out.push_back({MemoryLimit::Kind::AddressSpace, static_cast<double>(rl.rlim_cur), proc_status_bytes("VmSize")});
  if (::getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    out.push_back({MemoryLimit::Kind::Data, static_cast<double>(rl.rlim_cur), proc_status_bytes("VmData")});
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  const double phys = pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
  if (phys > 0) out.push_back({MemoryLimit::Kind::Physical, phys, 0});
  std::ifstream f("/proc/self/cgroup");
  std::stringstream ss;
  ss << f.rdbuf();
  const double cg = cgroup_memory_limit(ss.str(), cgroup_root);
  if (cg > 0 && (phys == 0 || cg < phys)) out.push_back({MemoryLimit::Kind::Cgroup, cg, 0});
  return out;
}

std::string memory_verdict(const Config& cfg, int ranks, const NetShape& shape, int ranks_on_node,
                           const std::vector<MemoryLimit>& limits) {
  const double need = estimate_memory(cfg, ranks, shape).total();
  const int i = binding_limit(need, ranks_on_node, limits, nullptr);
  if (i < 0) return {};
  return verdict_text(cfg, ranks, shape, ranks_on_node, limits[static_cast<std::size_t>(i)], -1);
}

void check_memory_fit(const Config& cfg, const mpi::Comm& comm, const env::Env& env) {
  const NetShape shape = net_shape(env);
  const int ranks = comm.size();
  const auto limits = process_memory_limits();
  const int on_node = comm.ranks_on_this_host();

  double ratio = 0;
  const int i = binding_limit(estimate_memory(cfg, ranks, shape).total(), on_node, limits, &ratio);
  MemoryLimit none;
  const MemoryLimit& l = i >= 0 ? limits[static_cast<std::size_t>(i)] : none;
  const double mine[5] = {ratio, static_cast<double>(on_node), static_cast<double>(static_cast<int>(l.kind)), l.bytes,
                          l.in_use};
  // Every rank sees every rank's binding limit and builds the same message from the worst.
  const std::vector<double> all = comm.allgather(std::span<const double>(mine, 5));
  int worst = -1;
  for (int r = 0; r < ranks; ++r)
    if (all[5 * static_cast<std::size_t>(r)] > 1.0 &&
        (worst < 0 || all[5 * static_cast<std::size_t>(r)] > all[5 * static_cast<std::size_t>(worst)]))
      worst = r;
  if (worst < 0) return;
  const double* w = &all[5 * static_cast<std::size_t>(worst)];
  const MemoryLimit lw{static_cast<MemoryLimit::Kind>(static_cast<int>(w[2])), w[3], w[4]};
  throw UsageError(verdict_text(cfg, ranks, shape, static_cast<int>(w[1]), lw, ranks > 1 ? worst : -1));
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t u = 0;
  double v = bytes;
  while (std::fabs(v) >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  const int digits = u == 0 || std::fabs(v) >= 100 ? 0 : std::fabs(v) >= 10 ? 1 : 2;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f %s", digits, v, units[u]);
  return buf;
}

}  // namespace rlmpi::algo
