#pragma once
// State-value function V(s): an MLP with one linear output, over a flat parameter vector.
#include <Eigen/Core>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"
#include "rlmpi/nn/activation.hpp"
#include "rlmpi/nn/mlp.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
class ValueFunction {
 public:
  ValueFunction(int obs_dim, std::vector<int> hidden, Activation act, Isa isa = best_isa());

  Index num_params() const { return mlp_.num_params(); }
  int obs_dim() const { return mlp_.in_dim(); }
  const Mlp<T>& mlp() const { return mlp_; }
  void hold_params(bool held) { mlp_.hold_params(held); }  // Mlp::hold_params

  // Orthogonal uses output gain 1 (CleanRL's critic).
  void init_params(Eigen::Ref<VectorX<T>> params, Rng& rng, Init scheme = Init::Default) const;

  // V(obs_i) for the N x obs_dim batch; the view is valid until the next call.
  ConstVectorMap<T> forward(const Eigen::Ref<const VectorX<T>>& params,
                            const Eigen::Ref<const MatrixX<T>>& obs);

  // Returns mean_i (V(obs_i) - ret_i)^2 and writes its gradient into grad (overwrites).
  T mse_grad(const Eigen::Ref<const VectorX<T>>& params, const Eigen::Ref<const MatrixX<T>>& obs,
             const Eigen::Ref<const VectorX<T>>& ret, Eigen::Ref<VectorX<T>> grad);
  // The loss alone.
  T mse(const Eigen::Ref<const VectorX<T>>& params, const Eigen::Ref<const MatrixX<T>>& obs,
        const Eigen::Ref<const VectorX<T>>& ret);

 private:
  Mlp<T> mlp_;
  VectorX<T> dy_;
};

extern template class ValueFunction<double>;
extern template class ValueFunction<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
