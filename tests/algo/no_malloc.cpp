// Proof that Algorithm<T>::update (vpg, trpo, ppo clip and penalty, Spinning Up and minibatch
// schemes, with --clip-vloss, --ent-coef, --max-grad-norm; double and float; Categorical and
// Gaussian policies) makes no heap allocation at all once a first update has sized its work
// space: not Eigen's, not std::vector's or std::function's, not the nn or mpi layers'.
//
// How the proof is made sound: this executable defines malloc, calloc, realloc, memalign,
// aligned_alloc, posix_memalign, valloc and pvalloc, which forward to glibc's __libc_*
// functions and count the calls made by a thread while that thread has counting switched on.
// An executable's definitions come first in the dynamic linker's lookup scope, so every heap
// allocation of the process goes through them, whoever makes it: librlmpi.so's code, libstdc++'s
// operator new (std::vector, std::string, std::function), Eigen's aligned_malloc, Open MPI.
// (free is not wrapped: glibc's free takes back what __libc_malloc gave.) Nothing is recompiled
// and no library symbol is duplicated, so the code measured is exactly the shipped
// librlmpi.so that the rlmpi program runs; tests/nn/no_malloc.cpp's method
// (EIGEN_RUNTIME_NO_MALLOC) sees only Eigen's allocations, and only in code compiled with the
// macro, which is why it must recompile the nn sources into a separate ABI namespace. The first
// test case shows that the counter is live for new, std::vector and Eigen.
//
// What it does not cover: other threads (the update runs on the calling thread only), MPI's
// internals with several ranks (here one rank on MPI_COMM_SELF; Open MPI's multi-rank
// allreduce algorithms may allocate temporaries of their own), and the first update of a run,
// which sizes the work space. Sanitizer builds (RLMPI_SANITIZE) interpose malloc themselves;
// there the counting is compiled out and the test only reports that.
#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <malloc.h>
#include <memory>
#include <vector>

#include "algo_test_util.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RLMPI_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define RLMPI_COUNT_MALLOC 0
#endif
#endif
#ifndef RLMPI_COUNT_MALLOC
#define RLMPI_COUNT_MALLOC 1
#endif

namespace {
// Constant-initialised thread-locals of the executable: static TLS, usable from the first malloc.
thread_local bool t_counting = false;
thread_local long t_allocations = 0;
inline void note() {
  if (t_counting) ++t_allocations;
}
}  // namespace

#if RLMPI_COUNT_MALLOC
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);

void* malloc(size_t n) noexcept {
  note();
  return __libc_malloc(n);
}
void* calloc(size_t k, size_t n) noexcept {
  note();
  return __libc_calloc(k, n);
}
void* realloc(void* p, size_t n) noexcept {
  note();
  return __libc_realloc(p, n);
}
void* memalign(size_t align, size_t n) noexcept {
  note();
  return __libc_memalign(align, n);
}
void* aligned_alloc(size_t align, size_t n) noexcept {
  note();
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) noexcept {
  note();
  if (align % sizeof(void*) != 0 || (align & (align - 1)) != 0) return EINVAL;
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(size_t n) noexcept {
  note();
  return __libc_valloc(n);
}
void* pvalloc(size_t n) noexcept {
  note();
  return __libc_pvalloc(n);
}
}  // extern "C"
#endif

using namespace algo_test;

