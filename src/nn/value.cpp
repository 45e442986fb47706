#include "rlmpi/nn/value.hpp"

#include <stdexcept>

#include "rlmpi/core/safe_resize.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
ValueFunction<T>::ValueFunction(int obs_dim, std::vector<int> hidden, Activation act, Isa isa) {
  std::vector<int> sizes{obs_dim};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(1);
  mlp_ = Mlp<T>(std::move(sizes), act, isa);
}

template <class T>
void ValueFunction<T>::init_params(Eigen::Ref<VectorX<T>> params, Rng& rng, Init scheme) const {
  mlp_.init(params, rng, scheme, T(1));
}

template <class T>
ConstVectorMap<T> ValueFunction<T>::forward(const Eigen::Ref<const VectorX<T>>& params,
                                            const Eigen::Ref<const MatrixX<T>>& obs) {
  if (params.size() != num_params()) throw std::invalid_argument("ValueFunction: wrong parameter count");
  return ConstVectorMap<T>(mlp_.forward(params.data(), obs).data(), obs.rows());
}

template <class T>
T ValueFunction<T>::mse(const Eigen::Ref<const VectorX<T>>& params,
                        const Eigen::Ref<const MatrixX<T>>& obs,
                        const Eigen::Ref<const VectorX<T>>& ret) {
  if (ret.size() != obs.rows()) throw std::invalid_argument("ValueFunction: ret must have N entries");
  const auto v = forward(params, obs);
  return (v - ret).squaredNorm() / static_cast<T>(obs.rows());
}

template <class T>
T ValueFunction<T>::mse_grad(const Eigen::Ref<const VectorX<T>>& params,
                             const Eigen::Ref<const MatrixX<T>>& obs,
                             const Eigen::Ref<const VectorX<T>>& ret, Eigen::Ref<VectorX<T>> grad) {
  if (ret.size() != obs.rows() || grad.size() != num_params())
    throw std::invalid_argument("ValueFunction::mse_grad: ret must have N entries, grad num_params");
  const auto v = forward(params, obs);
  const Index n = obs.rows();
  safe_grow(dy_, n);
  Eigen::Map<MatrixX<T>> dy(dy_.data(), n, 1);
  dy.col(0) = v - ret;
  const T loss = dy.squaredNorm() / static_cast<T>(n);
  dy *= T(2) / static_cast<T>(n);  // d/dV mean (V - ret)^2
  mlp_.backward(params.data(), dy, grad.data());
  return loss;
}

template class ValueFunction<double>;
template class ValueFunction<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
