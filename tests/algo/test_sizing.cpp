// Memory estimate and limits of a run (algo/sizing.hpp), and the exception safety of workspace
// growth that a failed allocation depends on (core/safe_resize.hpp, nn::Mlp::reserve).
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <new>
#include <string>
#include <unistd.h>

#include "rlmpi/algo/sizing.hpp"
#include "rlmpi/core/safe_resize.hpp"
#include "rlmpi/nn/policy.hpp"
#include "rlmpi/nn/value.hpp"

namespace fs = std::filesystem;
using rlmpi::Config;
using rlmpi::Index;
using rlmpi::algo::estimate_memory;
using rlmpi::algo::format_bytes;
using rlmpi::algo::memory_verdict;
using rlmpi::algo::MemoryLimit;
using rlmpi::algo::NetShape;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
const NetShape kCartPole{4, 1, 2, true};   // obs 4, one action index, 2 logits
const NetShape kHopper{11, 3, 3, false};   // obs 11, Box(3)

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("rlmpi_sizing_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel) << text;
  }
};

}  // namespace

TEST_CASE("sizing: the estimate counts the real networks' parameters and the documented buffers") {
  const Config cfg = [] {
    Config c;  // ppo, 64,64, 4000 steps
    c.precision = "double";
    return c;
  }();
  const rlmpi::nn::CategoricalPolicy<double> pi(4, 2, cfg.hid, rlmpi::nn::Activation::Tanh);
  const rlmpi::nn::ValueFunction<double> v(4, cfg.hid, rlmpi::nn::Activation::Tanh);
  const double p_pi = static_cast<double>(pi.num_params()), p_v = static_cast<double>(v.num_params());
  CHECK(p_pi == 4610);
  const auto m = estimate_memory(cfg, 1, kCartPole);
  CHECK(m.params == 8 * (p_pi + p_v));
  CHECK(m.optimizer == 8 * 2 * (p_pi + p_v));    // Adam m and v of both
  CHECK(m.gradients == 8 * (2 * p_pi + p_v));    // PPO's gradient and KL gradient, the value fit's
  // Workspaces: activations of every layer + output for all rows, 2 widest for one block of
  // rows (Mlp::kBlockRows = 96), 3 copies of the weights, pi and v; 3 N x 2 policy buffers.
  const double block = static_cast<double>(rlmpi::nn::Mlp<double>::kBlockRows);
  CHECK(block == 96);
  const double w_pi = 4 * 64 + 64 * 64 + 64 * 2, w_v = 4 * 64 + 64 * 64 + 64 * 1;
  CHECK(m.workspace == 8 * (4000.0 * ((4 + 64 + 64 + 2 + 2) + (4 + 64 + 64 + 1 + 1) + 3 * 2) +
                            2 * (2 * 64 * block) + 3 * (w_pi + w_v)));
  CHECK(m.buffer == 8 * 4000.0 * (4 + 1 + 2 + 5));
  CHECK(m.total() == m.params + m.optimizer + m.gradients + m.workspace + m.buffer);

  // Gaussian: log_std joins pi's parameters; dist = mu and log_std.
  const rlmpi::nn::DiagGaussianPolicy<double> g(11, 3, cfg.hid, rlmpi::nn::Activation::Tanh);
  const auto h = estimate_memory(cfg, 1, kHopper);
  const rlmpi::nn::ValueFunction<double> hv(11, cfg.hid, rlmpi::nn::Activation::Tanh);
  CHECK(h.params == 8.0 * static_cast<double>(g.num_params() + hv.num_params()));
  CHECK(h.buffer == 8 * 4000.0 * (11 + 3 + 6 + 5));
}

TEST_CASE("sizing: float halves it, ranks share the batch, algorithms differ in their state") {
  Config cfg;
  cfg.hid = {256, 256};
  cfg.precision = "double";
  const double d = estimate_memory(cfg, 1, kHopper).total();
  cfg.precision = "float";
  CHECK(estimate_memory(cfg, 1, kHopper).total() == doctest::Approx(d / 2));
  cfg.precision = "double";
  const auto one = estimate_memory(cfg, 1, kHopper), four = estimate_memory(cfg, 4, kHopper);
  // The rows' part is shared; the one-block buffers and weight copies are per rank.
  const double fixed = 8.0 * 2 * (2 * 256 * 96.0 + 3 * (11 * 256 + 256 * 256 + 256 * 3.0));  // v's 256 x 1 < pi's
  CHECK(four.workspace < (one.workspace - fixed) / 4 + fixed);
  CHECK(four.workspace > one.workspace / 4);
  CHECK(four.buffer == doctest::Approx(one.buffer / 4));
  CHECK(four.params == one.params);
  cfg.algo = "trpo";  // no Adam for pi, but CG vectors
  const auto trpo = estimate_memory(cfg, 1, kHopper);
  CHECK(trpo.optimizer < one.optimizer);
  CHECK(trpo.gradients > one.gradients);
  // TRPO keeps 8 policy-sized vectors (g, F x, theta_old, full step, CG x r p z), the value fit
  // one gradient.
  const double p_pi = static_cast<double>(
      rlmpi::nn::DiagGaussianPolicy<double>(11, 3, cfg.hid, rlmpi::nn::Activation::Tanh).num_params());
  const double p_v =
      static_cast<double>(rlmpi::nn::ValueFunction<double>(11, cfg.hid, rlmpi::nn::Activation::Tanh).num_params());
  CHECK(trpo.gradients == doctest::Approx(8.0 * (8 * p_pi + p_v)));
  // --hid 300000 on CartPole: tens of GiB (the update's activations for 4000 rows: 2 networks x
  // 4000 x 300000 doubles = 17.9 GiB, plus the one-block buffers).
  Config big;
  big.hid = {300000};
  big.precision = "double";
  CHECK(estimate_memory(big, 1, kCartPole).total() > 18 * kGiB);
  CHECK(estimate_memory(big, 1, kCartPole).total() < 20 * kGiB);
}

