// Engine "openblas": cblas_?gemm of Debian's OpenBLAS (libopenblas0-pthread 0.3.21), forced to
// one thread (OPENBLAS_NUM_THREADS=1 set by the driver before loading, and
// openblas_set_num_threads(1) here). Row-major operands are passed as transposed column-major
// ones (no copies). Core type: OpenBLAS's own runtime detection unless OPENBLAS_CORETYPE is set.
#include <cblas.h>

#include <cstdio>

#include "engine_api.h"

namespace {

struct Plan {};  // nothing to prepare
Plan the_plan;

void* plan(const rg_gemm*) { return &the_plan; }

void run(void*, const rg_gemm* g) {
  const CBLAS_TRANSPOSE ta = g->a_row_major ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = g->b_row_major ? CblasTrans : CblasNoTrans;
  const auto m = static_cast<blasint>(g->m), n = static_cast<blasint>(g->n),
             k = static_cast<blasint>(g->k), lda = static_cast<blasint>(g->lda),
             ldb = static_cast<blasint>(g->ldb), ldc = static_cast<blasint>(g->ldc);
  if (g->dtype == 0)
    cblas_sgemm(CblasColMajor, ta, tb, m, n, k, 1.0f, static_cast<const float*>(g->a), lda,
                static_cast<const float*>(g->b), ldb, 1.0f, static_cast<float*>(g->c), ldc);
  else
    cblas_dgemm(CblasColMajor, ta, tb, m, n, k, 1.0, static_cast<const double*>(g->a), lda,
                static_cast<const double*>(g->b), ldb, 1.0, static_cast<double*>(g->c), ldc);
}

void release(void*) {}

const char* info() {
  static char buf[512];
  openblas_set_num_threads(1);
  std::snprintf(buf, sizeof buf, "OpenBLAS core=%s threads=%d config=\"%s\"", openblas_get_corename(),
                openblas_get_num_threads(), openblas_get_config());
  return buf;
}

const rg_engine engines[1] = {{RG_API_VERSION, "openblas", info, plan, run, release}};

}  // namespace

RG_EXPORT const rg_engine* rg_get_engines(int* count) {
  openblas_set_num_threads(1);
  *count = 1;
  return engines;
}
