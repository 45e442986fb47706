#pragma once
// The fused layer product for layers wider than kSkinnyMax on both sides (the 64 x 64 layers):
// bias, product and activation (forward) or product and activation derivative (backward) in one
// pass over row-major batches, with no packing. Eigen's GEMM needs the bias written into C
// first, packs the batch operand into a scratch buffer, and leaves the activation (or its
// derivative, or the zeroing of C) to separate passes over the N x 64 result, which does not
// stay in L2 at N = 4000.
//
// Register tile: R rows x NP packets of outputs (6 x 2 with 16 vector registers, 6 x 4 with 32),
// the full k loop per tile with the b rows (at most 64 x 64) read from L1. Each output is a
// single sum in k order started from init, so a row's result is the same in whatever tile it is
// computed: it depends only on the instruction set.
#include <Eigen/Core>

#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/gemm.hpp"
#include "epilogue.hpp"

namespace rlmpi::nn::kernels {
namespace dense_detail {
namespace ei = Eigen::internal;
using detail::Epilogue;
using epilogue::finish;
using epilogue::kWidth;
using epilogue::Packet;
#ifdef EIGEN_VECTORIZE_AVX512
inline constexpr int kPacketsPerTile = 4;
#else
inline constexpr int kPacketsPerTile = 2;
#endif
inline constexpr int kRowsPerTile = 6;
// A single row (the rollout's batch of 1) has too few independent sums in a 1 x kPacketsPerTile
// tile to cover the FMA latency: its tiles are up to 8 packets wide (64 floats with AVX2; with
// AVX-512 the 4-packet tile already spans a 64-wide layer). Its b packets are used once, so they
// stay memory operands: 8 accumulators and the broadcast fit 16 registers.
#ifdef EIGEN_VECTORIZE_AVX512
inline constexpr int kPacketsPerRow = 4;
#else
inline constexpr int kPacketsPerRow = 8;
#endif

// Rows [i0, i0 + R) x outputs [o0, o0 + NP W).
template <class T, int R, int NP, Epilogue E>
void tile(Index i0, Index o0, Index kdim, const T* x, Index ldx, const T* b, Index ldb, const T* init, T* y,
          Index ldy, const T* h, Index ldh, bool add) {
  using P = Packet<T>;
  constexpr Index W = kWidth<T>;
  P acc[R][NP];
  for (int p = 0; p < NP; ++p) {
    const P start = init != nullptr ? ei::ploadu<P>(init + o0 + p * W) : ei::pset1<P>(T(0));
    for (int r = 0; r < R; ++r) acc[r][p] = start;
  }
  for (Index k = 0; k < kdim; ++k) {
    P bk[NP];
    for (int p = 0; p < NP; ++p) bk[p] = ei::ploadu<P>(b + k * ldb + o0 + p * W);
    for (int r = 0; r < R; ++r) {
      const P xr = ei::pset1<P>(x[(i0 + r) * ldx + k]);
      for (int p = 0; p < NP; ++p) acc[r][p] = ei::pmadd(xr, bk[p], acc[r][p]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < NP; ++p) {
      T* out = y + (i0 + r) * ldy + o0 + p * W;
      const P v = add ? ei::padd(ei::ploadu<P>(out), acc[r][p]) : acc[r][p];
      ei::pstoreu(out, finish<T, E>(v, h != nullptr ? h + (i0 + r) * ldh + o0 + p * W : nullptr));
    }
}

// Outputs [o0, out) that do not fill a packet: the same sums in scalars, then the epilogue
// through a padded packet (the same formula as the vector columns).
template <class T, Epilogue E>
void tail_columns(Index i, Index o0, Index out, Index kdim, const T* x, Index ldx, const T* b, Index ldb,
                  const T* init, T* y, Index ldy, const T* h, Index ldh, bool add) {
  using P = Packet<T>;
  constexpr Index W = kWidth<T>;
  alignas(64) T v[W] = {};
  alignas(64) T hv[W] = {};
  for (Index o = o0; o < out; ++o) {
    T a = init != nullptr ? init[o] : T(0);
    for (Index k = 0; k < kdim; ++k) a += x[i * ldx + k] * b[k * ldb + o];
    v[o - o0] = add ? y[i * ldy + o] + a : a;
    if (h != nullptr) hv[o - o0] = h[i * ldh + o];
  }
  alignas(64) T res[W];
  ei::pstore(res, finish<T, E>(ei::pload<P>(v), h != nullptr ? hv : nullptr));
  for (Index o = o0; o < out; ++o) y[i * ldy + o] = res[o - o0];
}

template <class T, int R, Epilogue E>
void rows(Index i0, Index out, Index kdim, const T* x, Index ldx, const T* b, Index ldb, const T* init, T* y,
          Index ldy, const T* h, Index ldh, bool add) {
  constexpr Index W = kWidth<T>;
  constexpr int NP = R == 1 ? kPacketsPerRow : kPacketsPerTile;
  if constexpr (E == Epilogue::Tanh) {
    // tanh in the tile's epilogue competes with the 12 accumulators for registers and runs at
    // half the rate of a plain pass; the R rows just written are in L1, so finish them in one.
    // Same packet formula on the same values: the same bits.
    rows<T, R, Epilogue::None>(i0, out, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    tanh_rows(y + i0 * ldy, R, out, ldy);
    return;
  }
  Index o = 0;
  for (; o + NP * W <= out; o += NP * W) tile<T, R, NP, E>(i0, o, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
  for (; o + W <= out; o += W) tile<T, R, 1, E>(i0, o, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
  if (o < out)
    for (int r = 0; r < R; ++r) tail_columns<T, E>(i0 + r, o, out, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
}

template <class T, Epilogue E>
void run(Index n, Index kdim, Index out, const T* x, Index ldx, const T* b, Index ldb, const T* init, T* y,
         Index ldy, const T* h, Index ldh, bool add) {
  constexpr int R = kRowsPerTile;
  Index i = 0;
  for (; i + R <= n; i += R) rows<T, R, E>(i, out, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
  // The last n % 6 rows in one narrower tile (more independent sums than row by row; the
  // rollout's batches of 2-5 rows are all remainder).
  static_assert(R == 6, "one case per remainder");
  switch (n - i) {
    case 5: return rows<T, 5, E>(i, out, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    case 4: return rows<T, 4, E>(i, out, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    case 3: return rows<T, 3, E>(i, out, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    case 2: return rows<T, 2, E>(i, out, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    case 1: return rows<T, 1, E>(i, out, kdim, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    default: return;
  }
}

}  // namespace dense_detail

template <class T>
void dense(Index n, Index kdim, Index out, const T* x, Index ldx, const T* b, Index ldb, const T* init, T* y,
           Index ldy, detail::Epilogue epi, const T* h, Index ldh, bool add) {
  using detail::Epilogue;
  switch (epi) {
    case Epilogue::None:
      return dense_detail::run<T, Epilogue::None>(n, kdim, out, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    case Epilogue::Tanh:
      return dense_detail::run<T, Epilogue::Tanh>(n, kdim, out, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    case Epilogue::Relu:
      return dense_detail::run<T, Epilogue::Relu>(n, kdim, out, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    case Epilogue::TanhGrad:
      return dense_detail::run<T, Epilogue::TanhGrad>(n, kdim, out, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
    case Epilogue::ReluGrad:
      return dense_detail::run<T, Epilogue::ReluGrad>(n, kdim, out, x, ldx, b, ldb, init, y, ldy, h, ldh, add);
  }
}

}  // namespace rlmpi::nn::kernels