TEST_CASE("sizing: the verdict names the option and the limit, in one line") {
  const MemoryLimit vm{MemoryLimit::Kind::AddressSpace, 4000000.0 * 1024, 0.2 * kGiB};
  const MemoryLimit phys{MemoryLimit::Kind::Physical, 16 * kGiB, 0};
  Config cfg;
  CHECK(memory_verdict(cfg, 1, kCartPole, 1, {vm, phys}).empty());

  cfg.hid = {300000};
  std::string msg = memory_verdict(cfg, 1, kCartPole, 1, {vm, phys});
  MESSAGE(msg);
  CHECK(msg.rfind("invalid value '300000' for --hid (allowed: hidden layers that fit in memory: this run needs at "
                  "least ", 0) == 0);
  // The limit exceeded most is reported: the address space, less what the process uses.
  CHECK(contains(msg, "more than the 3.61 GiB left under the address-space limit (ulimit -v, 3.81 GiB))"));
  CHECK(!contains(msg, "\n"));

  cfg = Config{};
  cfg.steps_per_epoch = 2000000000;
  msg = memory_verdict(cfg, 2, kCartPole, 2, {phys});
  MESSAGE(msg);
  CHECK(msg.rfind("invalid value '2000000000' for --steps-per-epoch (allowed: a batch that fits in memory, or "
                  "more ranks to share it: this run needs at least ", 0) == 0);
  CHECK(contains(msg, " per rank x 2 ranks on one node, more than the 16.0 GiB of physical memory of the node)"));

  cfg = rlmpi::resolve_for_ranks([] {
    Config c;
    c.steps_per_rank = 100000000;
    return c;
  }(), 2);
  msg = memory_verdict(cfg, 2, kCartPole, 1, {phys});
  CHECK(msg.rfind("invalid value '100000000' for --steps-per-rank (allowed: a batch per rank that fits", 0) == 0);

  // Both large: the option whose default saves most (here the network).
  cfg = Config{};
  cfg.hid = {100000, 100000};
  cfg.steps_per_epoch = 40000;
  CHECK(memory_verdict(cfg, 1, kCartPole, 1, {phys}).rfind("invalid value '100000,100000' for --hid", 0) == 0);

  // Nothing above its default: no option to blame.
  const MemoryLimit tiny{MemoryLimit::Kind::Cgroup, 1024.0 * 1024, 0};
  msg = memory_verdict(Config{}, 1, kCartPole, 1, {tiny});
  CHECK(msg.rfind("the run does not fit in memory: this run needs at least ", 0) == 0);
  CHECK(contains(msg, "memory limit of the cgroup (e.g. SLURM's --mem)"));
}

TEST_CASE("sizing: node-wide limits are shared by the node's ranks, per-process ones are not") {
  Config cfg;
  cfg.precision = "double";  // the figures below are for 8-byte numbers
  cfg.hid = {58000};  // about 3.6 GiB per rank (the activations of 4000 rows, 2 networks)
  const double need = estimate_memory(cfg, 1, kCartPole).total();
  REQUIRE(need > 3 * kGiB);
  REQUIRE(need < 4 * kGiB);
  const MemoryLimit phys{MemoryLimit::Kind::Physical, 10 * kGiB, 0};
  CHECK(memory_verdict(cfg, 1, kCartPole, 2, {phys}).empty());
  CHECK(contains(memory_verdict(cfg, 1, kCartPole, 3, {phys}), "x 3 ranks on one node"));
  const MemoryLimit vm{MemoryLimit::Kind::AddressSpace, 5 * kGiB, 0.5 * kGiB};
  CHECK(memory_verdict(cfg, 1, kCartPole, 8, {vm}).empty());
  const MemoryLimit data{MemoryLimit::Kind::Data, 4 * kGiB, 0.5 * kGiB};
  CHECK(contains(memory_verdict(cfg, 1, kCartPole, 1, {data}), "left under the data limit (ulimit -d, 4.00 GiB)"));
}

