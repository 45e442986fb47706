#include "rlmpi/nn/mlp.hpp"

#include <Eigen/Householder>
#include <Eigen/QR>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "rlmpi/core/error.hpp"
#include "rlmpi/core/safe_resize.hpp"

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
// tests/nn/mlp.cpp).
namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {
namespace detail {

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
}  // namespace detail
}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn

template <>
struct Eigen::internal::functor_traits<rlmpi::nn::detail::TanhDoubleOp> {
  enum {
    Cost = 40,
    PacketAccess = packet_traits<double>::HasExp && packet_traits<double>::HasDiv &&
                   packet_traits<double>::HasAbs &&
                   packet_traits<double>::HasCmp && packet_traits<double>::HasBlend
  };
};

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

namespace {

template <class T>
using RowMap = Eigen::Map<MatrixX<T>>;
template <class T>
using ConstRowMap = Eigen::Map<const MatrixX<T>>;

template <class T>
void tanh_inplace(T* z, Index count) {
  Eigen::Map<VectorX<T>> v(z, count);
  if constexpr (std::is_same_v<T, double>) {
    v = v.unaryExpr(detail::TanhDoubleOp{});
  } else {
    v = v.array().tanh();
  }
}

// Sum over rows of the n x w block at d (row stride ld) into out (overwrites).
template <class T>
void column_sums(const T* d, Index n, Index w, Index ld, T* out) {
  Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> acc(out, w);
  acc.setZero();
  for (Index i = 0; i < n; ++i) acc += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(d + i * ld, w);
}

}  // namespace

Init parse_init(const std::string& name) {
  if (name == "default") return Init::Default;
  if (name == "orthogonal") return Init::Orthogonal;
  throw UsageError("unknown init '" + name + "' (allowed: default, orthogonal)");
}

std::string to_string(Init init) { return init == Init::Default ? "default" : "orthogonal"; }

template <class T>
Mlp<T>::Mlp(std::vector<int> sizes, Activation act) : sizes_(std::move(sizes)), act_(act) {
  if (sizes_.size() < 2) throw std::invalid_argument("Mlp: need at least input and output sizes");
  for (int s : sizes_) {
    if (s <= 0) throw std::invalid_argument("Mlp: layer sizes must be positive");
    max_width_ = std::max(max_width_, s);
  }
  for (int l = 0; l < num_layers(); ++l) {
    w_off_.push_back(num_params_);
    num_params_ += Index{sizes_[l + 1]} * sizes_[l];
    b_off_.push_back(num_params_);
    num_params_ += sizes_[l + 1];
  }
  h_.resize(sizes_.size());
}

template <class T>
void Mlp<T>::init(Eigen::Ref<VectorX<T>> params, Rng& rng, Init scheme, T output_gain) const {
  if (params.size() != num_params_) throw std::invalid_argument("Mlp::init: wrong parameter count");
  for (int l = 0; l < num_layers(); ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    T* w = params.data() + w_off_[l];
    T* b = params.data() + b_off_[l];
    if (scheme == Init::Default) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      for (Index i = 0; i < out * in; ++i) w[i] = static_cast<T>(rng.uniform(-bound, bound));
      for (Index i = 0; i < out; ++i) b[i] = static_cast<T>(rng.uniform(-bound, bound));
    } else {
      const double gain = l + 1 == num_layers() ? static_cast<double>(output_gain) : std::sqrt(2.0);
      Eigen::MatrixXd g(out, in);
      for (Index r = 0; r < out; ++r)
        for (Index c = 0; c < in; ++c) g(r, c) = rng.normal();
      const bool wide = out < in;
      if (wide) g.transposeInPlace();
      Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
      Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(g.rows(), g.cols());
      const Eigen::MatrixXd& r = qr.matrixQR();
      for (Index c = 0; c < q.cols(); ++c)
        if (r(c, c) < 0) q.col(c) = -q.col(c);
      if (wide) q.transposeInPlace();
      RowMap<T>(w, out, in) = (gain * q).template cast<T>();
      Eigen::Map<VectorX<T>>(b, out).setZero();
    }
  }
}

template <class T>
void Mlp<T>::reserve(Index n) {
  if (n <= cap_) return;
  // If an allocation below throws (std::bad_alloc for a batch that does not fit), the network is
  // left with no workspace (capacity 0) rather than with buffers smaller than cap_ claims; and
  // safe_resize never leaves a freed block in a buffer (Eigen's resize does, see safe_resize.hpp).
  cap_ = 0;
  n_ = 0;
  for (auto& h : h_) safe_resize(h, 0);  // old buffers go first: room for the new ones
  safe_resize(ping_, 0);
  safe_resize(pong_, 0);
  safe_resize(jv_, 0);
  for (std::size_t l = 0; l < sizes_.size(); ++l) safe_resize(h_[l], n * sizes_[l]);
  safe_resize(ping_, n * max_width_);
  safe_resize(pong_, n * max_width_);
  safe_resize(jv_, n * out_dim());
  plan_fwd_.clear();
  plan_dx_.clear();
  plan_dw_.clear();
  for (int l = 0; l < num_layers(); ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    plan_fwd_.push_back(gemm_.plan(out, n, in));  // Z^T(out x n) = W(out x in) H^T(in x n)
    plan_dx_.push_back(gemm_.plan(in, n, out));   // dH^T(in x n) = W^T(in x out) dZ^T(out x n)
    plan_dw_.push_back(gemm_.plan(in, out, n));   // dW^T(in x out) = H^T(in x n) dZ(n x out)
  }
  cap_ = n;
}

template <class T>
void Mlp<T>::activate(T* z, Index count) const {
  if (act_ == Activation::Tanh) {
    tanh_inplace(z, count);
  } else {
    Eigen::Map<VectorX<T>> v(z, count);
    v = v.cwiseMax(T(0));
  }
}

