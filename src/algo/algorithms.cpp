// The algorithm table: one row per algorithm (see AlgorithmEntry in rlmpi/algo/algorithm.hpp).
// Adding an algorithm: its file src/algo/<name>.cpp defines make_<name><T> (double and float),
// declared here, and one row below. --algo, --help, the trainer and the memory check follow.
#include "rlmpi/algo/algorithm.hpp"

namespace rlmpi::algo {

template <class T>
std::unique_ptr<Algorithm<T>> make_vpg(const Config& cfg, const ActorCritic<T>& ac);    // vpg.cpp
template <class T>
std::unique_ptr<Algorithm<T>> make_trpo(const Config& cfg, const ActorCritic<T>& ac);   // trpo.cpp
template <class T>
std::unique_ptr<Algorithm<T>> make_ppo(const Config& cfg, const ActorCritic<T>& ac);    // ppo.cpp

namespace {
// name, description, factories, policy-sized optimizer vectors, policy-sized gradient vectors
constexpr AlgorithmEntry kAlgorithms[] = {
    {"vpg", "vanilla policy gradient (REINFORCE with GAE)", &make_vpg<double>, &make_vpg<float>, 2, 1},
    // TRPO keeps 8 policy-sized vectors: g, F x, theta_old, the full step and the CG's x, r, p, z.
    {"trpo", "trust region policy optimization (conjugate gradient + line search)", &make_trpo<double>,
     &make_trpo<float>, 0, 8},
    {"ppo", "proximal policy optimization (clip or adaptive KL penalty)", &make_ppo<double>, &make_ppo<float>, 2, 2},
};
}  // namespace

std::span<const AlgorithmEntry> algorithms() { return kAlgorithms; }

}  // namespace rlmpi::algo
