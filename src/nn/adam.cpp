#include "rlmpi/nn/adam.hpp"

#include "rlmpi/nn/gemm.hpp"

#include <cmath>
#include <stdexcept>

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
Adam<T>::Adam(Index num_params, double lr, double beta1, double beta2, double eps, Isa isa)
    : lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps), isa_(isa) {
  (void)detail::kernel_table(isa);  // throws now if this CPU cannot run isa
  state_.m.setZero(num_params);
  state_.v.setZero(num_params);
}

template <class T>
void Adam<T>::step(Eigen::Ref<VectorX<T>> params, const Eigen::Ref<const VectorX<T>>& grad) {
  if (params.size() != num_params() || grad.size() != num_params())
    throw std::invalid_argument("Adam::step: params and grad must have num_params() entries");
  state_.t += 1;
  const double t = static_cast<double>(state_.t);
  const detail::AdamStep<T> s{static_cast<T>(beta1_), static_cast<T>(beta2_),
                              static_cast<T>(lr_ / (1.0 - std::pow(beta1_, t))),
                              static_cast<T>(std::sqrt(1.0 - std::pow(beta2_, t))), static_cast<T>(eps_)};
  detail::kernels_of<T>(detail::kernel_table(isa_))
      .adam(num_params(), params.data(), grad.data(), state_.m.data(), state_.v.data(), s);
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
