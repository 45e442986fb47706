#include <cmath>
#include <numbers>
#include <stdexcept>

#include "rlmpi/core/safe_resize.hpp"
#include "rlmpi/nn/policy.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

using detail::require;

template <class T>
DiagGaussianPolicy<T>::DiagGaussianPolicy(int obs_dim, int act_dim, std::vector<int> hidden,
                                          Activation act, Isa isa) {
  std::vector<int> sizes{obs_dim};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(act_dim);
  mlp_ = Mlp<T>(std::move(sizes), act, isa);
  log_std_.setZero(act_dim);
  std_.setOnes(act_dim);
  inv_var_.setOnes(act_dim);
}

template <class T>
void DiagGaussianPolicy<T>::init_params(Eigen::Ref<VectorX<T>> params, Rng& rng, Init scheme) const {
  require(params.size() == num_params(), "DiagGaussianPolicy::init_params: wrong parameter count");
  mlp_.init(params.head(mlp_.num_params()), rng, scheme, T(0.01));
  params.tail(act_dim()).setConstant(T(-0.5));  // Spinning Up: std = exp(-0.5)
}

template <class T>
void DiagGaussianPolicy<T>::forward(const Eigen::Ref<const VectorX<T>>& params,
                                    const Eigen::Ref<const MatrixX<T>>& obs) {
  require(params.size() == num_params(), "DiagGaussianPolicy::forward: wrong parameter count");
  this->n_ = 0;  // no batch if an allocation below throws (mu_ would point into a freed workspace)
  mu_ = nullptr;
  mu_ = mlp_.forward(params.data(), obs).data();
  const Index n = obs.rows();
  safe_grow(dy_, n * act_dim());
  this->n_ = n;
  params_ = params.data();
  log_std_ = params.tail(act_dim());
  std_ = log_std_.array().exp();
  inv_var_ = (T(-2) * log_std_.array()).exp();
}

template <class T>
void DiagGaussianPolicy<T>::sample(Rng& rng, Eigen::Ref<MatrixX<T>> act) const {
  require(act.rows() == this->n_ && act.cols() == act_dim(), "DiagGaussianPolicy::sample: act N x d");
  const auto m = mu();
  for (Index i = 0; i < this->n_; ++i)
    for (Index j = 0; j < act_dim(); ++j) act(i, j) = m(i, j) + std_(j) * static_cast<T>(rng.normal());
}

template <class T>
void DiagGaussianPolicy<T>::mode(Eigen::Ref<MatrixX<T>> act) const {
  require(act.rows() == this->n_ && act.cols() == act_dim(), "DiagGaussianPolicy::mode: act N x d");
  act = mu();
}

template <class T>
void DiagGaussianPolicy<T>::logp(const Eigen::Ref<const MatrixX<T>>& act,
                                 Eigen::Ref<VectorX<T>> out) const {
  require(act.rows() == this->n_ && act.cols() == act_dim() && out.size() == this->n_,
        "DiagGaussianPolicy::logp: act N x d, out N");
  // torch.distributions.Normal: -(a-mu)^2/(2 var) - log std - log sqrt(2 pi), summed over dims.
  const T c = T(act_dim()) * T(0.5) * std::log(T(2) * std::numbers::pi_v<T>) + log_std_.sum();
  const auto m = mu();
  for (Index i = 0; i < this->n_; ++i)
    out(i) = T(-0.5) * ((act.row(i) - m.row(i)).array().square() * inv_var_.transpose().array()).sum() - c;
}

namespace {
// Entropy of a diagonal Gaussian with these log-stds: sum_d (1/2 + log(2 pi)/2 + log_std_d).
template <class T, class LogStd>
T gaussian_entropy(const LogStd& log_std) {
  return T(log_std.size()) * (T(0.5) + T(0.5) * std::log(T(2) * std::numbers::pi_v<T>)) + log_std.sum();
}
}  // namespace

template <class T>
void DiagGaussianPolicy<T>::entropy(Eigen::Ref<VectorX<T>> out) const {
  require(out.size() == this->n_, "DiagGaussianPolicy::entropy: out N");
  out.setConstant(gaussian_entropy<T>(log_std_));
}

