// Engine "eigen-<isa>": rlmpi's GEMM path -- Eigen 3.4's GEMM driver
// internal::general_matrix_matrix_product with caller-owned packing buffers (64-byte aligned)
// and the blocking of Eigen's computeProductBlockingSizes, planned once per shape as Mlp plans
// plan_fwd_/plan_dw_/plan_dx_. This is the code of include/rlmpi/nn/gemm.hpp at b5452bc (and of
// src/nn/kernels/kernels.cpp, where that code is moving), copied here so this benchmark does not
// depend on an internal header that is being edited.
//
// This file is compiled once per ISA (RG_EIGEN_ISA = sse2 | v3 | v4 with -march=x86-64,
// x86-64-v3, x86-64-v4); each build is its own plugin with hidden visibility, so the Eigen
// instantiations of one ISA cannot be merged with another's.
//
// Engine "eigen-<isa>-blk(...)" (the "better blocking" candidate of issue 18): the same driver
// call with kc, mc and/or nc set instead of taken from Eigen's heuristic (built only when
// block sizes are given; see gemm-engines.md for what was tried).
#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "engine_api.h"

#ifndef RG_EIGEN_ISA
#error "define RG_EIGEN_ISA (sse2, v3 or v4)"
#endif
// Built-in block sizes of the "-blk" engine (0 = Eigen's; all 0 = no such engine unless one of
// RG_EIGEN_KC/MC/NC is set in the environment).
#ifndef RG_EIGEN_KC_DEFAULT
#define RG_EIGEN_KC_DEFAULT 0
#endif
#ifndef RG_EIGEN_MC_DEFAULT
#define RG_EIGEN_MC_DEFAULT 0
#endif
#ifndef RG_EIGEN_NC_DEFAULT
#define RG_EIGEN_NC_DEFAULT 0
#endif
#define RG_STR2(x) #x
#define RG_STR(x) RG_STR2(x)

