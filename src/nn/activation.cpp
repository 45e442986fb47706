#include "rlmpi/nn/activation.hpp"

#include "rlmpi/core/error.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

Activation parse_activation(const std::string& name) {
  if (name == "tanh") return Activation::Tanh;
  if (name == "relu") return Activation::Relu;
  throw UsageError("unknown activation '" + name + "' (allowed: tanh, relu)");
}

std::string to_string(Activation act) {
  switch (act) {
    case Activation::Tanh: return "tanh";
    case Activation::Relu: return "relu";
  }
  return "?";
}

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
