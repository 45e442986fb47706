#pragma once
// Stochastic policies pi(a|s) over a flat parameter vector, written once for VPG/PPO/TRPO.
//
// Call forward(params, obs) first: it caches the batch's distributions, and every other method
// works on that batch (N = obs.rows()). The gradient methods read the parameters through the
// pointer given to forward: keep that vector alive and unchanged until the batch is done. Output arguments must be sized by the caller (N rows).
// After the workspace has grown to N rows, no method allocates for batches of at most N.
//
//   Categorical (Discrete):  logits = MLP(obs); act_dim() = 1 (the action index as a number);
//                            dist_params = log-probabilities (N x n).
//   DiagGaussian (Box):      mu = MLP(obs), state-independent log_std = the LAST act_dim entries
//                            of the flat vector ([mlp params | log_std]);
//                            dist_params = [mu | log_std] (N x 2 act_dim).
#include <Eigen/Core>
#include <memory>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"
#include "rlmpi/nn/activation.hpp"
#include "rlmpi/nn/mlp.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
class Policy {
 public:
  virtual ~Policy() = default;

  virtual Index num_params() const = 0;
  virtual int obs_dim() const = 0;
  virtual int act_dim() const = 0;   // 1 for Categorical
  virtual int dist_dim() const = 0;  // Categorical n, Gaussian 2 * act_dim
  virtual const Mlp<T>& mlp() const = 0;
  // Mlp::hold_params: the parameters given to forward stay fixed until hold_params(false).
  virtual void hold_params(bool held) = 0;

  // Default: PyTorch nn.Linear init; Orthogonal: output-layer gain 0.01. Gaussian log_std = -0.5.
  virtual void init_params(Eigen::Ref<VectorX<T>> params, Rng& rng,
                           Init scheme = Init::Default) const = 0;

  // Caches the distributions of the batch obs (N x obs_dim) for the calls below.
  virtual void forward(const Eigen::Ref<const VectorX<T>>& params,
                       const Eigen::Ref<const MatrixX<T>>& obs) = 0;
  Index batch() const { return n_; }

  // Categorical: inverse CDF, one rng.uniform() per row; Gaussian: mu + std * rng.normal(),
  // row by row, dim by dim. Not clipped to any action bounds.
  virtual void sample(Rng& rng, Eigen::Ref<MatrixX<T>> act) const = 0;
  virtual void mode(Eigen::Ref<MatrixX<T>> act) const = 0;  // argmax / mean
  // log pi(a_i|s_i) (Gaussian: summed over dims, no EPS, as torch.distributions.Normal).
  virtual void logp(const Eigen::Ref<const MatrixX<T>>& act, Eigen::Ref<VectorX<T>> out) const = 0;
  // Full entropy of each distribution (summed over action dims).
  virtual void entropy(Eigen::Ref<VectorX<T>> out) const = 0;
  // The same of the distributions in the rows of `dist` (as written by dist_params), without a
  // forward: a rollout's distributions. Leaves the cached batch alone.
  virtual void entropy_of(const Eigen::Ref<const MatrixX<T>>& dist, Eigen::Ref<VectorX<T>> out) = 0;
  virtual void dist_params(Eigen::Ref<MatrixX<T>> out) const = 0;
  // KL(old_i || current_i), analytic; old_dist as written by dist_params.
  virtual void kl(const Eigen::Ref<const MatrixX<T>>& old_dist, Eigen::Ref<VectorX<T>> out) const = 0;

