// The nn kernels of one instruction set: Eigen's GEMM driver with caller-owned packing buffers,
// the skinny products (skinny.hpp), the fused dense layer product (dense.hpp), tanh, and Adam's
// step and the weight transposes (update.hpp). CMake compiles this file once per set (-march=x86-64,
// x86-64-v3, x86-64-v4), each with RLMPI_KERNEL_ENTRY naming its table, and makes every symbol of
// each object local except that entry (cmake/isolate_object.cmake): Eigen's templates have the
// same names in every copy, and the linker would otherwise keep one copy of each (AVX-512 code
// on an AVX2 CPU).
#include <Eigen/Core>

#include "rlmpi/nn/gemm.hpp"
#include "../packet_math.hpp"
#include "dense.hpp"
#include "skinny.hpp"
#include "tanh.hpp"
#include "update.hpp"

#ifndef RLMPI_KERNEL_ENTRY
#error "compile with -DRLMPI_KERNEL_ENTRY=rlmpi_nn_kernels_<isa> -DRLMPI_KERNEL_ISA=<Isa enumerator>"
#endif

namespace rlmpi::nn::kernels {
namespace {

using detail::GemmPlan;

template <class T>
GemmPlan plan(Index m, Index n, Index k) {
  GemmPlan p{k, m, n};
  Eigen::internal::computeProductBlockingSizes<T, T, 1>(p.kc, p.mc, p.nc, Index{1});
  return p;
}

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

template <class T, int AOrder, int BOrder>
void gemm(const GemmPlan& p, Index m, Index n, Index k, const T* a, Index lda, const T* b, Index ldb, T* c,
          Index ldc, T alpha, T* block_a, T* block_b) {
  Blocking<T> blocking(block_a, block_b, p);
  Eigen::internal::general_matrix_matrix_product<Index, T, AOrder, false, T, BOrder, false, Eigen::ColMajor,
                                                 1>::run(m, n, k, a, lda, b, ldb, c, 1, ldc, alpha, blocking,
                                                         nullptr);
}

template <class T>
constexpr detail::Kernels<T> table_of() {
  return {&plan<T>, &gemm<T, Eigen::RowMajor, Eigen::ColMajor>, &gemm<T, Eigen::ColMajor, Eigen::RowMajor>,
          &gemm<T, Eigen::ColMajor, Eigen::ColMajor>, &tanh_inplace<T>, &expand<T>, &contract<T>, &outer<T>,
          &column_sums<T>, &dense<T>, &detail::exp_array<T>, &detail::log_array<T>, &adam<T>, &transpose<T>};
}

constexpr detail::KernelTable kTable{Isa::RLMPI_KERNEL_ISA, table_of<float>(), table_of<double>()};

}  // namespace
}  // namespace rlmpi::nn::kernels

extern "C" __attribute__((visibility("default"))) const rlmpi::nn::detail::KernelTable* RLMPI_KERNEL_ENTRY() {
  return &rlmpi::nn::kernels::kTable;
}