namespace {

// Heap allocations made by f on this thread.
template <class F>
long allocations_in(F&& f) {
  t_allocations = 0;
  t_counting = true;
  f();
  t_counting = false;
  return t_allocations;
}

// Keeps the compiler from removing an allocation whose result is unused.
inline void escape(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

template <class T>
long allocations_of_later_updates(Config cfg, bool discrete) {
  const mpi::Comm self = self_comm();
  // As the trainer calls it: stop check piggybacked on every vector average, time accounted.
  const std::function<bool()> stop = [] { return false; };
  double comm_seconds = 0;
  const mpi::Comm comm = self.with_stop_check(&stop).timed(&comm_seconds);
  const int obs_dim = 5, nact = discrete ? 4 : 3;
  algo::ActorCritic<T> ac = algo::make_actor_critic<T>(cfg, obs_dim, discrete, nact, self);
  const Index n = 600;
  algo::RolloutBuffer<T> b(n / 2, 2, obs_dim, ac.pi->act_dim(), ac.pi->dist_dim(), cfg.gamma, cfg.lam);
  Rng rng(cfg.seed + 1);
  for (Index i = 0; i < n; ++i)
    for (int j = 0; j < obs_dim; ++j) b.obs(i, j) = static_cast<T>(rng.normal());
  ac.pi->forward(ac.pi_params, b.obs);
  ac.pi->sample(rng, b.act);
  ac.pi->logp(b.act, b.logp);
  ac.pi->dist_params(b.dist);
  for (Index i = 0; i < n; ++i) {
    b.adv[i] = static_cast<T>(rng.normal());
    b.ret[i] = static_cast<T>(rng.normal());
    b.val[i] = b.ret[i] + static_cast<T>(0.3 * rng.normal());
  }
  auto alg = algo::make_algorithm<T>(cfg, ac);
  algo::UpdateContext ctx{comm, rng, /*rollout_at_params=*/true};  // as the trainer calls it
  alg->update(ac, b, ctx);  // sizes the work space
  return allocations_in([&] {
    for (int rep = 0; rep < 2; ++rep) {
      const algo::UpdateStats s = alg->update(ac, b, ctx);
      escape(&s);
    }
  });
}

std::vector<Config> configurations() {
  std::vector<Config> out;
  auto base = [](const std::string& algo) {
    Config c;
    c.algo = algo;
    c.seed = 3;
    c.hid = {32, 32};
    c.train_pi_iters = 4;
    c.train_v_iters = 3;
    c.target_kl = 1e9;
    return c;
  };
  out.push_back(base("vpg"));
  Config vpg = base("vpg");
  vpg.ent_coef = 0.01;
  vpg.max_grad_norm = 0.5;
  vpg.clip_vloss = true;
  out.push_back(vpg);
  out.push_back(base("trpo"));
  Config trpo = base("trpo");
  trpo.clip_vloss = true;
  trpo.delta = 1.0;  // different line-search paths
  out.push_back(trpo);
  out.push_back(base("ppo"));
  Config ppo = base("ppo");
  ppo.ent_coef = 0.01;
  ppo.max_grad_norm = 0.5;
  ppo.clip_vloss = true;
  ppo.target_kl = 1e-4;  // early stop inside the loop
  out.push_back(ppo);
  Config mb = base("ppo");
  mb.update_epochs = 3;
  mb.minibatch_size = 128;  // 600 rows: four of 128 and one of 88
  mb.target_kl = 0.05;
  out.push_back(mb);
  Config pen = mb;
  pen.ppo_variant = "penalty";
  pen.ent_coef = 0.01;
  pen.max_grad_norm = 0.5;
  pen.clip_vloss = true;
  out.push_back(pen);
  Config pen_full = base("ppo");
  pen_full.ppo_variant = "penalty";
  out.push_back(pen_full);
  return out;
}

}  // namespace

TEST_CASE("no-malloc: the allocation counter sees new, std::vector and Eigen") {
  if (!RLMPI_COUNT_MALLOC) {
    MESSAGE("sanitizer build: allocation counting compiled out");
    return;
  }
  CHECK(allocations_in([] {
          auto p = std::make_unique<int>(1);
          escape(p.get());
        }) >= 1);
  CHECK(allocations_in([] {
          std::vector<double> v(1000);
          escape(v.data());
        }) >= 1);
  CHECK(allocations_in([] {
          Eigen::VectorXf v(1000);
          escape(v.data());
        }) >= 1);
  CHECK(allocations_in([] {
          std::function<int()> f = [a = std::array<double, 8>{}] { return static_cast<int>(a[0]); };
          escape(&f);
        }) >= 1);
  CHECK(allocations_in([] {}) == 0);
}

TEST_CASE_TEMPLATE("no-malloc: later updates of every algorithm and option allocate nothing", T, double, float) {
  if (!RLMPI_COUNT_MALLOC) {
    MESSAGE("sanitizer build: allocation counting compiled out");
    return;
  }
  for (const Config& cfg : configurations())
    for (bool discrete : {true, false}) {
      CAPTURE(cfg.algo);
      CAPTURE(cfg.ppo_variant);
      CAPTURE(cfg.update_epochs);
      CAPTURE(cfg.clip_vloss);
      CAPTURE(discrete);
      CHECK(allocations_of_later_updates<T>(cfg, discrete) == 0);
    }
}
