#include "rlmpi/nn/policy.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
std::unique_ptr<Policy<T>> make_policy(bool discrete, int obs_dim, int n_actions_or_act_dim,
                                       std::vector<int> hidden, Activation act, Isa isa) {
  if (discrete)
    return std::make_unique<CategoricalPolicy<T>>(obs_dim, n_actions_or_act_dim, std::move(hidden), act, isa);
  return std::make_unique<DiagGaussianPolicy<T>>(obs_dim, n_actions_or_act_dim, std::move(hidden), act, isa);
}

template std::unique_ptr<Policy<double>> make_policy<double>(bool, int, int, std::vector<int>, Activation, Isa);
template std::unique_ptr<Policy<float>> make_policy<float>(bool, int, int, std::vector<int>, Activation, Isa);

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
