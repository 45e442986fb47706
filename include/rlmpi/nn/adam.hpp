#pragma once
// Adam with exactly torch.optim.Adam's update (no weight decay, no amsgrad):
//   t += 1;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// One call updates the whole flat parameter vector, in one pass of the kernel table of an
// instruction set (every set gives the same bits: no FMA, IEEE square roots). Bias corrections
// are computed in double, as PyTorch does with Python floats.
#include <Eigen/Core>
#include <cstdint>

#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"
#include "rlmpi/nn/isa.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
class Adam {
 public:
  // Everything a checkpoint needs to resume bit for bit.
  struct State {
    VectorX<T> m, v;
    std::int64_t t = 0;
  };

  explicit Adam(Index num_params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
                double eps = 1e-8, Isa isa = best_isa());

  void step(Eigen::Ref<VectorX<T>> params, const Eigen::Ref<const VectorX<T>>& grad);

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }  // e.g. for annealing
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  Index num_params() const { return state_.m.size(); }

  const State& state() const { return state_; }
  // Sizes must match num_params() and t >= 0 (std::invalid_argument).
  void set_state(State s);
  void reset();  // m = v = 0, t = 0

 private:
  double lr_, beta1_, beta2_, eps_;
  Isa isa_;
  State state_;
};

extern template class Adam<double>;
extern template class Adam<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