template <class T>
void Mlp<T>::activation_backward(const T* h, T* d, Index count) const {
  Eigen::Map<const VectorX<T>> hv(h, count);
  Eigen::Map<VectorX<T>> dv(d, count);
  if (act_ == Activation::Tanh) {
    dv.array() *= T(1) - hv.array().square();  // tanh' = 1 - tanh^2
  } else {
    dv = (hv.array() > T(0)).select(dv, T(0));
  }
}

// Row-major N x w batches are column-major w x N matrices, so every product below is written
// for Eigen's column-major GEMM driver: Z^T = W H^T (+ bias pre-filled), dH^T = W^T dZ^T,
// dW^T = H^T dZ. W (row-major out x in) is RowMajor as an out x in lhs and ColMajor as W^T.
template <class T>
ConstMatrixMap<T> Mlp<T>::forward(const T* params, const Eigen::Ref<const MatrixX<T>>& x) {
  if (x.cols() != in_dim()) throw std::invalid_argument("Mlp::forward: input has wrong width");
  const Index n = x.rows();
  reserve(n);
  n_ = n;
  RowMap<T>(act_buf(0), n, in_dim()) = x;
  const int L = num_layers();
  if (n <= kSmallBatch) {
    forward_small(params, n);
    return ConstMatrixMap<T>(act_buf(L), n, out_dim());
  }
  for (int l = 0; l < L; ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    T* z = act_buf(l + 1);
    RowMap<T> zm(z, n, out);
    zm.rowwise() = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(params + b_off_[l], out);
    gemm_.template gemm<Eigen::RowMajor, Eigen::ColMajor>(plan_fwd_[l], out, n, in,
                                                           params + w_off_[l], in, act_buf(l), in,
                                                           z, out);
    if (l + 1 < L) activate(z, n * out);
  }
  return ConstMatrixMap<T>(act_buf(L), n, out_dim());
}

// Tiny batches (the rollout: one row per environment): per row z = W h + b as Eigen's
// matrix-vector product (row-major W, unit-stride h and z), which neither packs nor allocates.
// Summation order differs from the GEMM path, so results agree to rounding only.
template <class T>
void Mlp<T>::forward_small(const T* params, Index n) {
  const int L = num_layers();
  for (int l = 0; l < L; ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    const ConstRowMap<T> w(params + w_off_[l], out, in);
    const Eigen::Map<const VectorX<T>> b(params + b_off_[l], out);
    for (Index i = 0; i < n; ++i) {
      Eigen::Map<VectorX<T>> z(act_buf(l + 1) + i * out, out);
      z = b;
      z.noalias() += w * Eigen::Map<const VectorX<T>>(act_buf(l) + i * in, in);
    }
    if (l + 1 < L) activate(act_buf(l + 1), n * out);
  }
}

template <class T>
void Mlp<T>::backward(const T* params, const Eigen::Ref<const MatrixX<T>>& dy, T* grad,
                      MatrixX<T>* dx) {
  const Index n = n_;
  if (dy.rows() != n || dy.cols() != out_dim())
    throw std::invalid_argument("Mlp::backward: dy must be N x out of the last forward");
  const int L = num_layers();
  const T* d = dy.data();  // delta of the current layer's pre-activation, n x out rows
  Index ld = dy.outerStride();
  T* bufs[2] = {ping_.data(), pong_.data()};
  for (int l = L - 1; l >= 0; --l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    column_sums(d, n, out, ld, grad + b_off_[l]);
    T* gw = grad + w_off_[l];
    Eigen::Map<VectorX<T>>(gw, out * in).setZero();
    gemm_.template gemm<Eigen::ColMajor, Eigen::RowMajor>(plan_dw_[l], in, out, n, act_buf(l), in,
                                                           d, ld, gw, in);
    if (l == 0 && dx == nullptr) break;
    T* dh = bufs[l & 1];
    Eigen::Map<VectorX<T>>(dh, n * in).setZero();
    gemm_.template gemm<Eigen::ColMajor, Eigen::ColMajor>(plan_dx_[l], in, n, out,
                                                           params + w_off_[l], in, d, ld, dh, in);
    if (l > 0) {
      activation_backward(act_buf(l), dh, n * in);
      d = dh;
      ld = in;
    } else if (dx != nullptr) {
      safe_resize(*dx, n, in);
      *dx = ConstRowMap<T>(dh, n, in);
    }
  }
}

template <class T>
ConstMatrixMap<T> Mlp<T>::jvp(const T* params, const T* v) {
  const Index n = n_;
  const int L = num_layers();
  T* bufs[2] = {ping_.data(), pong_.data()};
  const T* dh = nullptr;  // tangent of the current layer's input (none for x)
  for (int l = 0; l < L; ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    T* dz = l + 1 == L ? jv_.data() : bufs[l & 1];
    RowMap<T>(dz, n, out).rowwise() =
        Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(v + b_off_[l], out);
    gemm_.template gemm<Eigen::RowMajor, Eigen::ColMajor>(plan_fwd_[l], out, n, in, v + w_off_[l],
                                                           in, act_buf(l), in, dz, out);
    if (dh != nullptr)
      gemm_.template gemm<Eigen::RowMajor, Eigen::ColMajor>(plan_fwd_[l], out, n, in,
                                                             params + w_off_[l], in, dh, in, dz, out);
    if (l + 1 < L) activation_backward(act_buf(l + 1), dz, n * out);
    dh = dz;
  }
  return ConstMatrixMap<T>(jv_.data(), n, out_dim());
}

template class Mlp<double>;
template class Mlp<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