  // grad <- d/dparams sum_i w_i logp(a_i|s_i) (overwrites all num_params() entries).
  virtual void grad_logp(const Eigen::Ref<const MatrixX<T>>& act,
                         const Eigen::Ref<const VectorX<T>>& w, Eigen::Ref<VectorX<T>> grad) = 0;
  // forward(), then grad_logp() with weights computed from the batch's own log-probabilities,
  // in one pass over row blocks (Mlp::forward_backward: a block's activations stay in cache):
  // w_of(i0, m, logp, w) gets logp(a_i|s_i) of rows [i0, i0 + m) and writes their w_i. The
  // distributions are cached as by forward() (logp, kl, entropy, dist_params, sample, mode), but
  // the network keeps no activations: grad_* and fvp need a forward() first. Bit for bit the
  // gradient of forward() then grad_logp() with the same w.
  virtual void forward_grad_logp(const Eigen::Ref<const VectorX<T>>& params, const Eigen::Ref<const MatrixX<T>>& obs,
                                 const Eigen::Ref<const MatrixX<T>>& act, detail::RowFn<T> w_of,
                                 Eigen::Ref<VectorX<T>> grad) = 0;
  // grad <- d/dparams sum_i w_i H_i.
  virtual void grad_entropy(const Eigen::Ref<const VectorX<T>>& w, Eigen::Ref<VectorX<T>> grad) = 0;
  // grad <- d/dparams mean_i KL(old_i || current_i).
  virtual void grad_kl(const Eigen::Ref<const MatrixX<T>>& old_dist, Eigen::Ref<VectorX<T>> grad) = 0;
  // out <- (1/N) J^T M J v + damping v: the Fisher matrix of the cached batch (= Hessian of the
  // mean KL at old == current) times v, with J = d dist / d params and M the analytic Fisher of
  // the distribution (Categorical logits: diag(p) - p p^T; Gaussian: 1/sigma^2 on mu, 2 on
  // log_std). Uses forward-mode J v and one backprop.
  virtual void fvp(const Eigen::Ref<const VectorX<T>>& v, T damping, Eigen::Ref<VectorX<T>> out) = 0;

 protected:
  Policy() = default;
  Policy(const Policy&) = default;
  Policy& operator=(const Policy&) = default;
  Index n_ = 0;
};

template <class T>
class CategoricalPolicy final : public Policy<T> {
 public:
  CategoricalPolicy(int obs_dim, int n_actions, std::vector<int> hidden, Activation act, Isa isa = best_isa());

  Index num_params() const override { return mlp_.num_params(); }
  int obs_dim() const override { return mlp_.in_dim(); }
  int act_dim() const override { return 1; }
  int dist_dim() const override { return mlp_.out_dim(); }
  int num_actions() const { return mlp_.out_dim(); }
  const Mlp<T>& mlp() const override { return mlp_; }
  void hold_params(bool held) override { mlp_.hold_params(held); }

  void init_params(Eigen::Ref<VectorX<T>> params, Rng& rng, Init scheme = Init::Default) const override;
  void forward(const Eigen::Ref<const VectorX<T>>& params, const Eigen::Ref<const MatrixX<T>>& obs) override;
  void sample(Rng& rng, Eigen::Ref<MatrixX<T>> act) const override;
  void mode(Eigen::Ref<MatrixX<T>> act) const override;
  void logp(const Eigen::Ref<const MatrixX<T>>& act, Eigen::Ref<VectorX<T>> out) const override;
  void entropy(Eigen::Ref<VectorX<T>> out) const override;
  void entropy_of(const Eigen::Ref<const MatrixX<T>>& dist, Eigen::Ref<VectorX<T>> out) override;
  void dist_params(Eigen::Ref<MatrixX<T>> out) const override;
  void kl(const Eigen::Ref<const MatrixX<T>>& old_dist, Eigen::Ref<VectorX<T>> out) const override;
  void grad_logp(const Eigen::Ref<const MatrixX<T>>& act, const Eigen::Ref<const VectorX<T>>& w,
                 Eigen::Ref<VectorX<T>> grad) override;
  void forward_grad_logp(const Eigen::Ref<const VectorX<T>>& params, const Eigen::Ref<const MatrixX<T>>& obs,
                         const Eigen::Ref<const MatrixX<T>>& act, detail::RowFn<T> w_of,
                         Eigen::Ref<VectorX<T>> grad) override;
  void grad_entropy(const Eigen::Ref<const VectorX<T>>& w, Eigen::Ref<VectorX<T>> grad) override;
  void grad_kl(const Eigen::Ref<const MatrixX<T>>& old_dist, Eigen::Ref<VectorX<T>> grad) override;
  void fvp(const Eigen::Ref<const VectorX<T>>& v, T damping, Eigen::Ref<VectorX<T>> out) override;