namespace {

using Index = Eigen::Index;

struct GemmPlan {
  Index kc = 0, mc = 0, nc = 0;
};

// Eigen's blocking interface with our buffers (it only reads blockA/blockB/kc/mc/nc).
template <class T>
class Blocking : public Eigen::internal::level3_blocking<T, T> {
 public:
  Blocking(T* a, T* b, const GemmPlan& p) {
    this->m_blockA = a;
    this->m_blockB = b;
    this->m_kc = p.kc;
    this->m_mc = p.mc;
    this->m_nc = p.nc;
  }
};

template <class T>
struct GemmWorkspace {
  GemmPlan plan(Index m, Index n, Index k) {
    GemmPlan p{k, m, n};
    Eigen::internal::computeProductBlockingSizes<T, T, 1>(p.kc, p.mc, p.nc, Index{1});
    return p;
  }
  bool alloc(const GemmPlan& p) {
    auto bytes = [](Index count) { return (static_cast<std::size_t>(count) * sizeof(T) + 63) / 64 * 64; };
    block_a = static_cast<T*>(std::aligned_alloc(64, bytes(p.kc * p.mc)));
    block_b = static_cast<T*>(std::aligned_alloc(64, bytes(p.kc * p.nc)));
    return block_a != nullptr && block_b != nullptr;
  }
  ~GemmWorkspace() {
    std::free(block_a);
    std::free(block_b);
  }
  template <int AOrder, int BOrder>
  void gemm(const GemmPlan& p, Index m, Index n, Index k, const T* a, Index lda, const T* b, Index ldb,
            T* c, Index ldc) {
    Blocking<T> blocking(block_a, block_b, p);
    Eigen::internal::general_matrix_matrix_product<Index, T, AOrder, false, T, BOrder, false,
                                                   Eigen::ColMajor, 1>::run(m, n, k, a, lda, b, ldb, c,
                                                                            1, ldc, T(1), blocking,
                                                                            nullptr);
  }
  T* block_a = nullptr;
  T* block_b = nullptr;
};

struct PlanBase {
  virtual ~PlanBase() = default;
};
template <class T>
struct Plan : PlanBase {
  GemmWorkspace<T> ws;
  GemmPlan p;
};

template <class T>
void run_t(Plan<T>& pl, const rg_gemm& g) {
  const T* a = static_cast<const T*>(g.a);
  const T* b = static_cast<const T*>(g.b);
  T* c = static_cast<T*>(g.c);
  if (g.a_row_major) {
    if (g.b_row_major)
      pl.ws.template gemm<Eigen::RowMajor, Eigen::RowMajor>(pl.p, g.m, g.n, g.k, a, g.lda, b, g.ldb, c, g.ldc);
    else
      pl.ws.template gemm<Eigen::RowMajor, Eigen::ColMajor>(pl.p, g.m, g.n, g.k, a, g.lda, b, g.ldb, c, g.ldc);
  } else {
    if (g.b_row_major)
      pl.ws.template gemm<Eigen::ColMajor, Eigen::RowMajor>(pl.p, g.m, g.n, g.k, a, g.lda, b, g.ldb, c, g.ldc);
    else
      pl.ws.template gemm<Eigen::ColMajor, Eigen::ColMajor>(pl.p, g.m, g.n, g.k, a, g.lda, b, g.ldb, c, g.ldc);
  }
}

// Block-size overrides of the "-blk" engine: 0 = Eigen's value, otherwise min(value, dimension).
struct Override {
  Index kc = 0, mc = 0, nc = 0;
  bool any() const { return kc > 0 || mc > 0 || nc > 0; }
};

template <class T>
void* plan_t(const rg_gemm& g, const Override& o) {
  auto* pl = new (std::nothrow) Plan<T>;
  if (pl == nullptr) return nullptr;
  pl->p = pl->ws.plan(g.m, g.n, g.k);
  if (o.kc > 0) pl->p.kc = std::min<Index>(o.kc, g.k);
  if (o.mc > 0) pl->p.mc = std::min<Index>(o.mc, g.m);
  if (o.nc > 0) pl->p.nc = std::min<Index>(o.nc, g.n);
  if (!pl->ws.alloc(pl->p)) {
    delete pl;
    return nullptr;
  }
  if (std::getenv("RG_EIGEN_VERBOSE") != nullptr)
    std::fprintf(stderr, "eigen-%s%s m=%ld n=%ld k=%ld: kc=%ld mc=%ld nc=%ld\n", RG_STR(RG_EIGEN_ISA),
                 o.any() ? "-blk" : "", g.m, g.n, g.k, static_cast<long>(pl->p.kc),
                 static_cast<long>(pl->p.mc), static_cast<long>(pl->p.nc));
  return static_cast<PlanBase*>(pl);
}

void* plan_default(const rg_gemm* g) {
  return g->dtype == 0 ? plan_t<float>(*g, {}) : plan_t<double>(*g, {});
}

Index env_or(const char* name, Index dflt) {
  const char* e = std::getenv(name);
  return e != nullptr ? std::atol(e) : dflt;
}
// RG_EIGEN_KC/MC/NC (for exploring) override the built-in values of the "-blk" engine.
Override tuned() {
  return {env_or("RG_EIGEN_KC", RG_EIGEN_KC_DEFAULT), env_or("RG_EIGEN_MC", RG_EIGEN_MC_DEFAULT),
          env_or("RG_EIGEN_NC", RG_EIGEN_NC_DEFAULT)};
}
void* plan_tuned(const rg_gemm* g) {
  return g->dtype == 0 ? plan_t<float>(*g, tuned()) : plan_t<double>(*g, tuned());
}

void run(void* p, const rg_gemm* g) {
  if (g->dtype == 0)
    run_t(*static_cast<Plan<float>*>(static_cast<PlanBase*>(p)), *g);
  else
    run_t(*static_cast<Plan<double>*>(static_cast<PlanBase*>(p)), *g);
}

void release(void* p) { delete static_cast<PlanBase*>(p); }

const char* info() {
  static char buf[256];
  std::snprintf(buf, sizeof buf,
                "Eigen %d.%d.%d general_matrix_matrix_product (rlmpi gemm.hpp call), compiled %s "
                "(SIMD: %s)",
                EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, RG_STR(RG_EIGEN_MARCH),
                Eigen::SimdInstructionSetsInUse());
  return buf;
}

char tuned_name[64];
rg_engine engines[2] = {
    {RG_API_VERSION, "eigen-" RG_STR(RG_EIGEN_ISA), info, plan_default, run, release},
    {RG_API_VERSION, nullptr, info, plan_tuned, run, release},
};

}  // namespace

RG_EXPORT const rg_engine* rg_get_engines(int* count) {
  const Override o = tuned();
  std::snprintf(tuned_name, sizeof tuned_name, "eigen-%s-blk(k%ld,m%ld,n%ld)", RG_STR(RG_EIGEN_ISA),
                static_cast<long>(o.kc), static_cast<long>(o.mc), static_cast<long>(o.nc));
  engines[1].name = tuned_name;
  *count = o.any() ? 2 : 1;
  return engines;
}
