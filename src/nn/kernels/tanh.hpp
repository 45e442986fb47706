#pragma once
// Vectorised tanh for the nn kernels (internal: included by src/nn/kernels/kernels.cpp only,
// which is compiled once per instruction set).
#include <Eigen/Core>
#include <type_traits>

#include "rlmpi/core/types.hpp"


// Vectorised double tanh. Eigen 3.4 vectorises tanh for float only; std::tanh per element
// costs about twice a 64x64 GEMM at N = 4000. Cephes' algorithm with Eigen packet math, both
// branches sharing ONE division:
//   |x| <  0.625: x + x s P(s)/Q(s), s = x^2 (minimax rational)
//   |x| >= 0.625: sign(x) (1 - t)/(1 + t), t = e^{-2|x|}, with e^{-2|x|} = 2^n e^r by Cephes'
//                 exp (n = round(-2|x| log2 e) by the 1.5 * 2^52 rounding trick, e^r =
//                 (Q + P)/(Q - P) rational in r), so (1 - t)/(1 + t) = (A - B)/(A + B) with
//                 A = Q - P, B = 2^n (Q + P): no floor, no ldexp, no second division.
//                 -2|x| is clamped at -40 (t < 5e-18: tanh rounds to +-1 there).
// 2^n is built from the exponent bits where 64-bit integer SIMD exists (SSE2, AVX2); other
// packet types use Eigen's pldexp. Accurate to a few ulp (checked against std::tanh in
// tests/nn/mlp.cpp and tests/nn/kernels.cpp).
namespace rlmpi::nn::kernels {

// 2^n for an integer-valued n in [-1022, 1023], given s = n + 1.5 * 2^52 (whose low mantissa
// bits hold n in two's complement): bits(2^n) = (bits(s) << 52) + bits(1.0).
template <class Packet>
inline Packet pow2_from_magic(const Packet& /*s*/, const Packet& n) {
  return Eigen::internal::pldexp(Eigen::internal::pset1<Packet>(1.0), n);
}
#if defined(EIGEN_VECTORIZE_SSE2)
inline Eigen::internal::Packet2d pow2_from_magic(const Eigen::internal::Packet2d& s,
                                                 const Eigen::internal::Packet2d& /*n*/) {
  return _mm_castsi128_pd(
      _mm_add_epi64(_mm_slli_epi64(_mm_castpd_si128(s), 52), _mm_castpd_si128(_mm_set1_pd(1.0))));
}
#endif
#if defined(EIGEN_VECTORIZE_AVX2)
inline Eigen::internal::Packet4d pow2_from_magic(const Eigen::internal::Packet4d& s,
                                                 const Eigen::internal::Packet4d& /*n*/) {
  return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_slli_epi64(_mm256_castpd_si256(s), 52),
                                              _mm256_castpd_si256(_mm256_set1_pd(1.0))));
}
#endif

struct TanhDoubleOp {
  static constexpr double p0 = -9.64399179425052238628e-1, p1 = -9.92877231001918586564e1,
                          p2 = -1.61468768441708447952e3;
  static constexpr double q0 = 1.12811678491632931402e2, q1 = 2.23548839060100448583e3,
                          q2 = 4.84406305325125486048e3;
  static constexpr double split = 0.625;
  // Cephes exp: e^r = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)) = (Q + rP)/(Q - rP), |r| <= ln2/2.
  static constexpr double ep0 = 1.26177193074810590878e-4, ep1 = 3.02994407707441961300e-2,
                          ep2 = 9.99999999999999999910e-1;
  static constexpr double eq0 = 3.00198505138664455042e-6, eq1 = 2.52448340349684104192e-3,
                          eq2 = 2.27265548208155028766e-1, eq3 = 2.00000000000000000009e0;
  static constexpr double log2e = 1.4426950408889634073599, c1 = 0.693145751953125,
                          c2 = 1.42860682030941723212e-6, magic = 6755399441055744.0;  // 1.5 * 2^52
  double operator()(double x) const {
    const double ax = std::abs(x);
    if (ax >= split) {
      const double t = std::exp(-2.0 * ax);
      return std::copysign((1.0 - t) / (1.0 + t), x);
    }
    const double s = x * x;
    return x + x * s * ((p0 * s + p1) * s + p2) / (((s + q0) * s + q1) * s + q2);
  }
  template <class Packet>
  Packet packetOp(const Packet& x) const {
    namespace ei = Eigen::internal;
    using ei::padd;
    using ei::pmul;
    using ei::pset1;
    using ei::psub;
    const Packet ax = ei::pabs(x);
    const Packet small = ei::pcmp_lt(ax, pset1<Packet>(split));
    // Big branch: a = -2|x| in [-40, 0], a = n ln2 + r.
    const Packet a = ei::pmax(pmul(pset1<Packet>(-2.0), ax), pset1<Packet>(-40.0));
    const Packet sm = padd(pmul(a, pset1<Packet>(log2e)), pset1<Packet>(magic));
    const Packet n = psub(sm, pset1<Packet>(magic));  // round to nearest
    const Packet r = psub(psub(a, pmul(n, pset1<Packet>(c1))), pmul(n, pset1<Packet>(c2)));
    const Packet r2 = pmul(r, r);
    const Packet ep =
        pmul(r, padd(pmul(padd(pmul(pset1<Packet>(ep0), r2), pset1<Packet>(ep1)), r2), pset1<Packet>(ep2)));
    const Packet eq = padd(
        pmul(padd(pmul(padd(pmul(pset1<Packet>(eq0), r2), pset1<Packet>(eq1)), r2), pset1<Packet>(eq2)), r2),
        pset1<Packet>(eq3));
    const Packet big_a = psub(eq, ep);
    const Packet big_b = pmul(pow2_from_magic(sm, n), padd(eq, ep));
    const Packet big_num = ei::por(psub(big_a, big_b), ei::pand(x, pset1<Packet>(-0.0)));
    // Small branch.
    const Packet s = pmul(x, x);
    const Packet poly_p = padd(pmul(padd(pmul(pset1<Packet>(p0), s), pset1<Packet>(p1)), s),
                               pset1<Packet>(p2));
    const Packet poly_q =
        padd(pmul(padd(pmul(padd(s, pset1<Packet>(q0)), s), pset1<Packet>(q1)), s),
             pset1<Packet>(q2));
    const Packet num = ei::pselect(small, pmul(pmul(x, s), poly_p), big_num);
    const Packet den = ei::pselect(small, poly_q, padd(big_a, big_b));
    const Packet q = ei::pdiv(num, den);
    // NaN in, NaN out (the clamp above would turn it into a number).
    return ei::pselect(ei::pcmp_eq(x, x), ei::pselect(small, padd(x, q), q), x);
  }
};
}  // namespace rlmpi::nn::kernels

