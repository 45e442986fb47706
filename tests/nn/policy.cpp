#include "rlmpi/nn/policy.hpp"

#include <doctest/doctest.h>

using namespace rlmpi;
using namespace rlmpi::nn;

TEST_CASE("make_policy builds a Categorical or a DiagGaussian behind Policy<T>") {
  auto cat = make_policy<double>(true, 4, 2, {64, 64}, Activation::Tanh);
  REQUIRE(dynamic_cast<CategoricalPolicy<double>*>(cat.get()) != nullptr);
  CHECK(cat->obs_dim() == 4);
  CHECK(cat->act_dim() == 1);
  CHECK(cat->dist_dim() == 2);
  CHECK(cat->num_params() == (4 * 64 + 64) + (64 * 64 + 64) + (64 * 2 + 2));

  auto gauss = make_policy<float>(false, 11, 3, {32}, Activation::Relu);
  REQUIRE(dynamic_cast<DiagGaussianPolicy<float>*>(gauss.get()) != nullptr);
  CHECK(gauss->obs_dim() == 11);
  CHECK(gauss->act_dim() == 3);
  CHECK(gauss->dist_dim() == 6);
  CHECK(gauss->num_params() == (11 * 32 + 32) + (32 * 3 + 3) + 3);
  CHECK(gauss->mlp().activation() == Activation::Relu);
}

TEST_CASE("Policy methods check their argument sizes") {
  auto pi = make_policy<double>(false, 2, 2, {3}, Activation::Tanh);
  VectorX<double> p(pi->num_params());
  Rng rng(0);
  pi->init_params(p, rng);
  CHECK_THROWS_AS(pi->forward(VectorX<double>::Zero(3), MatrixX<double>::Zero(4, 2)), std::invalid_argument);
  pi->forward(p, MatrixX<double>::Zero(4, 2));
  CHECK(pi->batch() == 4);
  VectorX<double> out(3);
  CHECK_THROWS_AS(pi->entropy(out), std::invalid_argument);
  MatrixX<double> act(4, 3);
  CHECK_THROWS_AS(pi->sample(rng, act), std::invalid_argument);
}
