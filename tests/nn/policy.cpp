#include "rlmpi/nn/policy.hpp"

#include <doctest/doctest.h>

#include <cmath>

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

TEST_CASE_TEMPLATE("forward_grad_logp equals forward, logp, the weights and grad_logp bit for bit", T, double, float) {
  // The weights are a function of each row's logp (here PPO's importance ratio times a number per
  // row), computed block by block inside the pass; the result must not depend on the fusion.
  Rng rng(31);
  for (const bool discrete : {true, false}) {
    for (const Index n : {Index{5}, Mlp<T>::kBlockRows, 2 * Mlp<T>::kBlockRows + 13}) {
      CAPTURE(discrete);
      CAPTURE(n);
      auto a = make_policy<T>(discrete, 6, discrete ? 3 : 2, {64, 64}, Activation::Tanh);
      auto b = make_policy<T>(discrete, 6, discrete ? 3 : 2, {64, 64}, Activation::Tanh);
      VectorX<T> p(a->num_params());
      a->init_params(p, rng);
      p.tail(2).setConstant(T(-0.3));  // a Gaussian's log_std (any values for the categorical)
      MatrixX<T> obs(n, 6), act(n, a->act_dim());
      for (Index i = 0; i < n; ++i) {
        for (Index j = 0; j < 6; ++j) obs(i, j) = static_cast<T>(rng.normal());
        for (Index j = 0; j < act.cols(); ++j)
          act(i, j) = discrete ? static_cast<T>(i % 3) : static_cast<T>(rng.normal());
      }
      VectorX<T> logp_old(n), c(n);
      for (Index i = 0; i < n; ++i) {
        logp_old(i) = static_cast<T>(-1.0 + 0.1 * rng.normal());
        c(i) = static_cast<T>(rng.normal());
      }
      auto weight = [&](Index i, T logp) { return static_cast<T>(c(i) * std::exp(double(logp - logp_old(i)))); };
      // Unfused.
      a->forward(p, obs);
      VectorX<T> logp(n), w(n), g(p.size()), gf = VectorX<T>::Constant(p.size(), T(9));
      a->logp(act, logp);
      for (Index i = 0; i < n; ++i) w(i) = weight(i, logp(i));
      a->grad_logp(act, w, g);
      // Fused.
      Index rows_seen = 0;
      auto w_of = [&](Index i0, Index m, const T* lp, T* wr) {
        CHECK(i0 == rows_seen);
        rows_seen += m;
        for (Index r = 0; r < m; ++r) {
          CHECK(lp[r] == logp(i0 + r));
          wr[r] = weight(i0 + r, lp[r]);
        }
      };
      b->forward_grad_logp(p, obs, act, w_of, gf);
      CHECK(rows_seen == n);
      CHECK(gf == g);
      // The distributions are cached as by forward().
      REQUIRE(b->batch() == n);
      VectorX<T> logp_b(n), ent_a(n), ent_b(n);
      b->logp(act, logp_b);
      CHECK(logp_b == logp);
      a->entropy(ent_a);
      b->entropy(ent_b);
      CHECK(ent_a == ent_b);
      MatrixX<T> da(n, a->dist_dim()), db(n, a->dist_dim());
      a->dist_params(da);
      b->dist_params(db);
      CHECK(da == db);
      // The network kept no activations: a gradient call needs a forward first.
      CHECK_THROWS_AS(b->grad_logp(act, w, g), std::invalid_argument);
    }
  }
}
