#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "rlmpi/core/safe_resize.hpp"
#include "rlmpi/nn/policy.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

using detail::require;

template <class T>
CategoricalPolicy<T>::CategoricalPolicy(int obs_dim, int n_actions, std::vector<int> hidden,
                                        Activation act, Isa isa) {
  std::vector<int> sizes{obs_dim};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(n_actions);
  mlp_ = Mlp<T>(std::move(sizes), act, isa);
}

template <class T>
void CategoricalPolicy<T>::init_params(Eigen::Ref<VectorX<T>> params, Rng& rng, Init scheme) const {
  require(params.size() == num_params(), "CategoricalPolicy::init_params: wrong parameter count");
  mlp_.init(params, rng, scheme, T(0.01));
}

template <class T>
void CategoricalPolicy<T>::forward(const Eigen::Ref<const VectorX<T>>& params,
                                   const Eigen::Ref<const MatrixX<T>>& obs) {
  require(params.size() == num_params(), "CategoricalPolicy::forward: wrong parameter count");
  this->n_ = 0;  // no batch if an allocation below throws (the buffers may be gone)
  const auto logits = mlp_.forward(params.data(), obs);
  const Index n = obs.rows(), k = num_actions();
  safe_grow(logp_, n * k);  // each on its own: a failed allocation leaves the others valid
  safe_grow(p_, n * k);
  safe_grow(dy_, n * k);
  this->n_ = n;
  params_ = params.data();
  softmax_rows(logits.data(), 0, n);
}

// Stable log-softmax, shifted by the row's max so exp never overflows: lp = z - max - log sum
// exp(z - max), p = exp(lp). exp and log run over the rows in packets of the network's
// instruction set (a row of 2 actions is too short for Eigen to vectorise, and scalar std::exp
// per entry cost about as much as a 64 x 64 layer); dy_ holds the row sums meanwhile. Every entry
// goes through the same packet formula wherever it lies (packet_math.hpp, via the kernel table),
// so rows give the same bits in any split of the batch.
template <class T>
void CategoricalPolicy<T>::softmax_rows(const T* z, Index i0, Index m) {
  const Index k = num_actions();
  T* lp = logp_.data() + i0 * k;
  T* p = p_.data() + i0 * k;
  T* lse = dy_.data() + i0;
  for (Index i = 0; i < m; ++i) {
    T mx = z[i * k];
    for (Index j = 1; j < k; ++j) mx = std::max(mx, z[i * k + j]);
    for (Index j = 0; j < k; ++j) lp[i * k + j] = z[i * k + j] - mx;
  }
  const auto& kn = mlp_.kernels();  // the instruction set's packets (16 floats with AVX-512)
  kn.exp(lp, p, m * k);
  for (Index i = 0; i < m; ++i) {
    T sum = 0;
    for (Index j = 0; j < k; ++j) sum += p[i * k + j];
    lse[i] = sum;
  }
  kn.log(lse, lse, m);
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < k; ++j) lp[i * k + j] -= lse[i];
  kn.exp(lp, p, m * k);
}

template <class T>
void CategoricalPolicy<T>::forward_grad_logp(const Eigen::Ref<const VectorX<T>>& params,
                                             const Eigen::Ref<const MatrixX<T>>& obs,
                                             const Eigen::Ref<const MatrixX<T>>& act, detail::RowFn<T> w_of,
                                             Eigen::Ref<VectorX<T>> grad) {
  require(params.size() == num_params() && act.rows() == obs.rows() && act.cols() == 1 &&
              grad.size() == num_params(),
          "CategoricalPolicy::forward_grad_logp: params and grad num_params, act N x 1");
  this->n_ = 0;
  const Index n = obs.rows(), k = num_actions();
  safe_grow(logp_, n * k);
  safe_grow(p_, n * k);
  safe_grow(dy_, n * k);
  safe_grow(rows_, 2 * Mlp<T>::kBlockRows);
  // Per block: the distributions, the weights, and d/dlogits sum_i w_i logp_a = w (onehot(a) - p)
  // with grad_logp's operations.
  auto dy_of = [&](Index i0, Index m, const T* z, T* d) {
    softmax_rows(z, i0, m);
    T* lpa = rows_.data();
    T* w = lpa + Mlp<T>::kBlockRows;
    for (Index r = 0; r < m; ++r) lpa[r] = logp_[(i0 + r) * k + action_index(act(i0 + r, 0))];
    w_of(i0, m, lpa, w);
    for (Index r = 0; r < m; ++r) {
      for (Index j = 0; j < k; ++j) d[r * k + j] = p_[(i0 + r) * k + j] * -w[r];
      d[r * k + action_index(act(i0 + r, 0))] += w[r];
    }
  };
  mlp_.forward_backward(params.data(), obs, dy_of, grad.data());
  this->n_ = n;
  params_ = params.data();
}

