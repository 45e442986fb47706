#include "rlmpi/nn/activation.hpp"

#include <doctest/doctest.h>

#include <string>

#include "rlmpi/core/error.hpp"
#include "rlmpi/nn/mlp.hpp"

using namespace rlmpi;
using namespace rlmpi::nn;

TEST_CASE("parse_activation accepts tanh and relu and round-trips to_string") {
  CHECK(parse_activation("tanh") == Activation::Tanh);
  CHECK(parse_activation("relu") == Activation::Relu);
  CHECK(parse_activation(to_string(Activation::Relu)) == Activation::Relu);
  CHECK(parse_activation(to_string(Activation::Tanh)) == Activation::Tanh);
}

TEST_CASE("parse_activation rejects other names with a UsageError naming value and choices") {
  try {
    parse_activation("sigmoid");
    FAIL("no exception");
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("'sigmoid'") != std::string::npos);
    CHECK(msg.find("tanh") != std::string::npos);
    CHECK(msg.find("relu") != std::string::npos);
  }
  CHECK_THROWS_AS(parse_activation("Tanh"), UsageError);
  CHECK_THROWS_AS(parse_activation(""), UsageError);
}

TEST_CASE("parse_init") {
  CHECK(parse_init("default") == Init::Default);
  CHECK(parse_init("orthogonal") == Init::Orthogonal);
  CHECK(parse_init(to_string(Init::Orthogonal)) == Init::Orthogonal);
  CHECK_THROWS_WITH_AS(parse_init("xavier"), "unknown init 'xavier' (allowed: default, orthogonal)",
                       UsageError);
}