template <class T>
void DiagGaussianPolicy<T>::entropy_of(const Eigen::Ref<const MatrixX<T>>& dist, Eigen::Ref<VectorX<T>> out) {
  require(dist.cols() == dist_dim() && out.size() == dist.rows(), "DiagGaussianPolicy::entropy_of: dist M x 2d, out M");
  for (Index i = 0; i < dist.rows(); ++i) out(i) = gaussian_entropy<T>(dist.row(i).tail(act_dim()));  // its log_std
}

template <class T>
void DiagGaussianPolicy<T>::dist_params(Eigen::Ref<MatrixX<T>> out) const {
  require(out.rows() == this->n_ && out.cols() == dist_dim(), "DiagGaussianPolicy::dist_params: N x 2d");
  out.leftCols(act_dim()) = mu();
  out.rightCols(act_dim()).rowwise() = log_std_.transpose();
}

template <class T>
void DiagGaussianPolicy<T>::kl(const Eigen::Ref<const MatrixX<T>>& old_dist,
                               Eigen::Ref<VectorX<T>> out) const {
  require(old_dist.rows() == this->n_ && old_dist.cols() == dist_dim() && out.size() == this->n_,
        "DiagGaussianPolicy::kl: old_dist N x 2d, out N");
  // KL(old||cur) = sum_j log s_j - log s_old_j + (s_old_j^2 + (mu_old_j - mu_j)^2) / (2 s_j^2) - 1/2
  const Index d = act_dim();
  const auto m = mu();
  for (Index i = 0; i < this->n_; ++i) {
    const auto mu_old = old_dist.row(i).head(d).array();
    const auto ls_old = old_dist.row(i).tail(d).array();
    out(i) = (log_std_.transpose().array() - ls_old +
              T(0.5) * ((T(2) * ls_old).exp() + (mu_old - m.row(i).array()).square()) *
                  inv_var_.transpose().array() -
              T(0.5))
                 .sum();
  }
}

template <class T>
void DiagGaussianPolicy<T>::grad_logp(const Eigen::Ref<const MatrixX<T>>& act,
                                      const Eigen::Ref<const VectorX<T>>& w,
                                      Eigen::Ref<VectorX<T>> grad) {
  require(act.rows() == this->n_ && act.cols() == act_dim() && w.size() == this->n_ &&
            grad.size() == num_params(),
        "DiagGaussianPolicy::grad_logp: act N x d, w N, grad num_params");
  // dlogp/dmu = (a - mu)/var; dlogp/dlog_std = (a - mu)^2/var - 1
  auto d = dy();
  auto g_ls = grad.tail(act_dim());
  g_ls.setZero();
  const auto m = mu();
  for (Index i = 0; i < this->n_; ++i) {
    d.row(i) = (act.row(i) - m.row(i)).cwiseProduct(inv_var_.transpose());
    g_ls += w(i) * ((act.row(i) - m.row(i)).transpose().cwiseProduct(d.row(i).transpose()) -
                    VectorX<T>::Ones(act_dim()));
    d.row(i) *= w(i);
  }
  mlp_.backward(params_, d, grad.data());
}

