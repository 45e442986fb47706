#pragma once
// Two passes of the update that are not products: Adam's parameter step and the weight
// transposes of the row-block passes (internal: included by kernels.cpp, built once per set).
#include <Eigen/Core>
#include <immintrin.h>

#include "epilogue.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/gemm.hpp"

namespace rlmpi::nn::kernels {
namespace update_detail {
namespace ei = Eigen::internal;
using epilogue::Packet;

// A value the compiler must hold rounded in a register: a product passed through here is never
// contracted with the following addition into an FMA (GCC contracts intrinsics too), so every
// set computes Adam's rounded operations in the same order, and gives the same bits.
template <class P>
P rounded(P x) {
  __asm__("" : "+x"(x));
  return x;
}

// IEEE square roots (Eigen's float psqrt is an rsqrt approximation under EIGEN_FAST_MATH).
inline __m128 sqrt_exact(__m128 x) { return _mm_sqrt_ps(x); }
inline __m128d sqrt_exact(__m128d x) { return _mm_sqrt_pd(x); }
#ifdef EIGEN_VECTORIZE_AVX
inline __m256 sqrt_exact(__m256 x) { return _mm256_sqrt_ps(x); }
inline __m256d sqrt_exact(__m256d x) { return _mm256_sqrt_pd(x); }
#endif
#ifdef EIGEN_VECTORIZE_AVX512
inline __m512 sqrt_exact(__m512 x) { return _mm512_sqrt_ps(x); }
inline __m512d sqrt_exact(__m512d x) { return _mm512_sqrt_pd(x); }
#endif

template <class T>
struct AdamPackets {
  using P = Packet<T>;
  P b1, c1, b2, c2, lr, bc2, eps;
  explicit AdamPackets(const detail::AdamStep<T>& s)
      : b1(ei::pset1<P>(s.beta1)), c1(ei::pset1<P>(T(1) - s.beta1)), b2(ei::pset1<P>(s.beta2)),
        c2(ei::pset1<P>(T(1) - s.beta2)), lr(ei::pset1<P>(s.step_size)), bc2(ei::pset1<P>(s.bc2_sqrt)),
        eps(ei::pset1<P>(s.eps)) {}
  // torch.optim.Adam's operations, in its order: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  // p -= (step_size m) / (sqrt(v) / sqrt(1 - b2^t) + eps).
  P step(P p, P g, P& m, P& v) const {
    m = ei::padd(rounded(ei::pmul(b1, m)), rounded(ei::pmul(c1, g)));
    v = ei::padd(rounded(ei::pmul(b2, v)), rounded(ei::pmul(c2, ei::pmul(g, g))));
    const P denom = ei::padd(ei::pdiv(sqrt_exact(v), bc2), eps);
    return ei::psub(p, ei::pdiv(ei::pmul(lr, m), denom));
  }
};

}  // namespace update_detail

// One pass over the parameters (three before, through Eigen expressions in the baseline set);
// the last partial packet is padded, so every entry goes through the same packet formula.
template <class T>
void adam(Index n, T* p, const T* g, T* m, T* v, const detail::AdamStep<T>& s) {
  namespace ei = Eigen::internal;
  using P = update_detail::Packet<T>;
  constexpr Index W = ei::packet_traits<T>::size;
  const update_detail::AdamPackets<T> a(s);
  Index i = 0;
  for (; i + W <= n; i += W) {
    P mi = ei::ploadu<P>(m + i), vi = ei::ploadu<P>(v + i);
    ei::pstoreu(p + i, a.step(ei::ploadu<P>(p + i), ei::ploadu<P>(g + i), mi, vi));
    ei::pstoreu(m + i, mi);
    ei::pstoreu(v + i, vi);
  }
  if (i < n) {
    alignas(64) T tp[W] = {}, tg[W] = {}, tm[W] = {}, tv[W] = {};
    for (Index k = i; k < n; ++k) tp[k - i] = p[k], tg[k - i] = g[k], tm[k - i] = m[k], tv[k - i] = v[k];
    P mi = ei::pload<P>(tm), vi = ei::pload<P>(tv);
    ei::pstore(tp, a.step(ei::pload<P>(tp), ei::pload<P>(tg), mi, vi));
    ei::pstore(tm, mi);
    ei::pstore(tv, vi);
    for (Index k = i; k < n; ++k) p[k] = tp[k - i], m[k] = tm[k - i], v[k] = tv[k - i];
  }
}

// at (cols x rows, row-major) = a^T, a rows x cols row-major: W x W blocks through registers
// (Eigen's ptranspose), the edges element by element.
template <class T>
void transpose(Index rows, Index cols, const T* a, T* at) {
  namespace ei = Eigen::internal;
  using P = update_detail::Packet<T>;
  constexpr int W = ei::packet_traits<T>::size;
  const Index rv = rows / W * W, cv = cols / W * W;
  for (Index i = 0; i < rv; i += W)
    for (Index j = 0; j < cv; j += W) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // PacketBlock<__m128, 4>: as in Eigen itself
      ei::PacketBlock<P, W> b;
#pragma GCC diagnostic pop
      for (int r = 0; r < W; ++r) b.packet[r] = ei::ploadu<P>(a + (i + r) * cols + j);
      ei::ptranspose(b);
      for (int r = 0; r < W; ++r) ei::pstoreu(at + (j + r) * rows + i, b.packet[r]);
    }
  for (Index i = 0; i < rows; ++i)
    for (Index j = i < rv ? cv : 0; j < cols; ++j) at[j * rows + i] = a[i * cols + j];
}

}  // namespace rlmpi::nn::kernels
