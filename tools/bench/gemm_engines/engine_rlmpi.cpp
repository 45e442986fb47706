// Engines "eigen-<isa>": rlmpi's own GEMM path, the kernel table of each instruction set this CPU
// runs (nn::detail::kernel_table: Eigen 3.4's general_matrix_matrix_product with caller-owned,
// 64-byte aligned packing buffers, planned once per shape as Mlp plans its layers), called
// exactly as src/nn/mlp.cpp calls it. Nothing is compiled here for a particular ISA: librlmpi
// carries the three copies (src/nn/kernels) and this plugin only picks a table.
//
// Engine "eigen-<best isa>-blk(...)" (the "better blocking" candidate of issue 18): the same call
// with kc, mc and/or nc set instead of taken from Eigen's heuristic (only when block sizes are
// given: RG_EIGEN_BLOCK at configure time or RG_EIGEN_KC/MC/NC in the environment).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "engine_api.h"
#include "rlmpi/nn/gemm.hpp"
#include "rlmpi/nn/isa.hpp"

#ifndef RG_EIGEN_KC_DEFAULT
#define RG_EIGEN_KC_DEFAULT 0
#endif
#ifndef RG_EIGEN_MC_DEFAULT
#define RG_EIGEN_MC_DEFAULT 0
#endif
#ifndef RG_EIGEN_NC_DEFAULT
#define RG_EIGEN_NC_DEFAULT 0
#endif

namespace {

namespace nn = rlmpi::nn;
using rlmpi::Index;

// Block-size overrides of the "-blk" engine: 0 = Eigen's value, otherwise min(value, dimension).
struct Override {
  Index kc = 0, mc = 0, nc = 0;
  bool any() const { return kc > 0 || mc > 0 || nc > 0; }
};

struct PlanBase {
  virtual ~PlanBase() = default;
};
template <class T>
struct Plan : PlanBase {
  typename nn::detail::Kernels<T>::Gemm f = nullptr;
  nn::detail::GemmPlan p;
  T* block_a = nullptr;
  T* block_b = nullptr;
  ~Plan() override {
    std::free(block_a);
    std::free(block_b);
  }
};

template <class T>
void* plan_t(nn::Isa isa, const rg_gemm& g, const Override& o) {
  const nn::detail::Kernels<T>& k = nn::detail::kernels_of<T>(nn::detail::kernel_table(isa));
  if (g.a_row_major && g.b_row_major) return nullptr;  // not a layout of the MLP
  auto* pl = new (std::nothrow) Plan<T>;
  if (pl == nullptr) return nullptr;
  pl->f = g.a_row_major ? k.rc : g.b_row_major ? k.cr : k.cc;
  pl->p = k.plan(g.m, g.n, g.k);
  if (o.kc > 0) pl->p.kc = std::min<Index>(o.kc, g.k);
  if (o.mc > 0) pl->p.mc = std::min<Index>(o.mc, g.m);
  if (o.nc > 0) pl->p.nc = std::min<Index>(o.nc, g.n);
  auto bytes = [](Index count) { return (static_cast<std::size_t>(count) * sizeof(T) + 63) / 64 * 64; };
  pl->block_a = static_cast<T*>(std::aligned_alloc(64, bytes(pl->p.kc * pl->p.mc)));
  pl->block_b = static_cast<T*>(std::aligned_alloc(64, bytes(pl->p.kc * pl->p.nc)));
  if (pl->block_a == nullptr || pl->block_b == nullptr) {
    delete pl;
    return nullptr;
  }
  if (std::getenv("RG_EIGEN_VERBOSE") != nullptr)
    std::fprintf(stderr, "eigen-%s%s m=%ld n=%ld k=%ld: kc=%ld mc=%ld nc=%ld\n", nn::to_string(isa).c_str(),
                 o.any() ? "-blk" : "", g.m, g.n, g.k, static_cast<long>(pl->p.kc), static_cast<long>(pl->p.mc),
                 static_cast<long>(pl->p.nc));
  return static_cast<PlanBase*>(pl);
}

template <class T>
void run_t(Plan<T>& pl, const rg_gemm& g) {
  pl.f(pl.p, g.m, g.n, g.k, static_cast<const T*>(g.a), g.lda, static_cast<const T*>(g.b), g.ldb,
       static_cast<T*>(g.c), g.ldc, T(1), pl.block_a, pl.block_b);
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

// One plan function per (ISA, tuned) pair: the engine table holds plain function pointers.
template <nn::Isa I, bool Tuned>
void* plan(const rg_gemm* g) {
  const Override o = Tuned ? tuned() : Override{};
  return g->dtype == 0 ? plan_t<float>(I, *g, o) : plan_t<double>(I, *g, o);
}

void run(void* p, const rg_gemm* g) {
  if (g->dtype == 0)
    run_t(*static_cast<Plan<float>*>(static_cast<PlanBase*>(p)), *g);
  else
    run_t(*static_cast<Plan<double>*>(static_cast<PlanBase*>(p)), *g);
}

void release(void* p) { delete static_cast<PlanBase*>(p); }

const char* info() {
  return "rlmpi's nn kernels (Eigen 3.4 general_matrix_matrix_product, src/nn/kernels, one copy per ISA)";
}

std::vector<std::string> names;
std::vector<rg_engine> engines;

}  // namespace

RG_EXPORT const rg_engine* rg_get_engines(int* count) {
  names.clear();
  engines.clear();
  using P = void* (*)(const rg_gemm*);
  const struct {
    nn::Isa isa;
    P plain, blk;
  } sets[] = {{nn::Isa::Sse2, &plan<nn::Isa::Sse2, false>, &plan<nn::Isa::Sse2, true>},
              {nn::Isa::Avx2, &plan<nn::Isa::Avx2, false>, &plan<nn::Isa::Avx2, true>},
              {nn::Isa::Avx512, &plan<nn::Isa::Avx512, false>, &plan<nn::Isa::Avx512, true>}};
  names.reserve(4);  // the engines keep pointers into these strings
  const Override o = tuned();
  for (const auto& s : sets) {
    if (!nn::cpu_supports(s.isa)) continue;
    names.push_back("eigen-" + nn::to_string(s.isa));
    engines.push_back({RG_API_VERSION, names.back().c_str(), info, s.plain, run, release});
  }
  if (o.any()) {
    const auto& best = sets[static_cast<int>(nn::best_isa())];
    char buf[96];
    std::snprintf(buf, sizeof buf, "eigen-%s-blk(k%ld,m%ld,n%ld)", nn::to_string(best.isa).c_str(),
                  static_cast<long>(o.kc), static_cast<long>(o.mc), static_cast<long>(o.nc));
    names.push_back(buf);
    engines.push_back({RG_API_VERSION, names.back().c_str(), info, best.blk, run, release});
  }
  *count = static_cast<int>(engines.size());
  return engines.data();
}
