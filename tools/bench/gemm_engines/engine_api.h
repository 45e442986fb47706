#pragma once
// The interface between bench_gemm_engines (the driver) and its engines. Each engine is a shared
// object (gemm_engine_<name>.so) that the driver dlopen()s with RTLD_LOCAL, so
//   * code compiled for one ISA (the Eigen variants: -march=x86-64, x86-64-v3, x86-64-v4) is
//     never linked into, nor interposed on, another's path (each plugin is built with hidden
//     visibility and -Bsymbolic; only rg_get_engines is exported), and the driver loads an
//     ISA variant only after __builtin_cpu_supports says the CPU runs it;
//   * OpenBLAS and BLIS, which export the same BLAS/CBLAS symbols, never meet in one scope.
// Plain C so both sides agree without C++ ABI questions.
#ifdef __cplusplus
extern "C" {
#endif

#define RG_API_VERSION 1

// C (m x n, column-major, leading dimension ldc) += A (m x k) * B (k x n).
// A is column-major (element (i,p) at a[i + p*lda]) or, if a_row_major, row-major (a[i*lda + p]);
// likewise B. These are exactly the three layouts of rlmpi's MLP (see src/nn/mlp.cpp).
typedef struct rg_gemm {
  int dtype;  // 0 = float, 1 = double
  int a_row_major, b_row_major;
  long m, n, k, lda, ldb, ldc;
  const void* a;
  const void* b;
  void* c;
} rg_gemm;

typedef struct rg_engine {
  int api_version;
  const char* name;
  // One line: library version, chosen kernel/core, threads, ISA it was compiled for.
  const char* (*info)(void);
  // Everything that may be done once per shape (JIT, blocking plan, scratch); null = unsupported.
  void* (*plan)(const rg_gemm* g);
  // One C += A*B (what is timed). Must not allocate on the heap in steady state.
  void (*run)(void* plan, const rg_gemm* g);
  void (*release)(void* plan);
} rg_engine;

// Every plugin exports this (it may hold more than one engine).
typedef const rg_engine* (*rg_get_engines_fn)(int* count);
#define RG_ENTRY_NAME "rg_get_engines"

#ifdef __cplusplus
}
#define RG_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define RG_EXPORT __attribute__((visibility("default")))
#endif
