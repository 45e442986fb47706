#include "rlmpi/nn/adam.hpp"

#include <cmath>
#include <stdexcept>

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
Adam<T>::Adam(Index num_params, double lr, double beta1, double beta2, double eps)
    : lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps) {
  state_.m.setZero(num_params);
  state_.v.setZero(num_params);
}

template <class T>
void Adam<T>::step(Eigen::Ref<VectorX<T>> params, const Eigen::Ref<const VectorX<T>>& grad) {
  if (params.size() != num_params() || grad.size() != num_params())
    throw std::invalid_argument("Adam::step: params and grad must have num_params() entries");
  state_.t += 1;
  const double t = static_cast<double>(state_.t);
  const T step_size = static_cast<T>(lr_ / (1.0 - std::pow(beta1_, t)));
  const T bc2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(beta2_, t)));
  const T b1 = static_cast<T>(beta1_), b2 = static_cast<T>(beta2_), eps = static_cast<T>(eps_);
  state_.m = b1 * state_.m + (T(1) - b1) * grad;
  state_.v = b2 * state_.v + (T(1) - b2) * grad.cwiseAbs2();
  params.array() -= step_size * state_.m.array() / (state_.v.array().sqrt() / bc2_sqrt + eps);
}

template <class T>
void Adam<T>::set_state(State s) {
  if (s.m.size() != num_params() || s.v.size() != num_params() || s.t < 0)
    throw std::invalid_argument("Adam::set_state: state does not match this optimizer");
  state_ = std::move(s);
}

template <class T>
void Adam<T>::reset() {
  state_.m.setZero();
  state_.v.setZero();
  state_.t = 0;
}

template class Adam<double>;
template class Adam<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
