#pragma once
// Hidden-layer activations of the MLPs.
#include <string>

#include "rlmpi/nn/abi.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

enum class Activation { Tanh, Relu };

// "tanh" or "relu"; anything else throws rlmpi::UsageError naming the value and the choices.
Activation parse_activation(const std::string& name);
std::string to_string(Activation act);

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
