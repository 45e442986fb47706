#pragma once
// The nn kernel table (internal; used by src/nn and the benchmarks): the skinny and dense layer
// products Mlp runs, tanh, and an allocation-free GEMM that no network uses any more (the
// benchmarks' reference for Eigen's rate at our shapes).
//
// Why not `C.noalias() = A * B`: Eigen's product packs its operands into scratch buffers that it
// puts on the stack only up to EIGEN_STACK_ALLOCATION_LIMIT (128 KiB) and otherwise mallocs and
// frees on every call -- which happens exactly at our shapes (64x64 layers, N = 4000). So we keep
// the packing buffers in the network's workspace and call Eigen's own GEMM driver
// (internal::general_matrix_matrix_product, Eigen 3.4) with a blocking object pointing at them.
// Same packing and micro-kernels as Eigen's operator*, no allocation.
//
// The driver runs in src/nn/kernels/kernels.cpp, compiled once per instruction set (isa.hpp);
// a workspace calls the table of the set it was made for.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "rlmpi/core/safe_resize.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"
#include "rlmpi/nn/isa.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {
namespace detail {

// Cache-block sizes for one GEMM shape, from Eigen's heuristic (which depends on the
// instruction set: its register blocks are as wide as its vectors).
struct GemmPlan {
  Index kc = 0, mc = 0, nc = 0;
};

// What the dense kernel does to each result before storing it: nothing, an activation
// (forward), or the activation's derivative expressed through its output h (backward:
// tanh' = 1 - h^2, relu' = [h > 0]), multiplied in.
enum class Epilogue { None, Tanh, Relu, TanhGrad, ReluGrad };

// Adam's step coefficients (Adam<T>::step): step_size = lr / (1 - beta1^t), bc2_sqrt =
// sqrt(1 - beta2^t), both computed in double and rounded to T, as before.
template <class T>
struct AdamStep {
  T beta1, beta2, step_size, bc2_sqrt, eps;
};

// The kernels of one instruction set for one scalar type. gemm: column-major
// C (m x n, leading dimension ldc) += alpha * A * B with A m x k and B k x n, each stored
// row-major (R) or column-major (C) as the name says (rc: A row-major, B column-major), using
// the packing buffers block_a (kc * mc) and block_b (kc * nc) of `plan(m, n, k)`.
template <class T>
struct Kernels {
  using Gemm = void (*)(const GemmPlan& p, Index m, Index n, Index k, const T* a, Index lda, const T* b,
                        Index ldb, T* c, Index ldc, T alpha, T* block_a, T* block_b);
  GemmPlan (*plan)(Index m, Index n, Index k);
  Gemm rc, cr, cc;
  void (*tanh)(T* z, Index count);  // z <- tanh(z), a few ulp
  // Skinny products, `few` in 1..kSkinnyMax (outer: any few >= 1), rows i < n, row strides ld*;
  // `add`: y_i += the right-hand side instead of y_i = it. expand: y_i[c] = init[c] +
  // sum_{j<few} s_i[j] m_j[c] (c < wide; init null: 0). contract: y_i[j] = init[j] + <h_i, m_j>
  // over wide entries (j < few). outer: acc_j[c] += sum_i s_i[j] v_i[c] (acc: few x wide,
  // row-major; each sum runs over the rows in order, so splitting the rows into several calls
  // gives the same bits).
  void (*expand)(Index n, int few, Index wide, const T* s, Index lds, const T* m, Index ldm, const T* init, T* y,
                 Index ldy, bool add, Epilogue epi, const T* h, Index ldh);  // epi: as dense's
  void (*contract)(Index n, int few, Index wide, const T* h, Index ldh, const T* m, Index ldm, const T* init, T* y,
                   Index ldy, bool add);
  // bias (may be null): also bias[c] += sum_{i<n} v_i[c], rows in order (column_sums' sums).
  void (*outer)(Index n, int few, Index wide, const T* s, Index lds, const T* v, Index ldv, T* acc, T* bias);
  // out[c] += sum_{i<n} d_i[c] for c < wide (row stride ld; rows in order): a bias gradient.
  void (*column_sums)(Index n, Index wide, const T* d, Index ld, T* out);
  // Fused layer product on row-major batches, no packing: y_i[o] = epi(init[o] + sum_{k<kdim}
  // x_i[k] b_k[o]) for o < out (init null: 0), b_k = b + k ldb; with the *Grad epilogues the sum
  // is multiplied by the derivative at h_i[o]; `add` (Epilogue::None only): y_i += the sum.
  void (*dense)(Index n, Index kdim, Index out, const T* x, Index ldx, const T* b, Index ldb, const T* init, T* y,
                Index ldy, Epilogue epi, const T* h, Index ldh, bool add);
  // out[i] = exp(in[i]) / log(in[i]) for i < count (in == out allowed), every entry through the
  // set's packet formula (src/nn/packet_math.hpp): the categorical policy's softmax.
  void (*exp)(const T* in, T* out, Index count);
  void (*log)(const T* in, T* out, Index count);
  // Adam's step on n parameters p with gradient g and moments m, v (nn/adam.hpp's formula; no
  // FMA and IEEE square roots: the same bits with every set).
  void (*adam)(Index n, T* p, const T* g, T* m, T* v, const AdamStep<T>& s);
  // at (cols x rows, row-major) = a^T for a rows x cols row-major (at != a).
  void (*transpose)(Index rows, Index cols, const T* a, T* at);
};

// The largest `few` of the skinny kernels: layers this narrow (in or out) skip the GEMM.
inline constexpr int kSkinnyMax = 8;

struct KernelTable {
  Isa isa;
  Kernels<float> f;
  Kernels<double> d;
};

// The table of `isa` (throws std::invalid_argument if this CPU cannot run it).
const KernelTable& kernel_table(Isa isa);

template <class T>
const Kernels<T>& kernels_of(const KernelTable& t) {
  if constexpr (std::is_same_v<T, float>) {
    return t.f;
  } else {
    return t.d;
  }
}

template <class T>
class GemmWorkspace {
 public:
  explicit GemmWorkspace(Isa isa = best_isa()) : table_(&kernel_table(isa)) {}

