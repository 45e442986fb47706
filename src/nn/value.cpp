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
  if (params.size() != num_params()) throw std::invalid_argument("ValueFunction: wrong parameter count");
  const Index n = obs.rows();
  safe_grow(dy_, n);
  const T scale = T(2) / static_cast<T>(n);  // d/dV mean (V - ret)^2 = 2 (V - ret) / n
  // Row by row as the blocks come out of the network (Mlp::forward_backward): dy_ keeps V - ret
  // for the loss, the block gets its scaled gradient.
  auto dy_of = [&](Index i0, Index m, const T* v, T* dv) {
    for (Index r = 0; r < m; ++r) {
      const T e = v[r] - ret[i0 + r];
      dy_[i0 + r] = e;
      dv[r] = e * scale;
    }
  };
  mlp_.forward_backward(params.data(), obs, dy_of, grad.data());
  const T loss = Eigen::Map<MatrixX<T>>(dy_.data(), n, 1).squaredNorm() / static_cast<T>(n);
  return loss;
}

template class ValueFunction<double>;
template class ValueFunction<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