TEST_CASE("sizing: limits of this process: physical memory, ulimit -v, cgroups v1 and v2") {
  const auto has = [](const std::vector<MemoryLimit>& ls, MemoryLimit::Kind k) {
    for (const auto& l : ls)
      if (l.kind == k) return true;
    return false;
  };
  const auto limits = rlmpi::algo::process_memory_limits();
  CHECK(has(limits, MemoryLimit::Kind::Physical));

  // A soft address-space limit well above what the process maps now (sanitizers map terabytes).
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_AS, &old) == 0);
  if (old.rlim_cur == RLIM_INFINITY && old.rlim_max == RLIM_INFINITY) {
    std::ifstream status("/proc/self/status");
    std::string line;
    double vm_kb = 0;
    while (std::getline(status, line))
      if (line.rfind("VmSize:", 0) == 0) vm_kb = std::stod(line.substr(7));
    rlimit lim = old;
    lim.rlim_cur = static_cast<rlim_t>(vm_kb * 1024) + (rlim_t{64} << 30);
    REQUIRE(::setrlimit(RLIMIT_AS, &lim) == 0);
    const auto with_vm = rlmpi::algo::process_memory_limits();
    REQUIRE(::setrlimit(RLIMIT_AS, &old) == 0);
    bool found = false;
    for (const auto& l : with_vm)
      if (l.kind == MemoryLimit::Kind::AddressSpace) {
        found = true;
        CHECK(l.bytes == static_cast<double>(lim.rlim_cur));
        CHECK(l.in_use > 0);
        CHECK(l.in_use < l.bytes);
      }
    CHECK(found);
  }

  TempDir t;
  const std::string root = t.path.string();
  // v2: the smallest of the cgroup and its ancestors; "max" is no limit.
  t.write("a/b/memory.max", "max\n");
  t.write("a/memory.max", "1073741824\n");
  CHECK(rlmpi::algo::cgroup_memory_limit("0::/a/b\n", root) == 1073741824.0);
  CHECK(rlmpi::algo::cgroup_memory_limit("0::/a/b/c\n", root) == 1073741824.0);  // missing files are skipped
  // v1: memory controller's hierarchy; 2^63 rounded down to a page is no limit.
  t.write("memory/x/memory.limit_in_bytes", "9223372036854771712\n");
  CHECK(rlmpi::algo::cgroup_memory_limit("4:memory:/x\n0::/\n", root) == 0);
  t.write("memory/y/memory.limit_in_bytes", "2147483648\n");
  CHECK(rlmpi::algo::cgroup_memory_limit("5:cpu,memory:/y\n", root) == 2147483648.0);
  CHECK(rlmpi::algo::cgroup_memory_limit("5:cpu,memory:/y\n0::/a\n", root) == 1073741824.0);
  CHECK(rlmpi::algo::cgroup_memory_limit("garbage\n", root) == 0);
}

TEST_CASE("sizing: byte counts in binary units, three digits") {
  CHECK(format_bytes(512) == "512 bytes");
  CHECK(format_bytes(1536) == "1.50 KiB");
  CHECK(format_bytes(4000000.0 * 1024) == "3.81 GiB");
  CHECK(format_bytes(53.8 * kGiB) == "53.8 GiB");
  CHECK(format_bytes(512 * 1024.0 * 1024) == "512 MiB");
  CHECK(format_bytes(4.0 * 1024 * kGiB) == "4.00 TiB");
}

// The double free of a std::bad_alloc during an update: Eigen's resize() frees the old block
// before allocating and keeps the freed pointer when the allocation throws, so the destructor
// freed it again. (ASan aborts on an impossible allocation instead of returning null: the run
// test covers the sanitizer build with ASAN_OPTIONS=allocator_may_return_null=1.)
#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("sizing: a failed allocation leaves empty, valid buffers and a usable network") {
  const Index impossible = Index{1} << 48;  // 2^51 bytes of doubles: beyond any address space
  rlmpi::VectorX<double> v = rlmpi::VectorX<double>::Ones(10);
  CHECK_THROWS_AS(rlmpi::safe_resize(v, impossible), std::bad_alloc);
  CHECK(v.size() == 0);
  rlmpi::safe_resize(v, 3);
  CHECK(v.size() == 3);
  rlmpi::MatrixX<float> m(4, 4);
  CHECK_THROWS_AS(rlmpi::safe_resize(m, impossible, 2), std::bad_alloc);
  CHECK(m.size() == 0);

  rlmpi::nn::Mlp<double> mlp({4, 32, 2}, rlmpi::nn::Activation::Tanh);
  rlmpi::VectorX<double> params(mlp.num_params());
  rlmpi::Rng rng(1);
  mlp.init(params, rng);
  const rlmpi::MatrixX<double> x = rlmpi::MatrixX<double>::Constant(16, 4, 0.5);
  const rlmpi::MatrixX<double> y = mlp.forward(params.data(), x);
  CHECK_THROWS_AS(mlp.reserve(impossible), std::bad_alloc);
  CHECK(mlp.capacity() == 0);
  CHECK(rlmpi::MatrixX<double>(mlp.forward(params.data(), x)) == y);  // grows again, same result
}  // the network's destructor: no double free
#endif