  Isa isa() const { return table_->isa; }
  const Kernels<T>& kernels() const { return kernels_of<T>(*table_); }

  // Plans C(m x n) += A(m x k) B(k x n) and grows the shared packing buffers to fit. Any later
  // call with m, n, k no larger may use the plan without allocating (block sizes are caps).
  GemmPlan plan(Index m, Index n, Index k) {
    const GemmPlan p = kernels().plan(m, n, k);
    safe_grow(block_a_, p.kc * p.mc + kSlack);  // not resize(): exception safety, see safe_resize.hpp
    safe_grow(block_b_, p.kc * p.nc + kSlack);
    return p;
  }

  // Column-major C (m x n, leading dimension ldc) += alpha * A * B, where A is m x k stored in
  // AOrder with leading dimension lda and B is k x n stored in BOrder with leading dimension ldb.
  template <int AOrder, int BOrder>
  void gemm(const GemmPlan& p, Index m, Index n, Index k, const T* a, Index lda, const T* b,
            Index ldb, T* c, Index ldc, T alpha = T(1)) {
    static_assert(!(AOrder == Eigen::RowMajor && BOrder == Eigen::RowMajor), "no kernel for rr");
    if (m == 0 || n == 0 || k == 0) return;
    count(m, n, k);
    const Kernels<T>& kn = kernels();
    const typename Kernels<T>::Gemm f = AOrder == Eigen::RowMajor ? kn.rc : BOrder == Eigen::RowMajor ? kn.cr : kn.cc;
    f(p, m, n, k, a, lda, b, ldb, c, ldc, alpha, aligned(block_a_), aligned(block_b_));
  }

  // The skinny products of Kernels (few <= kSkinnyMax), counted like GEMMs of the same shape.
  void expand(Index n, int few, Index wide, const T* s, Index lds, const T* m, Index ldm, const T* init, T* y,
              Index ldy, bool add = false, Epilogue epi = Epilogue::None, const T* h = nullptr, Index ldh = 0) {
    count(n, few, wide);
    kernels().expand(n, few, wide, s, lds, m, ldm, init, y, ldy, add, epi, h, ldh);
  }
  void contract(Index n, int few, Index wide, const T* h, Index ldh, const T* m, Index ldm, const T* init, T* y,
                Index ldy, bool add = false) {
    count(n, few, wide);
    kernels().contract(n, few, wide, h, ldh, m, ldm, init, y, ldy, add);
  }
  void outer(Index n, int few, Index wide, const T* s, Index lds, const T* v, Index ldv, T* acc,
             T* bias = nullptr) {
    count(n, few, wide);
    kernels().outer(n, few, wide, s, lds, v, ldv, acc, bias);
  }

  void dense(Index n, Index kdim, Index out, const T* x, Index ldx, const T* b, Index ldb, const T* init, T* y,
             Index ldy, Epilogue epi = Epilogue::None, const T* h = nullptr, Index ldh = 0, bool add = false) {
    count(n, kdim, out);
    kernels().dense(n, kdim, out, x, ldx, b, ldb, init, y, ldy, epi, h, ldh, add);
  }

  // Floating-point operations of every gemm() so far (2 m n k each): the achieved rate.
  double flops() const { return flops_; }

 private:
  // The kernels read their packed blocks with aligned vector loads (64 bytes for AVX-512),
  // while this (baseline) code allocates with the baseline's 16-byte alignment.
  static constexpr Index kAlign = 64, kSlack = kAlign / sizeof(T);
  static T* aligned(VectorX<T>& v) {
    const auto a = reinterpret_cast<std::uintptr_t>(v.data());
    return reinterpret_cast<T*>((a + kAlign - 1) / kAlign * kAlign);
  }

  void count(Index m, Index n, Index k) {
    flops_ += 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  }

  const KernelTable* table_;
  VectorX<T> block_a_, block_b_;
  double flops_ = 0;
};

}  // namespace detail
}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
