#include "rlmpi/nn/adam.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace rlmpi;
using namespace rlmpi::nn;

TEST_CASE("Adam reproduces a hand-computed 3-step trace of torch.optim.Adam") {
  // Two parameters, gradients chosen per step; expected values from the formula on scalars.
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const double g[3][2] = {{0.5, -2.0}, {-0.25, 1.0}, {1.0, 0.0}};
  double x[2] = {1.0, -3.0}, m[2] = {0, 0}, v[2] = {0, 0};
  Adam<double> adam(2, lr);
  VectorX<double> p(2);
  p << 1.0, -3.0;
  for (int t = 1; t <= 3; ++t) {
    for (int i = 0; i < 2; ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[t - 1][i];
      v[i] = b2 * v[i] + (1 - b2) * g[t - 1][i] * g[t - 1][i];
      const double denom = std::sqrt(v[i]) / std::sqrt(1 - std::pow(b2, t)) + eps;
      x[i] -= lr / (1 - std::pow(b1, t)) * m[i] / denom;
    }
    VectorX<double> grad(2);
    grad << g[t - 1][0], g[t - 1][1];
    adam.step(p, grad);
    CHECK(p(0) == doctest::Approx(x[0]).epsilon(1e-15));
    CHECK(p(1) == doctest::Approx(x[1]).epsilon(1e-15));
  }
  // Step 1 of Adam moves every coordinate by ~lr * sign(g); spot-check the literal numbers.
  // t=1: x0 = 1 - 0.01 * 0.05/0.1 / (0.0158113883/0.0316227766 + 1e-8)... = 0.99000000020
  CHECK(adam.state().t == 3);
  CHECK(adam.state().m(0) == doctest::Approx(0.9 * (0.9 * 0.05 - 0.025) + 0.1).epsilon(1e-15));
}

TEST_CASE("Adam: first step is lr * sign(g) (up to eps), defaults match torch") {
  Adam<double> adam(3);
  CHECK(adam.lr() == 1e-3);
  CHECK(adam.beta1() == 0.9);
  CHECK(adam.beta2() == 0.999);
  CHECK(adam.eps() == 1e-8);
  VectorX<double> p = VectorX<double>::Zero(3), g(3);
  g << 3.0, -0.001, 0.0;
  adam.step(p, g);
  CHECK(p(0) == doctest::Approx(-1e-3).epsilon(1e-7));
  CHECK(p(1) == doctest::Approx(1e-3).epsilon(1e-4));
  CHECK(p(2) == 0.0);
}

TEST_CASE("Adam state save/restore resumes identically, set_lr takes effect") {
  Adam<float> a(2, 0.1), b(2, 0.1);
  VectorX<float> pa(2), pb(2), g(2);
  pa << 1, 2;
  g << 0.3f, -0.7f;
  a.step(pa, g);
  a.step(pa, g);
  b.set_state(a.state());
  pb = pa;
  a.set_lr(0.05);
  b.set_lr(0.05);
  CHECK(b.lr() == 0.05);
  a.step(pa, g);
  b.step(pb, g);
  CHECK(pa == pb);
  CHECK(b.state().t == 3);
  Adam<float>::State bad;
  bad.m.setZero(3);
  bad.v.setZero(3);
  CHECK_THROWS_AS(b.set_state(bad), std::invalid_argument);
  b.reset();
  CHECK(b.state().t == 0);
  CHECK(b.state().m.isZero(0));
  CHECK_THROWS_AS(b.step(pb, VectorX<float>::Zero(5)), std::invalid_argument);
}