template <class T>
void DiagGaussianPolicy<T>::forward_grad_logp(const Eigen::Ref<const VectorX<T>>& params,
                                              const Eigen::Ref<const MatrixX<T>>& obs,
                                              const Eigen::Ref<const MatrixX<T>>& act, detail::RowFn<T> w_of,
                                              Eigen::Ref<VectorX<T>> grad) {
  require(params.size() == num_params() && act.rows() == obs.rows() && act.cols() == act_dim() &&
              grad.size() == num_params(),
          "DiagGaussianPolicy::forward_grad_logp: params and grad num_params, act N x d");
  this->n_ = 0;
  mu_ = nullptr;
  const Index n = obs.rows(), d = act_dim();
  safe_grow(dy_, n * d);
  safe_grow(rows_, 2 * Mlp<T>::kBlockRows);
  log_std_ = params.tail(d);
  std_ = log_std_.array().exp();
  inv_var_ = (T(-2) * log_std_.array()).exp();
  const T c = T(d) * T(0.5) * std::log(T(2) * std::numbers::pi_v<T>) + log_std_.sum();  // as logp()
  auto g_ls = grad.tail(d);
  g_ls.setZero();
  // Per block: logp as logp(), the weights, then grad_logp's operations on the block's rows.
  auto dy_of = [&](Index i0, Index m, const T* mu_rows, T* dd) {
    const ConstMatrixMap<T> mb(mu_rows, m, d);
    Eigen::Map<MatrixX<T>> db(dd, m, d);
    T* lpa = rows_.data();
    T* w = lpa + Mlp<T>::kBlockRows;
    for (Index r = 0; r < m; ++r)
      lpa[r] = T(-0.5) * ((act.row(i0 + r) - mb.row(r)).array().square() * inv_var_.transpose().array()).sum() - c;
    w_of(i0, m, lpa, w);
    for (Index r = 0; r < m; ++r) {
      db.row(r) = (act.row(i0 + r) - mb.row(r)).cwiseProduct(inv_var_.transpose());
      g_ls += w[r] * ((act.row(i0 + r) - mb.row(r)).transpose().cwiseProduct(db.row(r).transpose()) -
                      VectorX<T>::Ones(d));
      db.row(r) *= w[r];
    }
  };
  mu_ = mlp_.forward_backward(params.data(), obs, dy_of, grad.data()).data();
  this->n_ = n;
  params_ = params.data();
}

template <class T>
void DiagGaussianPolicy<T>::grad_entropy(const Eigen::Ref<const VectorX<T>>& w,
                                         Eigen::Ref<VectorX<T>> grad) {
  require(w.size() == this->n_ && grad.size() == num_params(),
        "DiagGaussianPolicy::grad_entropy: w N, grad num_params");
  // The entropy depends on log_std only: dH_i/dlog_std_j = 1.
  grad.head(mlp_.num_params()).setZero();
  grad.tail(act_dim()).setConstant(w.sum());
}

template <class T>
void DiagGaussianPolicy<T>::grad_kl(const Eigen::Ref<const MatrixX<T>>& old_dist,
                                    Eigen::Ref<VectorX<T>> grad) {
  require(old_dist.rows() == this->n_ && old_dist.cols() == dist_dim() && grad.size() == num_params(),
        "DiagGaussianPolicy::grad_kl: old_dist N x 2d, grad num_params");
  // dKL/dmu = (mu - mu_old)/var; dKL/dlog_std = 1 - (var_old + (mu - mu_old)^2)/var
  const Index dd = act_dim();
  const T inv_n = T(1) / static_cast<T>(this->n_);
  auto d = dy();
  auto g_ls = grad.tail(dd);
  g_ls.setZero();
  const auto m = mu();
  for (Index i = 0; i < this->n_; ++i) {
    const auto mu_old = old_dist.row(i).head(dd).array();
    const auto ls_old = old_dist.row(i).tail(dd).array();
    const auto diff = m.row(i).array() - mu_old;
    d.row(i) = inv_n * diff * inv_var_.transpose().array();
    g_ls.transpose().array() +=
        inv_n * (T(1) - ((T(2) * ls_old).exp() + diff.square()) * inv_var_.transpose().array());
  }
  mlp_.backward(params_, d, grad.data());
}

template <class T>
void DiagGaussianPolicy<T>::fvp(const Eigen::Ref<const VectorX<T>>& v, T damping,
                                Eigen::Ref<VectorX<T>> out) {
  require(v.size() == num_params() && out.size() == num_params(), "DiagGaussianPolicy::fvp: sizes");
  const auto u = mlp_.jvp(params_, v.data());  // J v on mu
  auto d = dy();
  const T inv_n = T(1) / static_cast<T>(this->n_);
  for (Index i = 0; i < this->n_; ++i) d.row(i) = inv_n * u.row(i).cwiseProduct(inv_var_.transpose());
  mlp_.backward(params_, d, out.data());
  // Fisher of log_std is 2 per sample and dim; the batch mean is 2.
  out.tail(act_dim()) = T(2) * v.tail(act_dim());
  out += damping * v;
}

template class DiagGaussianPolicy<double>;
template class DiagGaussianPolicy<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
