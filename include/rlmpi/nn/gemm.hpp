#pragma once
// Allocation-free GEMM for the nn kernels (internal; included by src/nn only).
//
// Why not `C.noalias() = A * B`: Eigen's product packs its operands into scratch buffers that it
// puts on the stack only up to EIGEN_STACK_ALLOCATION_LIMIT (128 KiB) and otherwise mallocs and
// frees on every call -- which happens exactly at our shapes (64x64 layers, N = 4000). So we keep
// the packing buffers in the network's workspace and call Eigen's own GEMM driver
// (internal::general_matrix_matrix_product, Eigen 3.4) with a blocking object pointing at them.
// Same packing and micro-kernels as Eigen's operator*, no allocation.
#include <Eigen/Core>
#include <algorithm>

#include "rlmpi/core/safe_resize.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {
namespace detail {

// Cache-block sizes for one GEMM shape, from Eigen's heuristic.
struct GemmPlan {
  Index kc = 0, mc = 0, nc = 0;
};

template <class T>
class GemmWorkspace {
 public:
  // Plans C(m x n) += A(m x k) B(k x n) and grows the shared packing buffers to fit. Any later
  // call with m, n, k no larger may use the plan without allocating (block sizes are caps).
  GemmPlan plan(Index m, Index n, Index k) {
    GemmPlan p{k, m, n};
    Eigen::internal::computeProductBlockingSizes<T, T, 1>(p.kc, p.mc, p.nc, Index{1});
    const Index need_a = p.kc * p.mc, need_b = p.kc * p.nc;
    safe_grow(block_a_, need_a);  // not resize(): exception safety, see safe_resize.hpp
    safe_grow(block_b_, need_b);
    return p;
  }

  // Column-major C (m x n, leading dimension ldc) += alpha * A * B, where A is m x k stored in
  // AOrder with leading dimension lda and B is k x n stored in BOrder with leading dimension ldb.
  template <int AOrder, int BOrder>
  void gemm(const GemmPlan& p, Index m, Index n, Index k, const T* a, Index lda, const T* b,
            Index ldb, T* c, Index ldc, T alpha = T(1)) {
    if (m == 0 || n == 0 || k == 0) return;
    flops_ += 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    Blocking blocking(block_a_.data(), block_b_.data(), p);
    Eigen::internal::general_matrix_matrix_product<Index, T, AOrder, false, T, BOrder, false,
                                                   Eigen::ColMajor, 1>::run(m, n, k, a, lda, b, ldb,
                                                                            c, 1, ldc, alpha,
                                                                            blocking, nullptr);
  }

  // Floating-point operations of every gemm() so far (2 m n k each): the achieved rate.
  double flops() const { return flops_; }

 private:
  // Eigen's blocking interface with our buffers (it only reads blockA/blockB/kc/mc/nc).
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

  VectorX<T> block_a_, block_b_;
  double flops_ = 0;
};

}  // namespace detail
}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