template <class T>
Index CategoricalPolicy<T>::action_index(T a) const {
  const auto k = static_cast<Index>(a);
  if (!(static_cast<T>(k) == a && k >= 0 && k < num_actions()))
    throw std::invalid_argument("CategoricalPolicy: action is not an index in [0, n)");
  return k;
}

template <class T>
void CategoricalPolicy<T>::sample(Rng& rng, Eigen::Ref<MatrixX<T>> act) const {
  require(act.rows() == this->n_ && act.cols() == 1, "CategoricalPolicy::sample: act must be N x 1");
  const auto p = prob();
  const Index k = num_actions();
  for (Index i = 0; i < this->n_; ++i) {
    const double u = rng.uniform();
    double cum = 0;
    Index j = 0, last_positive = 0;
    for (; j < k; ++j) {
      if (p(i, j) > 0) last_positive = j;
      cum += static_cast<double>(p(i, j));
      if (u < cum) break;
    }
    // Rounding can leave the total just below u: take the last action with mass.
    act(i, 0) = static_cast<T>(j < k ? j : last_positive);
  }
}

template <class T>
void CategoricalPolicy<T>::mode(Eigen::Ref<MatrixX<T>> act) const {
  require(act.rows() == this->n_ && act.cols() == 1, "CategoricalPolicy::mode: act must be N x 1");
  const auto lp = logp_all();
  for (Index i = 0; i < this->n_; ++i) {
    Index j = 0;
    lp.row(i).maxCoeff(&j);
    act(i, 0) = static_cast<T>(j);
  }
}

template <class T>
void CategoricalPolicy<T>::logp(const Eigen::Ref<const MatrixX<T>>& act,
                                Eigen::Ref<VectorX<T>> out) const {
  require(act.rows() == this->n_ && act.cols() == 1 && out.size() == this->n_,
        "CategoricalPolicy::logp: act must be N x 1, out N");
  const auto lp = logp_all();
  for (Index i = 0; i < this->n_; ++i) out(i) = lp(i, action_index(act(i, 0)));
}

template <class T>
void CategoricalPolicy<T>::entropy(Eigen::Ref<VectorX<T>> out) const {
  require(out.size() == this->n_, "CategoricalPolicy::entropy: out must be N");
  const auto lp = logp_all();
  const auto p = prob();
  for (Index i = 0; i < this->n_; ++i) out(i) = -(p.row(i).array() * lp.row(i).array()).sum();
}

template <class T>
void CategoricalPolicy<T>::entropy_of(const Eigen::Ref<const MatrixX<T>>& dist, Eigen::Ref<VectorX<T>> out) {
  require(dist.cols() == num_actions() && out.size() == dist.rows(),
          "CategoricalPolicy::entropy_of: dist must be M x n, out M");
  const Index k = num_actions();
  safe_grow(row_p_, k);
  for (Index i = 0; i < dist.rows(); ++i) {
    mlp_.kernels().exp(dist.row(i).data(), row_p_.data(), k);  // p = exp(lp), as softmax_rows
    out(i) = -(row_p_.head(k).transpose().array() * dist.row(i).array()).sum();
  }
}

template <class T>
void CategoricalPolicy<T>::dist_params(Eigen::Ref<MatrixX<T>> out) const {
  require(out.rows() == this->n_ && out.cols() == dist_dim(),
        "CategoricalPolicy::dist_params: out must be N x n");
  out = logp_all();
}

