// Engine "xsmm": LIBXSMM 1.17 (Debian libxsmm-dev, static libxsmm.a + libxsmmnoblas.a, so no
// BLAS is linked and nothing can silently fall back to one) JIT kernels.
//
// libxsmm_?gemm would not do: it JITs only when m*n*k <= LIBXSMM_MAX_MNK (64^3 in this build)
// and otherwise calls the BLAS sgemm_/dgemm_, so at N = 4000 it would measure that BLAS. Instead
// this engine dispatches JIT kernels (libxsmm_?mmdispatch, alpha = beta = 1) once per shape
// (the plan) and calls them on blocks:
//   * n > nb (forward and dX, n = N): one kernel per block of nb columns of B and C (and one
//     for the remainder), m and k whole;
//   * k > kb (dW, k = N): the whole problem in k-blocks of kb, accumulating into C (beta = 1);
//     kb = 0 means one kernel with k = N (the JIT accepts it).
// Layouts: the 1.17 x86 JIT supports LIBXSMM_GEMM_FLAG_TRANS_B but not TRANS_A (dispatch
// returns null), so the dW shape (B row-major) uses TRANS_B, and the forward shape (A = W
// row-major, at most 64 x 64) copies W transposed into a preallocated buffer on every call --
// the copy is inside the timed call (rlmpi's W changes every optimizer step).
// nb and kb: RG_XSMM_NB / RG_XSMM_KB override the defaults (chosen by measurement, see
// tools/bench/results/gemm-engines.md).
#include <libxsmm.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "engine_api.h"

#ifndef RG_XSMM_NB_DEFAULT
#define RG_XSMM_NB_DEFAULT 64
#endif
#ifndef RG_XSMM_KB_DEFAULT
#define RG_XSMM_KB_DEFAULT 32
#endif

namespace {

long env_or(const char* name, long dflt) {
  const char* e = std::getenv(name);
  return e != nullptr ? std::atol(e) : dflt;
}

struct PlanBase {
  virtual ~PlanBase() = default;
  virtual void run(const rg_gemm& g) = 0;
};

template <class T>
struct Traits;
template <>
struct Traits<float> {
  using Fn = libxsmm_smmfunction;
  static Fn dispatch(libxsmm_blasint m, libxsmm_blasint n, libxsmm_blasint k, libxsmm_blasint lda,
                     libxsmm_blasint ldb, libxsmm_blasint ldc, int flags) {
    const float one = 1;
    const int prefetch = LIBXSMM_PREFETCH_NONE;
    return libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &one, &one, &flags, &prefetch);
  }
};
template <>
struct Traits<double> {
  using Fn = libxsmm_dmmfunction;
  static Fn dispatch(libxsmm_blasint m, libxsmm_blasint n, libxsmm_blasint k, libxsmm_blasint lda,
                     libxsmm_blasint ldb, libxsmm_blasint ldc, int flags) {
    const double one = 1;
    const int prefetch = LIBXSMM_PREFETCH_NONE;
    return libxsmm_dmmdispatch(m, n, k, &lda, &ldb, &ldc, &one, &one, &flags, &prefetch);
  }
};

template <class T>
struct Plan : PlanBase {
  using Fn = typename Traits<T>::Fn;
  long nb = 0, kb = 0;      // block sizes actually used (n or k if not blocked)
  long lda = 0;             // of the A the kernels read (the transposed copy if A is row-major)
  Fn main = nullptr, tail = nullptr;  // kernel for a full block and for the remainder
  std::vector<T> at;        // W transposed (A row-major)

  bool init(const rg_gemm& g) {
    const int flags = g.b_row_major ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
    lda = g.lda;
    if (g.a_row_major) {
      at.resize(static_cast<std::size_t>(g.m * g.k));
      lda = g.m;
    }
    const long nb_req = env_or("RG_XSMM_NB", RG_XSMM_NB_DEFAULT);
    const long kb_req = env_or("RG_XSMM_KB", RG_XSMM_KB_DEFAULT);
    nb = g.n;
    kb = g.k;
    if (g.n > g.k && nb_req > 0 && g.n > nb_req) nb = nb_req;       // forward, dX: block n
    else if (g.k > g.n && kb_req > 0 && g.k > kb_req) kb = kb_req;  // dW: block k
    main = Traits<T>::dispatch(g.m, nb, kb, lda, g.ldb, g.ldc, flags);
    if (main == nullptr) return false;
    const long nrem = g.n % nb, krem = g.k % kb;
    if (nrem != 0) tail = Traits<T>::dispatch(g.m, nrem, kb, lda, g.ldb, g.ldc, flags);
    if (krem != 0) tail = Traits<T>::dispatch(g.m, nb, krem, lda, g.ldb, g.ldc, flags);
    return (nrem == 0 && krem == 0) || tail != nullptr;
  }

  void run(const rg_gemm& g) override {
    const T* a = static_cast<const T*>(g.a);
    const T* b = static_cast<const T*>(g.b);
    T* c = static_cast<T*>(g.c);
    if (g.a_row_major) {  // at(i, p) = a(i, p) = a[i*lda + p], stored column-major m x k
      T* t = at.data();
      for (long i = 0; i < g.m; ++i)
        for (long p = 0; p < g.k; ++p) t[i + p * g.m] = a[i * g.lda + p];
      a = t;
    }
    if (nb < g.n) {  // column blocks of B and C (B is column-major here)
      long j = 0;
      for (; j + nb <= g.n; j += nb) main(a, b + j * g.ldb, c + j * g.ldc);
      if (j < g.n) tail(a, b + j * g.ldb, c + j * g.ldc);
    } else if (kb < g.k) {  // k blocks: A columns p.., B "rows" p.. (stored column p.. if TRANS_B)
      const long bstep = g.b_row_major ? g.ldb : 1;
      long p = 0;
      for (; p + kb <= g.k; p += kb) main(a + p * lda, b + p * bstep, c);
      if (p < g.k) tail(a + p * lda, b + p * bstep, c);
    } else {
      main(a, b, c);
    }
  }
};

template <class T>
void* plan_t(const rg_gemm& g) {
  auto* p = new (std::nothrow) Plan<T>;
  if (p == nullptr) return nullptr;
  if (!p->init(g)) {
    delete p;
    return nullptr;
  }
  return static_cast<PlanBase*>(p);
}

void* plan(const rg_gemm* g) { return g->dtype == 0 ? plan_t<float>(*g) : plan_t<double>(*g); }
void run(void* p, const rg_gemm* g) { static_cast<PlanBase*>(p)->run(*g); }
void release(void* p) { delete static_cast<PlanBase*>(p); }

const char* info() {
  static char buf[256];
  std::snprintf(buf, sizeof buf, "LIBXSMM %s JIT target=%s nb=%ld kb=%ld (no BLAS linked)",
                LIBXSMM_VERSION, libxsmm_get_target_arch(), env_or("RG_XSMM_NB", RG_XSMM_NB_DEFAULT),
                env_or("RG_XSMM_KB", RG_XSMM_KB_DEFAULT));
  return buf;
}

const rg_engine engines[1] = {{RG_API_VERSION, "xsmm", info, plan, run, release}};

}  // namespace

RG_EXPORT const rg_engine* rg_get_engines(int* count) {
  libxsmm_init();
  *count = 1;
  return engines;
}
