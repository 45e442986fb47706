// Engine "blis": BLIS 0.9.0 (Debian libblis4-openmp) through its typed API bli_?gemm, which
// takes a row and a column stride per operand, so the row-major operands need neither a flag
// nor a copy. One thread (BLIS_NUM_THREADS=OMP_NUM_THREADS=1 set by the driver before loading,
// and bli_thread_set_num_threads(1) here). Sub-configuration: BLIS's runtime detection.
#include <blis.h>

#include <cstdio>
#include <cstdlib>

#include "engine_api.h"

namespace {

const bool use_trans = std::getenv("RG_BLIS_TRANS") != nullptr;

struct Plan {};
Plan the_plan;

void* plan(const rg_gemm*) { return &the_plan; }

template <class T, class F>
void call(F f, const rg_gemm& g) {
  T one = 1;
  inc_t rsa = g.a_row_major ? g.lda : 1, csa = g.a_row_major ? 1 : g.lda;
  inc_t rsb = g.b_row_major ? g.ldb : 1, csb = g.b_row_major ? 1 : g.ldb;
  trans_t ta = BLIS_NO_TRANSPOSE, tb = BLIS_NO_TRANSPOSE;
  if (use_trans) {  // the BLAS way: a transposed column-major matrix instead of a row stride
    if (g.a_row_major) { ta = BLIS_TRANSPOSE; rsa = 1; csa = g.lda; }
    if (g.b_row_major) { tb = BLIS_TRANSPOSE; rsb = 1; csb = g.ldb; }
  }
  // BLIS's typed API takes non-const pointers for inputs; it does not write them.
  f(ta, tb, g.m, g.n, g.k, &one,
    const_cast<T*>(static_cast<const T*>(g.a)), rsa, csa,
    const_cast<T*>(static_cast<const T*>(g.b)), rsb, csb, &one, static_cast<T*>(g.c), 1, g.ldc);
}

void run(void*, const rg_gemm* g) {
  if (g->dtype == 0)
    call<float>(bli_sgemm, *g);
  else
    call<double>(bli_dgemm, *g);
}

void release(void*) {}

const char* info() {
  static char buf[256];
  std::snprintf(buf, sizeof buf, "BLIS %s arch=%s threads=%ld (openmp build)", bli_info_get_version_str(),
                bli_arch_string(bli_arch_query_id()), static_cast<long>(bli_thread_get_num_threads()));
  return buf;
}

const rg_engine engines[1] = {{RG_API_VERSION, "blis", info, plan, run, release}};

}  // namespace

RG_EXPORT const rg_engine* rg_get_engines(int* count) {
  bli_thread_set_num_threads(1);
  *count = 1;
  return engines;
}
