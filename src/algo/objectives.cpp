#include "rlmpi/algo/objectives.hpp"

#include <algorithm>
#include <cmath>

namespace rlmpi::algo {
namespace {

template <class T>
SurrogateEval clip_surrogate(const Eigen::Ref<const VectorX<T>>& logp, const Eigen::Ref<const VectorX<T>>& logp_old,
                             const Eigen::Ref<const VectorX<T>>& adv, double eps, Eigen::Ref<VectorX<T>> w) {
  const Index n = logp.size();
  const double inv_n = 1.0 / static_cast<double>(n);
  ClipSums sums;
  for (Index i = 0; i < n; ++i) w[i] = sums.add<T>(logp[i], logp_old[i], adv[i], eps, inv_n);
  return sums.result(inv_n);
}

template <class T>
SurrogateEval plain_surrogate(const Eigen::Ref<const VectorX<T>>& logp, const Eigen::Ref<const VectorX<T>>& logp_old,
                              const Eigen::Ref<const VectorX<T>>& adv, Eigen::Ref<VectorX<T>> w) {
  const Index n = logp.size();
  const double inv_n = 1.0 / static_cast<double>(n);
  double surr = 0, kl = 0;
  for (Index i = 0; i < n; ++i) {
    const double ratio = std::exp(static_cast<double>(logp[i] - logp_old[i]));
    surr += ratio * adv[i];
    kl += logp_old[i] - logp[i];
    w[i] = static_cast<T>(-adv[i] * ratio * inv_n);
  }
  return {-surr * inv_n, kl * inv_n, 0.0};
}

}  // namespace

#define RLMPI_OBJECTIVES(T)                                                                                   \
  SurrogateEval ppo_clip_surrogate(const Eigen::Ref<const VectorX<T>>& logp,                                  \
                                   const Eigen::Ref<const VectorX<T>>& logp_old,                              \
                                   const Eigen::Ref<const VectorX<T>>& adv, double eps, Eigen::Ref<VectorX<T>> w) { \
    return clip_surrogate<T>(logp, logp_old, adv, eps, w);                                                    \
  }                                                                                                           \
  SurrogateEval ratio_surrogate(const Eigen::Ref<const VectorX<T>>& logp,                                     \
                                const Eigen::Ref<const VectorX<T>>& logp_old,                                 \
                                const Eigen::Ref<const VectorX<T>>& adv, Eigen::Ref<VectorX<T>> w) {          \
    return plain_surrogate<T>(logp, logp_old, adv, w);                                                        \
  }
RLMPI_OBJECTIVES(double)
RLMPI_OBJECTIVES(float)
#undef RLMPI_OBJECTIVES

}  // namespace rlmpi::algo
