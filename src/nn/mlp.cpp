#include "rlmpi/nn/mlp.hpp"

#include <Eigen/Householder>
#include <Eigen/QR>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "rlmpi/core/error.hpp"
#include "rlmpi/core/safe_resize.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

namespace {

template <class T>
using RowMap = Eigen::Map<MatrixX<T>>;
template <class T>
using ConstRowMap = Eigen::Map<const MatrixX<T>>;

// How a layer's batched products run: the skinny kernels when one side of the layer is at most
// kSkinnyMax wide (vectorised along the other side), the dense kernel and the wide outer
// product otherwise ("Gemm").
enum class Shape { Gemm, NarrowIn, NarrowOut };

Shape shape_of(Index in, Index out) {
  constexpr Index k = detail::kSkinnyMax;
  if (in <= k && (in <= out || out > k)) return Shape::NarrowIn;
  if (out <= k) return Shape::NarrowOut;
  return Shape::Gemm;
}

// The weight gradient is accumulated as dW^T (in x out) when that vectorises along the wider
// side (an 11 -> 64 layer: 64 lanes, not 11) or the sides are equal (the kernel then also sums
// the bias gradient on its loads of the output gradient), as dW (out x in) otherwise.
bool grad_transposed(Index in, Index out) {
  const Shape s = shape_of(in, out);
  return s == Shape::NarrowIn || (s == Shape::Gemm && in <= out);
}

}  // namespace

Init parse_init(const std::string& name) {
  if (name == "default") return Init::Default;
  if (name == "orthogonal") return Init::Orthogonal;
  throw UsageError("unknown init '" + name + "' (allowed: default, orthogonal)");
}

std::string to_string(Init init) { return init == Init::Default ? "default" : "orthogonal"; }

template <class T>
Mlp<T>::Mlp(std::vector<int> sizes, Activation act, Isa isa)
    : sizes_(std::move(sizes)), act_(act), gemm_(isa) {
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
  hs_.resize(sizes_.size());
  Index narrow = 0;
  for (int l = 0; l < num_layers(); ++l) {
    const Index size = Index{sizes_[l]} * sizes_[l + 1];
    const Shape shape = shape_of(sizes_[l], sizes_[l + 1]);
    wt_off_.push_back(wt_set_);
    dwt_off_.push_back(narrow);
    if (shape != Shape::NarrowOut) wt_set_ += size;
    if (grad_transposed(sizes_[l], sizes_[l + 1])) narrow += size;
  }
  wt_.resize(3 * wt_set_);
  wsnap_.resize(wt_set_);
  dwt_.resize(narrow);
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
  // AlignedBuffer::resize never leaves a freed block in a buffer.
  cap_ = 0;
  n_ = 0;
  for (auto& h : h_) h.resize(0);  // old buffers go first: room for the new ones
  ping_.resize(0);
  pong_.resize(0);
  jv_.resize(0);
  dyb_.resize(0);
  for (std::size_t l = 0; l < sizes_.size(); ++l) h_[l].resize(n * sizes_[l]);
  ping_.resize(std::min(n, kBlockRows) * max_width_);
  pong_.resize(std::min(n, kBlockRows) * max_width_);
  dyb_.resize(std::min(n, kBlockRows) * out_dim());
  jv_.resize(n * out_dim());
  cap_ = n;
}