template <>
struct Eigen::internal::functor_traits<rlmpi::nn::kernels::TanhDoubleOp> {
  enum {
    Cost = 40,
    PacketAccess = packet_traits<double>::HasExp && packet_traits<double>::HasDiv &&
                   packet_traits<double>::HasAbs &&
                   packet_traits<double>::HasCmp && packet_traits<double>::HasBlend
  };
};

namespace rlmpi::nn::kernels {

// Float tanh: Eigen 3.4's rational approximation (generic_fast_tanh_float: the same clamp to
// +-7.9988 with FMA, the same [13/6] minimax coefficients, one division), without its
// |x| < 4e-4 branch that returns x itself: that branch's abs, compare and blend are 3-5 of the
// formula's ~16 vector operations (on AVX-512 the mask goes through a k register and back), and
// tanh runs over every hidden activation of every pass (~13 % of a PPO update). Below 4e-4 the
// rational is x (1 - 1.3e-7): within 2 ulp, like the rest of the range (tests/nn/isa.cpp).
// Elsewhere the same operations as Eigen's, so the same bits.
template <class P>
P tanh_float(const P& a_x) {
  namespace ei = Eigen::internal;
  using ei::pmadd;
  using ei::pset1;
#ifdef EIGEN_VECTORIZE_FMA
  constexpr float clamp = 7.99881172180175781f;
#else
  constexpr float clamp = 7.90531110763549805f;
#endif
  const P x = ei::pmax(ei::pmin(a_x, pset1<P>(clamp)), pset1<P>(-clamp));
  const P x2 = ei::pmul(x, x);
  P p = pmadd(x2, pset1<P>(-2.76076847742355e-16f), pset1<P>(2.00018790482477e-13f));
  p = pmadd(x2, p, pset1<P>(-8.60467152213735e-11f));
  p = pmadd(x2, p, pset1<P>(5.12229709037114e-08f));
  p = pmadd(x2, p, pset1<P>(1.48572235717979e-05f));
  p = pmadd(x2, p, pset1<P>(6.37261928875436e-04f));
  p = pmadd(x2, p, pset1<P>(4.89352455891786e-03f));
  p = ei::pmul(x, p);
  P q = pmadd(x2, pset1<P>(1.19825839466702e-06f), pset1<P>(1.18534705686654e-04f));
  q = pmadd(x2, q, pset1<P>(2.26843463243900e-03f));
  q = pmadd(x2, q, pset1<P>(4.89352518554385e-03f));
  return ei::pdiv(p, q);
}

// Every element through the packet formula, with unaligned loads, the last partial packet
// padded: an element's result depends only on its value, never on its position or the array's
// alignment. (Eigen's own assignment peels to alignment and computes the peeled elements with
// the scalar formula, which differs in the last bit: a rollout row then depended on where its
// buffer started.)
template <class T, class P>
P tanh_packet(const P& x) {
  if constexpr (std::is_same_v<T, double>) {
    return TanhDoubleOp{}.packetOp(x);
  } else {
    return tanh_float(x);
  }
}

template <class T>
void tanh_inplace(T* z, Index count) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr Index W = ei::packet_traits<T>::size;
  const auto op = [](const P& x) { return tanh_packet<T>(x); };
  Index i = 0;
  for (; i + W <= count; i += W) ei::pstoreu(z + i, op(ei::ploadu<P>(z + i)));
  if (i < count) {
    alignas(64) T tail[W] = {};
    for (Index k = i; k < count; ++k) tail[k - i] = z[k];
    ei::pstore(tail, op(ei::pload<P>(tail)));
    for (Index k = i; k < count; ++k) z[k] = tail[k - i];
  }
}

// tanh of rows x width entries with row stride ld: one pass when the rows are contiguous (more
// independent packets in flight than row by row), else row by row. Same bits either way.
template <class T>
void tanh_rows(T* z, Index rows, Index width, Index ld) {
  if (ld == width) return tanh_inplace(z, rows * width);
  for (Index r = 0; r < rows; ++r) tanh_inplace(z + r * ld, width);
}

}  // namespace rlmpi::nn::kernels