 private:
  Index action_index(T a) const;
  // Stable log-softmax of m rows of logits z into rows [i0, i0 + m) of logp_ and p_.
  void softmax_rows(const T* z, Index i0, Index m);
  Eigen::Map<const MatrixX<T>> logp_all() const { return {logp_.data(), this->n_, num_actions()}; }
  Eigen::Map<const MatrixX<T>> prob() const { return {p_.data(), this->n_, num_actions()}; }
  Eigen::Map<MatrixX<T>> dy() { return {dy_.data(), this->n_, num_actions()}; }

  Mlp<T> mlp_;
  const T* params_ = nullptr;  // parameters of the cached forward
  VectorX<T> logp_, p_, dy_;   // N x n, raw storage
  VectorX<T> row_p_;           // entropy_of: one row's probabilities
  VectorX<T> rows_;            // forward_grad_logp: one block's logp and w
};

template <class T>
class DiagGaussianPolicy final : public Policy<T> {
 public:
  DiagGaussianPolicy(int obs_dim, int act_dim, std::vector<int> hidden, Activation act, Isa isa = best_isa());

  Index num_params() const override { return mlp_.num_params() + act_dim(); }
  int obs_dim() const override { return mlp_.in_dim(); }
  int act_dim() const override { return mlp_.out_dim(); }
  int dist_dim() const override { return 2 * act_dim(); }
  Index log_std_offset() const { return mlp_.num_params(); }
  const Mlp<T>& mlp() const override { return mlp_; }
  void hold_params(bool held) override { mlp_.hold_params(held); }

  void init_params(Eigen::Ref<VectorX<T>> params, Rng& rng, Init scheme = Init::Default) const override;
  void forward(const Eigen::Ref<const VectorX<T>>& params, const Eigen::Ref<const MatrixX<T>>& obs) override;
  void sample(Rng& rng, Eigen::Ref<MatrixX<T>> act) const override;
  void mode(Eigen::Ref<MatrixX<T>> act) const override;
  void logp(const Eigen::Ref<const MatrixX<T>>& act, Eigen::Ref<VectorX<T>> out) const override;
  void entropy(Eigen::Ref<VectorX<T>> out) const override;
  void entropy_of(const Eigen::Ref<const MatrixX<T>>& dist, Eigen::Ref<VectorX<T>> out) override;
  void dist_params(Eigen::Ref<MatrixX<T>> out) const override;
  void kl(const Eigen::Ref<const MatrixX<T>>& old_dist, Eigen::Ref<VectorX<T>> out) const override;
  void grad_logp(const Eigen::Ref<const MatrixX<T>>& act, const Eigen::Ref<const VectorX<T>>& w,
                 Eigen::Ref<VectorX<T>> grad) override;
  void forward_grad_logp(const Eigen::Ref<const VectorX<T>>& params, const Eigen::Ref<const MatrixX<T>>& obs,
                         const Eigen::Ref<const MatrixX<T>>& act, detail::RowFn<T> w_of,
                         Eigen::Ref<VectorX<T>> grad) override;
  void grad_entropy(const Eigen::Ref<const VectorX<T>>& w, Eigen::Ref<VectorX<T>> grad) override;
  void grad_kl(const Eigen::Ref<const MatrixX<T>>& old_dist, Eigen::Ref<VectorX<T>> grad) override;
  void fvp(const Eigen::Ref<const VectorX<T>>& v, T damping, Eigen::Ref<VectorX<T>> out) override;

 private:
  Eigen::Map<MatrixX<T>> dy() { return {dy_.data(), this->n_, act_dim()}; }
  ConstMatrixMap<T> mu() const { return {mu_, this->n_, act_dim()}; }

  Mlp<T> mlp_;
  const T* params_ = nullptr;
  const T* mu_ = nullptr;                // the MLP output (N x act_dim) in its workspace
  VectorX<T> log_std_, std_, inv_var_;   // act_dim
  VectorX<T> dy_;                        // N x act_dim, raw storage
  VectorX<T> rows_;                      // forward_grad_logp: one block's logp and w
};

// Categorical over n_actions_or_act_dim actions if discrete, else a diagonal Gaussian.
template <class T>
std::unique_ptr<Policy<T>> make_policy(bool discrete, int obs_dim, int n_actions_or_act_dim,
                                       std::vector<int> hidden, Activation act, Isa isa = best_isa());

extern template class CategoricalPolicy<double>;
extern template class CategoricalPolicy<float>;
extern template class DiagGaussianPolicy<double>;
extern template class DiagGaussianPolicy<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