template <class T>
void CategoricalPolicy<T>::kl(const Eigen::Ref<const MatrixX<T>>& old_dist,
                              Eigen::Ref<VectorX<T>> out) const {
  require(old_dist.rows() == this->n_ && old_dist.cols() == dist_dim() && out.size() == this->n_,
        "CategoricalPolicy::kl: old_dist must be N x n, out N");
  const auto lp = logp_all();
  for (Index i = 0; i < this->n_; ++i)
    out(i) = (old_dist.row(i).array().exp() * (old_dist.row(i) - lp.row(i)).array()).sum();
}

template <class T>
void CategoricalPolicy<T>::grad_logp(const Eigen::Ref<const MatrixX<T>>& act,
                                     const Eigen::Ref<const VectorX<T>>& w,
                                     Eigen::Ref<VectorX<T>> grad) {
  require(act.rows() == this->n_ && act.cols() == 1 && w.size() == this->n_ &&
            grad.size() == num_params(),
        "CategoricalPolicy::grad_logp: act N x 1, w N, grad num_params");
  // d logp_a / d logits = onehot(a) - p
  auto d = dy();
  d = prob();
  for (Index i = 0; i < this->n_; ++i) {
    d.row(i) *= -w(i);
    d(i, action_index(act(i, 0))) += w(i);
  }
  mlp_.backward(params_, d, grad.data());
}

template <class T>
void CategoricalPolicy<T>::grad_entropy(const Eigen::Ref<const VectorX<T>>& w,
                                        Eigen::Ref<VectorX<T>> grad) {
  require(w.size() == this->n_ && grad.size() == num_params(),
        "CategoricalPolicy::grad_entropy: w N, grad num_params");
  // dH/dz_k = -p_k (log p_k + H)
  const auto lp = logp_all();
  const auto p = prob();
  auto d = dy();
  for (Index i = 0; i < this->n_; ++i) {
    const T h = -(p.row(i).array() * lp.row(i).array()).sum();
    d.row(i) = -w(i) * p.row(i).array() * (lp.row(i).array() + h);
  }
  mlp_.backward(params_, d, grad.data());
}

template <class T>
void CategoricalPolicy<T>::grad_kl(const Eigen::Ref<const MatrixX<T>>& old_dist,
                                   Eigen::Ref<VectorX<T>> grad) {
  require(old_dist.rows() == this->n_ && old_dist.cols() == dist_dim() && grad.size() == num_params(),
        "CategoricalPolicy::grad_kl: old_dist N x n, grad num_params");
  // d/dz_k sum_j -p_old_j log p_j = p_k sum_j p_old_j - p_old_k
  const auto p = prob();
  auto d = dy();
  const T inv_n = T(1) / static_cast<T>(this->n_);
  for (Index i = 0; i < this->n_; ++i) {
    d.row(i) = old_dist.row(i).array().exp();
    const T mass = d.row(i).sum();
    d.row(i) = inv_n * (mass * p.row(i) - d.row(i));
  }
  mlp_.backward(params_, d, grad.data());
}

template <class T>
void CategoricalPolicy<T>::fvp(const Eigen::Ref<const VectorX<T>>& v, T damping,
                               Eigen::Ref<VectorX<T>> out) {
  require(v.size() == num_params() && out.size() == num_params(), "CategoricalPolicy::fvp: sizes");
  const auto u = mlp_.jvp(params_, v.data());  // J v on the logits
  const auto p = prob();
  auto d = dy();
  const T inv_n = T(1) / static_cast<T>(this->n_);
  for (Index i = 0; i < this->n_; ++i) {
    // (diag(p) - p p^T) u
    const T pu = p.row(i).dot(u.row(i));
    d.row(i) = inv_n * p.row(i).array() * (u.row(i).array() - pu);
  }
  mlp_.backward(params_, d, out.data());
  out += damping * v;
}

template class CategoricalPolicy<double>;
template class CategoricalPolicy<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
