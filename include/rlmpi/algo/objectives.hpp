#pragma once
// The pieces of the policy updates that can be checked on crafted numbers: the PPO surrogates
// with their per-sample gradient weights, TRPO's backtracking line search and its conjugate
// gradient.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "rlmpi/core/safe_resize.hpp"
#include "rlmpi/core/types.hpp"

namespace rlmpi::algo {

struct SurrogateEval {
  double loss = 0;       // -mean(surrogate)
  double approx_kl = 0;  // mean(logp_old - logp), Spinning Up's early-stop estimate
  double clip_frac = 0;  // fraction with ratio outside [1 - eps, 1 + eps] (strict)
};

// PPO-clip's per-sample pieces, shared by ppo_clip_surrogate and Ppo's fused gradient pass so
// that both give the same bits: r = exp(logp - logp_old) in double, and d loss / d logp_i =
// -adv_i r_i / n where the unclipped term is the active one, else 0 (inv_n = 1 / n).
template <class T>
double surrogate_ratio(T logp, T logp_old) {
  return std::exp(static_cast<double>(logp - logp_old));
}
template <class T>
T clip_weight(double ratio, double adv, double eps, double inv_n) {
  // The gradient flows through ratio * adv unless the clipped term is the smaller one.
  const bool active = (adv >= 0 && ratio <= 1 + eps) || (adv < 0 && ratio >= 1 - eps);
  return active ? static_cast<T>(-adv * ratio * inv_n) : T(0);
}

// PPO-clip's sums, one row at a time in row order: ppo_clip_surrogate and Ppo's one-pass gradient
// (which sees the rows block by block) add the same terms in the same order, so both give the
// same bits. add() returns the row's gradient weight.
struct ClipSums {
  double surr = 0, kl = 0;
  Index clipped = 0;
  template <class T>
  T add(T logp, T logp_old, double adv, double eps, double inv_n) {
    const double ratio = surrogate_ratio(logp, logp_old);
    kl += logp_old - logp;
    surr += std::min(ratio * adv, std::clamp(ratio, 1 - eps, 1 + eps) * adv);
    if (ratio > 1 + eps || ratio < 1 - eps) ++clipped;
    return clip_weight<T>(ratio, adv, eps, inv_n);
  }
  SurrogateEval result(double inv_n) const {
    return {-surr * inv_n, kl * inv_n, static_cast<double>(clipped) * inv_n};
  }
};

// PPO-clip: loss = -mean(min(r adv, clip(r, 1-eps, 1+eps) adv)), r = exp(logp - logp_old).
// w receives d loss / d logp_i = -adv_i r_i / n where the unclipped term is the active one, else 0,
// so grad_logp(act, w) is the loss gradient.
// Both are declared for double and float networks (--precision); sums run in double.
SurrogateEval ppo_clip_surrogate(const Eigen::Ref<const VectorX<double>>& logp,
                                 const Eigen::Ref<const VectorX<double>>& logp_old,
                                 const Eigen::Ref<const VectorX<double>>& adv, double eps, Eigen::Ref<VectorX<double>> w);
SurrogateEval ppo_clip_surrogate(const Eigen::Ref<const VectorX<float>>& logp,
                                 const Eigen::Ref<const VectorX<float>>& logp_old,
                                 const Eigen::Ref<const VectorX<float>>& adv, double eps, Eigen::Ref<VectorX<float>> w);

// Importance-weighted surrogate without clipping (TRPO, PPO-penalty): loss = -mean(r adv),
// w_i = -adv_i r_i / n.
SurrogateEval ratio_surrogate(const Eigen::Ref<const VectorX<double>>& logp,
                              const Eigen::Ref<const VectorX<double>>& logp_old,
                              const Eigen::Ref<const VectorX<double>>& adv, Eigen::Ref<VectorX<double>> w);
SurrogateEval ratio_surrogate(const Eigen::Ref<const VectorX<float>>& logp,
                              const Eigen::Ref<const VectorX<float>>& logp_old,
                              const Eigen::Ref<const VectorX<float>>& adv, Eigen::Ref<VectorX<float>> w);

struct LineSearch {
  int backtrack_iters = 0;  // index of the accepted step, or `iters` when none was accepted
  bool accepted = false;
  double kl = 0, loss = 0;  // at the final parameters
};

// TRPO's backtracking line search: theta = theta_old - coeff^j * full_step for j = 0, 1, ...,
// accepting the first j with kl <= delta and loss <= loss_old, where (kl, loss) = eval(theta).
// On failure theta is set back to theta_old (kl = 0, loss = loss_old).
// eval is a template parameter, not a std::function: no allocation for a capturing lambda.
template <class T, class Eval>
LineSearch backtracking_line_search(VectorX<T>& theta, const VectorX<T>& theta_old, const VectorX<T>& full_step,
                                    double loss_old, double delta, int iters, double coeff, Eval&& eval) {
  for (int j = 0; j < iters; ++j) {
    theta = theta_old - static_cast<T>(std::pow(coeff, j)) * full_step;
    const auto [kl, loss] = eval(std::as_const(theta));
    if (kl <= delta && loss <= loss_old) return {j, true, kl, loss};
  }
  theta = theta_old;
  return {iters, false, 0.0, loss_old};
}

}  // namespace rlmpi::algo