template <class T>
void Mlp<T>::activate(T* z, Index count) const {
  if (act_ == Activation::Tanh) {
    gemm_.kernels().tanh(z, count);
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

template <class T>
void Mlp<T>::transpose_weights(const T* p, int set) {
  for (int l = 0; l < num_layers(); ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    if (shape_of(in, out) == Shape::NarrowOut) continue;
    transpose_layer(l, p + w_off_[l], wt_.data() + set * wt_set_ + wt_off_[l]);
  }
}

template <class T>
void Mlp<T>::transpose_layer(int l, const T* w, T* wt) const {
  gemm_.kernels().transpose(sizes_[l + 1], sizes_[l], w, wt);
}

// Batches are row-major N x width blocks, run through all layers kBlockRows rows at a time.
// Layers wider than kSkinnyMax on both sides run the fused dense kernel (forward: bias + product
// + activation; input gradient: product + activation derivative) and the wide outer product for
// the weight gradient; narrower layers run the skinny kernels. No packing anywhere.
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
  transpose_weights(params, 0);
  for (Index i0 = 0; i0 < n; i0 += kBlockRows) {
    for (int l = 0; l <= L; ++l) hs_[l] = act_buf(l) + i0 * sizes_[l];
    forward_block(params, std::min(kBlockRows, n - i0));
  }
  return ConstMatrixMap<T>(act_buf(L), n, out_dim());
}

template <class T>
void Mlp<T>::forward_block(const T* params, Index m) {
  const int L = num_layers();
  for (int l = 0; l < L; ++l)
    layer_forward(l, params + w_off_[l], transposed(l, 0), params + b_off_[l], m, hs_[l], hs_[l + 1], /*add=*/false,
                  l + 1 < L ? activation_epilogue() : detail::Epilogue::None);
}

template <class T>
ConstMatrixMap<T> Mlp<T>::forward_backward(const T* params, const Eigen::Ref<const MatrixX<T>>& x,
                                           detail::RowFn<T> dy_of, T* grad) {
  if (x.cols() != in_dim()) throw std::invalid_argument("Mlp::forward_backward: input has wrong width");
  const Index n = x.rows();
  const int L = num_layers();
  if (n <= kSmallBatch) {  // the small-batch forward (its own summation order), then backward
    const ConstMatrixMap<T> y = forward(params, x);
    dy_of(0, n, y.data(), dyb_.data());
    backward(params, ConstRowMap<T>(dyb_.data(), n, out_dim()), grad);
    n_ = 0;
    return ConstMatrixMap<T>(act_buf(L), n, out_dim());
  }
  reserve(n);
  n_ = 0;
  transpose_weights(params, 0);
  begin_grad(grad);
  // The hidden activations of a block reuse the first rows of their buffers (they stay in cache);
  // the outputs of all rows are kept.
  for (int l = 0; l < L; ++l) hs_[l] = act_buf(l);
  for (Index i0 = 0; i0 < n; i0 += kBlockRows) {
    const Index m = std::min(kBlockRows, n - i0);
    RowMap<T>(act_buf(0), m, in_dim()) = x.middleRows(i0, m);
    hs_[L] = act_buf(L) + i0 * out_dim();
    forward_block(params, m);
    dy_of(i0, m, hs_[L], dyb_.data());
    backward_block(params, m, dyb_.data(), out_dim(), grad, nullptr);
  }
  finish_grad(grad);
  return ConstMatrixMap<T>(act_buf(L), n, out_dim());
}

template <class T>
void Mlp<T>::layer_forward(int l, const T* w, const T* wt, const T* b, Index m, const T* h, T* z, bool add,
                           detail::Epilogue epi) {
  const Index in = sizes_[l], out = sizes_[l + 1];
  switch (shape_of(in, out)) {
    case Shape::NarrowIn:  // bias, product and activation in one pass
      gemm_.expand(m, static_cast<int>(in), out, h, in, wt, out, b, z, out, add, epi);
      return;
    case Shape::NarrowOut:
      gemm_.contract(m, static_cast<int>(out), in, h, in, w, in, b, z, out, add);
      break;
    case Shape::Gemm:  // bias, product and activation in one pass
      gemm_.dense(m, in, out, h, in, wt, out, b, z, out, epi, nullptr, 0, add);
      return;
  }
  if (epi != detail::Epilogue::None) activate(z, m * out);
}

// Tiny batches (the rollout: one row per environment) skip the row-block machinery. The wide
// layers run the dense kernel on W^T from refresh_small_cache's copy (the skinny contract they
// ran before, on W as it is, ended every output in a horizontal sum: 3x slower at 4 rows with
// AVX-512); the narrow ones the skinny kernels. Every kernel computes a row's sums in the same
// order whatever its tile, with unaligned loads, so a row's result depends neither on the batch
// it is in nor on where its buffer lies, and equals the block path's. Not counted in gemm_flops
// (not the update).
template <class T>
void Mlp<T>::refresh_small_cache(const T* params) {
  if (held_ && params == held_params_) return;  // checked already during this hold
  for (int l = 0; l < num_layers(); ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    if (shape_of(in, out) == Shape::NarrowOut) continue;
    const T* w = params + w_off_[l];
    T* snap = wsnap_.data() + wt_off_[l];
    const auto bytes = static_cast<std::size_t>(in * out) * sizeof(T);
    if (snap_valid_ && std::memcmp(w, snap, bytes) == 0) continue;
    std::memcpy(snap, w, bytes);
    transpose_layer(l, w, wt_.data() + 2 * wt_set_ + wt_off_[l]);
  }
  snap_valid_ = true;
  if (held_) held_params_ = params;
}

template <class T>
void Mlp<T>::forward_small(const T* params, Index n) {
  const auto& k = gemm_.kernels();
  constexpr Index kFew = detail::kSkinnyMax;
  const int L = num_layers();
  refresh_small_cache(params);
  for (int l = 0; l < L; ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    const T* w = params + w_off_[l];
    const T* b = params + b_off_[l];
    const T* h = act_buf(l);
    T* z = act_buf(l + 1);
    const bool hidden = l + 1 < L;
    const Shape shape = shape_of(in, out);
    if (shape == Shape::NarrowIn) {
      k.expand(n, static_cast<int>(in), out, h, in, transposed(l, 2), out, b, z, out, false,
               hidden ? activation_epilogue() : detail::Epilogue::None, nullptr, 0);
    } else if (shape == Shape::Gemm) {  // the same kernel and sums as the row blocks' forward
      k.dense(n, in, out, h, in, transposed(l, 2), out, b, z, out,
              hidden ? activation_epilogue() : detail::Epilogue::None, nullptr, 0, false);
    } else {
      for (Index o = 0; o < out; o += kFew)
        k.contract(n, static_cast<int>(std::min(kFew, out - o)), in, h, in, w + o * in, in, b + o, z + o, out, false);
      if (hidden) activate(z, n * out);
    }
  }
}

template <class T>
void Mlp<T>::backward(const T* params, const Eigen::Ref<const MatrixX<T>>& dy, T* grad,
                      MatrixX<T>* dx) {
  const Index n = n_;
  if (dy.rows() != n || dy.cols() != out_dim())
    throw std::invalid_argument("Mlp::backward: dy must be N x out of the last forward");
  transpose_weights(params, 0);
  begin_grad(grad);
  if (dx != nullptr) safe_resize(*dx, n, in_dim());
  for (Index i0 = 0; i0 < n; i0 += kBlockRows) {
    for (int l = 0; l < num_layers(); ++l) hs_[l] = act_buf(l) + i0 * sizes_[l];
    backward_block(params, std::min(kBlockRows, n - i0), dy.data() + i0 * dy.outerStride(), dy.outerStride(), grad,
                   dx != nullptr ? dx->data() + i0 * in_dim() : nullptr);
  }
  finish_grad(grad);
}

template <class T>
void Mlp<T>::begin_grad(T* grad) {
  Eigen::Map<VectorX<T>>(grad, num_params_).setZero();  // every sum accumulates over blocks
  dwt_.set_zero();
}

template <class T>
void Mlp<T>::backward_block(const T* params, Index m, const T* d, Index ld, T* grad, T* dx) {
  T* bufs[2] = {ping_.data(), pong_.data()};
  for (int l = num_layers() - 1; l >= 0; --l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    const T* h = hs_[l];  // the block's input to layer l
    const Shape shape = shape_of(in, out);
    // dW (out x in) += sum_i d_i h_i^T, or its transpose (grad_transposed), whose kernel also
    // sums d's columns into the bias gradient on the same loads of d
    if (grad_transposed(in, out)) {
      gemm_.outer(m, static_cast<int>(in), out, h, in, d, ld, dwt_.data() + dwt_off_[l], grad + b_off_[l]);
    } else {
      gemm_.kernels().column_sums(m, out, d, ld, grad + b_off_[l]);
      gemm_.outer(m, static_cast<int>(out), in, d, ld, h, in, grad + w_off_[l]);
    }
    if (l == 0 && dx == nullptr) break;
    // dh_i = (W^T d_i) * f'(pre-activation of layer l's input), fused where the kernel can
    T* dh = l == 0 ? dx : bufs[l & 1];
    const T* w = params + w_off_[l];
    const detail::Epilogue deriv = l == 0 ? detail::Epilogue::None : derivative_epilogue();
    if (shape == Shape::NarrowOut) {
      gemm_.expand(m, static_cast<int>(out), in, d, ld, w, in, nullptr, dh, in, false, deriv, h, in);
    } else if (shape == Shape::NarrowIn) {
      gemm_.contract(m, static_cast<int>(in), out, d, ld, transposed(l, 0), out, nullptr, dh, in);
      if (l > 0) activation_backward(h, dh, m * in);
    } else {
      gemm_.dense(m, out, in, d, ld, w, in, nullptr, dh, in, deriv, h, in);
    }
    d = dh;
    ld = in;
  }
}

template <class T>
void Mlp<T>::finish_grad(T* grad) {
  for (int l = 0; l < num_layers(); ++l) {
    const Index in = sizes_[l], out = sizes_[l + 1];
    if (!grad_transposed(in, out)) continue;
    gemm_.kernels().transpose(in, out, dwt_.data() + dwt_off_[l], grad + w_off_[l]);  // dW = (dW^T)^T
  }
}

template <class T>
ConstMatrixMap<T> Mlp<T>::jvp(const T* params, const T* v) {
  const Index n = n_;
  const int L = num_layers();
  transpose_weights(params, 0);
  transpose_weights(v, 1);
  T* bufs[2] = {ping_.data(), pong_.data()};
  for (Index i0 = 0; i0 < n; i0 += kBlockRows) {
    const Index m = std::min(kBlockRows, n - i0);
    const T* dh = nullptr;  // tangent of the current layer's input (none for x)
    for (int l = 0; l < L; ++l) {
      const Index in = sizes_[l], out = sizes_[l + 1];
      T* dz = l + 1 == L ? jv_.data() + i0 * out : bufs[l & 1];
      layer_forward(l, v + w_off_[l], transposed(l, 1), v + b_off_[l], m, act_buf(l) + i0 * in, dz, /*add=*/false,
                    detail::Epilogue::None);
      if (dh != nullptr)
        layer_forward(l, params + w_off_[l], transposed(l, 0), nullptr, m, dh, dz, /*add=*/true,
                      detail::Epilogue::None);
      if (l + 1 < L) activation_backward(act_buf(l + 1) + i0 * out, dz, m * out);
      dh = dz;
    }
  }
  return ConstMatrixMap<T>(jv_.data(), n, out_dim());
}

template class Mlp<double>;
template class Mlp<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
