#pragma once
// Products with one dimension of at most detail::kSkinnyMax (the input layer of a 4-observation policy, the
// 1- or 2-wide output layers). GEMM blocking serves them badly: Eigen's float register block is
// 24 x 4 on AVX2, so a 2-wide output layer leaves most lanes idle (10-29 % of the FMA peak at
// N = 4000, tools/bench/results/gemm-engines.md). These loops vectorise along the wide dimension
// with Eigen's packet primitives, which are as wide as the instruction set this file is compiled
// for (kernels.cpp is built once per set), and keep enough independent FMA chains in flight.
// Every row is computed by the same instructions in the same order: results depend only on the
// instruction set, never on the batch size or the row's position. The outer product (a weight
// gradient: a sum over rows) also serves the wide layers (outer_wide).
#include <Eigen/Core>
#include <algorithm>

#include "epilogue.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/gemm.hpp"

namespace rlmpi::nn::kernels {

namespace skinny {
namespace ei = Eigen::internal;
using detail::Epilogue;
using epilogue::finish;
using epilogue::kWidth;
using epilogue::Packet;

// y_i[c] = E(init[c] + sum_{j < F} s_i[j] m_j[c]) for c < wide (init = null: 0; add, with E None
// only: y_i[c] += the sum), where s_i = s + i lds, m_j = m + j ldm, y_i = y + i ldy, and the
// *Grad epilogues read h_i = h + i ldh (epilogue.hpp).
template <class T, int F, Epilogue E>
void expand(Index n, Index wide, const T* s, Index lds, const T* m, Index ldm, const T* init, T* y, Index ldy,
            bool add, const T* h, Index ldh) {
  if constexpr (E == Epilogue::Tanh) {
    // As in dense.hpp: tanh runs faster as a pass over rows just written (in L1) than
    // interleaved with the products, and over several rows at once than row by row (a row of 64
    // floats is 4 packets: too few independent division and polynomial chains). The same packet
    // formula, the same bits.
    constexpr Index kGroup = 8;
    for (Index i0 = 0; i0 < n; i0 += kGroup) {
      const Index g = std::min(kGroup, n - i0);
      expand<T, F, Epilogue::None>(g, wide, s + i0 * lds, lds, m, ldm, init, y + i0 * ldy, ldy, add, h, ldh);
      tanh_rows(y + i0 * ldy, g, wide, ldy);
    }
    return;
  }
  using P = Packet<T>;
  constexpr Index W = kWidth<T>;
  const Index wv = wide / W * W;
  for (Index i = 0; i < n; ++i) {
    const T* si = s + i * lds;
    T* yi = y + i * ldy;
    const T* hi = h != nullptr ? h + i * ldh : nullptr;
    P b[F];
    for (int j = 0; j < F; ++j) b[j] = ei::pset1<P>(si[j]);
    for (Index c = 0; c < wv; c += W) {
      P acc = init != nullptr ? ei::ploadu<P>(init + c) : ei::pset1<P>(T(0));
      for (int j = 0; j < F; ++j) acc = ei::pmadd(b[j], ei::ploadu<P>(m + j * ldm + c), acc);
      if (add) acc = ei::padd(ei::ploadu<P>(yi + c), acc);
      ei::pstoreu(yi + c, finish<T, E>(acc, hi != nullptr ? hi + c : nullptr));
    }
    for (Index c = wv; c < wide; ++c) {
      T acc = init != nullptr ? init[c] : T(0);
      for (int j = 0; j < F; ++j) acc += si[j] * m[j * ldm + c];
      yi[c] = epilogue::finish_scalar<T, E>(add ? yi[c] + acc : acc, hi != nullptr ? hi[c] : T(0));
    }
  }
}

// y_i[j] (+)= init[j] + <h_i, m_j> over `wide` entries, for j < F (init = null: 0; add: +=), rows
// [i0, i0 + R): R F independent accumulators hide the FMA latency.
template <class T, int F, int R>
void contract_rows(Index i0, Index wide, const T* h, Index ldh, const T* m, Index ldm, const T* init, T* y,
                   Index ldy, bool add) {
  using P = Packet<T>;
  constexpr Index W = kWidth<T>;
  const Index wv = wide / W * W;
  P acc[R][F];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < F; ++j) acc[r][j] = ei::pset1<P>(T(0));
  for (Index c = 0; c < wv; c += W) {
    P mv[F];
    for (int j = 0; j < F; ++j) mv[j] = ei::ploadu<P>(m + j * ldm + c);
    for (int r = 0; r < R; ++r) {
      const P hv = ei::ploadu<P>(h + (i0 + r) * ldh + c);
      for (int j = 0; j < F; ++j) acc[r][j] = ei::pmadd(hv, mv[j], acc[r][j]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const T* hi = h + (i0 + r) * ldh;
    for (int j = 0; j < F; ++j) {
      T v = ei::predux(acc[r][j]);
      for (Index c = wv; c < wide; ++c) v += hi[c] * m[j * ldm + c];
      const T out = (init != nullptr ? init[j] : T(0)) + v;
      T& yij = y[(i0 + r) * ldy + j];
      yij = add ? yij + out : out;
    }
  }
}

template <class T, int F>
void contract(Index n, Index wide, const T* h, Index ldh, const T* m, Index ldm, const T* init, T* y, Index ldy,
              bool add) {
  // Each row alone would give the same result (a row's sums never mix with another's), so the
  // row blocking changes speed only. R rows: R F accumulators, F weight packets and a row packet
  // fit 16 vector registers; 4 rows of 8 outputs spilled and ran 1.6x slower than one at a time
  // (the rollout's 64 x 64 layer, the output layer of 6- and 8-action policies).
  constexpr int R = F <= 3 ? 4 : F <= 5 ? 2 : 1;
  Index i = 0;
  for (; i + R <= n; i += R) contract_rows<T, F, R>(i, wide, h, ldh, m, ldm, init, y, ldy, add);
  for (; i < n; ++i) contract_rows<T, F, 1>(i, wide, h, ldh, m, ldm, init, y, ldy, add);
}

// acc_j[c] += sum_i s_i[j] v_i[c] for j < F and c in [c0, c0 + B W), over rows [i0, i1); with
// Bias also bias[c] += sum_i v_i[c] (a bias gradient, when v is the layer's output gradient: the
// column sums ride on the loads of v that the product makes anyway). F may be 0 (Bias only).
template <class T, int F, int B, bool Bias = false>
void outer_block(Index i0, Index i1, Index c0, const T* s, Index lds, const T* v, Index ldv, T* acc, Index wide,
                 T* bias = nullptr) {
  using P = Packet<T>;
  constexpr Index W = kWidth<T>;
  P a[F > 0 ? F : 1][B];
  P ab[B];
  for (int j = 0; j < F; ++j)
    for (int b = 0; b < B; ++b) a[j][b] = ei::ploadu<P>(acc + j * wide + c0 + b * W);
  if constexpr (Bias)
    for (int b = 0; b < B; ++b) ab[b] = ei::ploadu<P>(bias + c0 + b * W);
  for (Index i = i0; i < i1; ++i) {
    P vv[B];
    for (int b = 0; b < B; ++b) vv[b] = ei::ploadu<P>(v + i * ldv + c0 + b * W);
    for (int j = 0; j < F; ++j) {
      const P sj = ei::pset1<P>(s[i * lds + j]);
      for (int b = 0; b < B; ++b) a[j][b] = ei::pmadd(sj, vv[b], a[j][b]);
    }
    if constexpr (Bias)
      for (int b = 0; b < B; ++b) ab[b] = ei::padd(ab[b], vv[b]);  // column_sums' sum, row by row
  }
  for (int j = 0; j < F; ++j)
    for (int b = 0; b < B; ++b) ei::pstoreu(acc + j * wide + c0 + b * W, a[j][b]);
  if constexpr (Bias)
    for (int b = 0; b < B; ++b) ei::pstoreu(bias + c0 + b * W, ab[b]);
}

// bias[c] += sum_i v_i[c] for the columns [c, wide) short of a packet, rows [i0, i1).
template <class T>
void bias_tail(Index i0, Index i1, Index c, Index wide, const T* v, Index ldv, T* bias) {
  for (; c < wide; ++c) {
    T a = bias[c];
    for (Index i = i0; i < i1; ++i) a += v[i * ldv + c];
    bias[c] = a;
  }
}

// acc_j[c] += sum_i s_i[j] v_i[c] for j < F and c in [c_begin, wide), over rows [i0, i1):
// column blocks of B packets (about 8 accumulators per row step for the narrow F), then single
// packets, then scalars; with Bias also bias[c] += sum_i v_i[c].
template <class T, int F, int B, bool Bias = false>
void outer_rows(Index i0, Index i1, Index c_begin, Index wide, const T* s, Index lds, const T* v, Index ldv,
                T* acc, T* bias = nullptr) {
  constexpr Index W = kWidth<T>;
  const Index wv = wide / W * W;
  Index c = c_begin;
  for (; c + B * W <= wv; c += B * W) outer_block<T, F, B, Bias>(i0, i1, c, s, lds, v, ldv, acc, wide, bias);
  for (; c < wv; c += W) outer_block<T, F, 1, Bias>(i0, i1, c, s, lds, v, ldv, acc, wide, bias);
  if constexpr (Bias) bias_tail(i0, i1, c, wide, v, ldv, bias);
  for (; c < wide; ++c)
    for (int j = 0; j < F; ++j) {
      T a = acc[j * wide + c];
      for (Index i = i0; i < i1; ++i) a += s[i * lds + j] * v[i * ldv + c];
      acc[j * wide + c] = a;
    }
}

// Rows per block of the outer products: their part of s and v stays in L1 while every column
// block passes over it. Small enough that rows 256 bytes apart (64 floats), which fall into only
// 16 of L1's 64 sets, fit its 8 ways: 32 rows of s and of v are 64 lines of the 128 those sets
// hold. Every sum still runs over the rows in order (the accumulators go to memory and back
// between blocks), so the result does not depend on this block size or on how a caller splits
// the rows into calls.
inline constexpr Index kOuterRows = 32;

// acc_j[c] += sum_i s_i[j] v_i[c] (acc is F x wide, row-major); bias (may be null): bias[c] +=
// sum_i v_i[c]. With the bias row there are F + 1 accumulator rows: fewer packets per block.
template <class T, int F>
void outer(Index n, Index wide, const T* s, Index lds, const T* v, Index ldv, T* acc, T* bias) {
  constexpr int B = F >= 8 ? 1 : F >= 4 ? 2 : F >= 2 ? 4 : 8;
  constexpr int BB = F + 1 >= 7 ? 1 : F + 1 >= 3 ? 2 : 4;
  for (Index i0 = 0; i0 < n; i0 += kOuterRows) {
    const Index i1 = std::min(n, i0 + kOuterRows);
    if (bias != nullptr) {
      outer_rows<T, F, BB, true>(i0, i1, 0, wide, s, lds, v, ldv, acc, bias);
    } else {
      outer_rows<T, F, B>(i0, i1, 0, wide, s, lds, v, ldv, acc);
    }
  }
}

// The same for any number of accumulator rows (the weight gradient of a 64 x 64 layer): register
// tiles of 6 rows x 2 packets (6 x 4 with AVX-512's 32 registers), 8 loads per 12 FMAs, like the
// dense kernel's; the remaining rows (few % 6) in one narrower tile. Column blocks outside row
// tiles: one block's lines of v are read by every row tile while they are in L1.
#ifdef EIGEN_VECTORIZE_AVX512
inline constexpr int kWideOuterPackets = 4;
#else
inline constexpr int kWideOuterPackets = 2;
#endif
// The bias row (bias[c] += sum_i v_i[c]) rides in the last, narrower tile (few % 6 rows; on its
// own when few % 6 == 0): at most 6 x B accumulators either way.
template <class T, int B>
void outer_wide_columns(Index i0, Index i1, Index c, Index few, Index wide, const T* s, Index lds, const T* v,
                        Index ldv, T* acc, T* bias) {
  constexpr int F = 6;
  Index j = 0;
  for (; j + F <= few; j += F) outer_block<T, F, B>(i0, i1, c, s + j, lds, v, ldv, acc + j * wide, wide);
  const T* sj = s + j;
  T* aj = acc + j * wide;
  if (bias != nullptr) {
    switch (few - j) {
      case 5: return outer_block<T, 5, B, true>(i0, i1, c, sj, lds, v, ldv, aj, wide, bias);
      case 4: return outer_block<T, 4, B, true>(i0, i1, c, sj, lds, v, ldv, aj, wide, bias);
      case 3: return outer_block<T, 3, B, true>(i0, i1, c, sj, lds, v, ldv, aj, wide, bias);
      case 2: return outer_block<T, 2, B, true>(i0, i1, c, sj, lds, v, ldv, aj, wide, bias);
      case 1: return outer_block<T, 1, B, true>(i0, i1, c, sj, lds, v, ldv, aj, wide, bias);
      default: return outer_block<T, 0, B, true>(i0, i1, c, sj, lds, v, ldv, aj, wide, bias);
    }
  }
  switch (few - j) {
    case 5: return outer_block<T, 5, B>(i0, i1, c, sj, lds, v, ldv, aj, wide);
    case 4: return outer_block<T, 4, B>(i0, i1, c, sj, lds, v, ldv, aj, wide);
    case 3: return outer_block<T, 3, B>(i0, i1, c, sj, lds, v, ldv, aj, wide);
    case 2: return outer_block<T, 2, B>(i0, i1, c, sj, lds, v, ldv, aj, wide);
    case 1: return outer_block<T, 1, B>(i0, i1, c, sj, lds, v, ldv, aj, wide);
    default: return;
  }
}

template <class T>
void outer_wide(Index n, Index few, Index wide, const T* s, Index lds, const T* v, Index ldv, T* acc, T* bias) {
  constexpr Index W = kWidth<T>;
  constexpr int B = kWideOuterPackets;
  const Index wv = wide / W * W;
  for (Index i0 = 0; i0 < n; i0 += kOuterRows) {
    const Index i1 = std::min(n, i0 + kOuterRows);
    Index c = 0;
    for (; c + B * W <= wv; c += B * W) outer_wide_columns<T, B>(i0, i1, c, few, wide, s, lds, v, ldv, acc, bias);
    for (; c < wv; c += W) outer_wide_columns<T, 1>(i0, i1, c, few, wide, s, lds, v, ldv, acc, bias);
    if (c < wide) {  // the columns short of a packet: outer_rows' scalar loop, one row of acc at a time
      for (Index j = 0; j < few; ++j) outer_rows<T, 1, 1>(i0, i1, c, wide, s + j, lds, v, ldv, acc + j * wide);
      if (bias != nullptr) bias_tail(i0, i1, c, wide, v, ldv, bias);
    }
  }
}

// Run-time `few` (1..kSkinnyMax) to the compile-time F of the loops above.
template <class T, template <class, int> class K, class... A>
void dispatch_few(int few, A... args) {
  static_assert(detail::kSkinnyMax == 8, "one case per few");
  switch (few) {
    case 1: return K<T, 1>::run(args...);
    case 2: return K<T, 2>::run(args...);
    case 3: return K<T, 3>::run(args...);
    case 4: return K<T, 4>::run(args...);
    case 5: return K<T, 5>::run(args...);
    case 6: return K<T, 6>::run(args...);
    case 7: return K<T, 7>::run(args...);
    default: return K<T, 8>::run(args...);
  }
}

template <class T, int F>
struct Expand {
  static void run(Index n, Index wide, const T* s, Index lds, const T* m, Index ldm, const T* init, T* y, Index ldy,
                  bool add, Epilogue epi, const T* h, Index ldh) {
    switch (epi) {
      case Epilogue::None: return expand<T, F, Epilogue::None>(n, wide, s, lds, m, ldm, init, y, ldy, add, h, ldh);
      case Epilogue::Tanh: return expand<T, F, Epilogue::Tanh>(n, wide, s, lds, m, ldm, init, y, ldy, add, h, ldh);
      case Epilogue::Relu: return expand<T, F, Epilogue::Relu>(n, wide, s, lds, m, ldm, init, y, ldy, add, h, ldh);
      case Epilogue::TanhGrad:
        return expand<T, F, Epilogue::TanhGrad>(n, wide, s, lds, m, ldm, init, y, ldy, add, h, ldh);
      case Epilogue::ReluGrad:
        return expand<T, F, Epilogue::ReluGrad>(n, wide, s, lds, m, ldm, init, y, ldy, add, h, ldh);
    }
  }
};
template <class T, int F>
struct Contract {
  static void run(Index n, Index wide, const T* h, Index ldh, const T* m, Index ldm, const T* init, T* y, Index ldy,
                  bool add) {
    contract<T, F>(n, wide, h, ldh, m, ldm, init, y, ldy, add);
  }
};
template <class T, int F>
struct Outer {
  static void run(Index n, Index wide, const T* s, Index lds, const T* v, Index ldv, T* acc, T* bias) {
    outer<T, F>(n, wide, s, lds, v, ldv, acc, bias);
  }
};

}  // namespace skinny

// The entry points of the kernel table (few in 1..kSkinnyMax).
template <class T>
void expand(Index n, int few, Index wide, const T* s, Index lds, const T* m, Index ldm, const T* init, T* y,
            Index ldy, bool add, detail::Epilogue epi, const T* h, Index ldh) {
  skinny::dispatch_few<T, skinny::Expand>(few, n, wide, s, lds, m, ldm, init, y, ldy, add, epi, h, ldh);
}

// out[c] += sum_i d_i[c], c < wide (the bias gradient, accumulated over row blocks): whole rows
// of accumulators in registers, started from out so that each sum runs over the rows in order.
template <class T>
void column_sums(Index n, Index wide, const T* d, Index ld, T* out) {
  namespace ei = Eigen::internal;
  using P = skinny::Packet<T>;
  constexpr Index W = skinny::kWidth<T>;
  constexpr int B = 8;
  const Index wv = wide / W * W;
  Index c = 0;
  for (; c + B * W <= wv; c += B * W) {
    P acc[B];
    for (int b = 0; b < B; ++b) acc[b] = ei::ploadu<P>(out + c + b * W);
    for (Index i = 0; i < n; ++i)
      for (int b = 0; b < B; ++b) acc[b] = ei::padd(acc[b], ei::ploadu<P>(d + i * ld + c + b * W));
    for (int b = 0; b < B; ++b) ei::pstoreu(out + c + b * W, acc[b]);
  }
  for (; c < wv; c += W) {
    P acc = ei::ploadu<P>(out + c);
    for (Index i = 0; i < n; ++i) acc = ei::padd(acc, ei::ploadu<P>(d + i * ld + c));
    ei::pstoreu(out + c, acc);
  }
  for (; c < wide; ++c) {
    T acc = out[c];
    for (Index i = 0; i < n; ++i) acc += d[i * ld + c];
    out[c] = acc;
  }
}
template <class T>
void contract(Index n, int few, Index wide, const T* h, Index ldh, const T* m, Index ldm, const T* init, T* y,
              Index ldy, bool add) {
  skinny::dispatch_few<T, skinny::Contract>(few, n, wide, h, ldh, m, ldm, init, y, ldy, add);
}
template <class T>
void outer(Index n, int few, Index wide, const T* s, Index lds, const T* v, Index ldv, T* acc, T* bias) {
  if (few > detail::kSkinnyMax) return skinny::outer_wide<T>(n, few, wide, s, lds, v, ldv, acc, bias);
  skinny::dispatch_few<T, skinny::Outer>(few, n, wide, s, lds, v, ldv, acc, bias);
}

}  // namespace rlmpi::nn::kernels
