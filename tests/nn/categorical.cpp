#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "nn_test_util.hpp"
#include "policy_checks.hpp"
#include "rlmpi/nn/policy.hpp"

using namespace rlmpi;
using namespace rlmpi::nn;
using namespace rlmpi::nn::test;

namespace {

struct Case {
  std::vector<int> hidden;
  Activation act;
  int n_actions;
};
const std::vector<Case> cases{{{}, Activation::Tanh, 2},
                              {{5}, Activation::Tanh, 3},
                              {{7, 4}, Activation::Tanh, 4},
                              {{7, 4}, Activation::Relu, 3}};

MatrixX<double> random_actions(Index n, int k, Rng& rng) {
  MatrixX<double> a(n, 1);
  for (Index i = 0; i < n; ++i) a(i, 0) = static_cast<double>(rng.uniform_int(static_cast<std::uint64_t>(k)));
  return a;
}

}  // namespace

TEST_CASE("Categorical: shapes, log-softmax, entropy and KL against direct formulas") {
  CategoricalPolicy<double> pi(3, 4, {5}, Activation::Tanh);
  CHECK(pi.act_dim() == 1);
  CHECK(pi.dist_dim() == 4);
  CHECK(pi.obs_dim() == 3);
  CHECK(pi.num_params() == pi.mlp().num_params());
  Rng rng(1);
  VectorX<double> p(pi.num_params()), q(pi.num_params());
  pi.init_params(p, rng);
  pi.init_params(q, rng);
  const MatrixX<double> obs = random_matrix(6, 3, rng, 2.0);
  Mlp<double> mlp = pi.mlp();
  const MatrixX<double> logits = mlp.forward(p.data(), obs);
  pi.forward(p, obs);
  MatrixX<double> lp(6, 4), act(6, 1), old(6, 4);
  VectorX<double> out(6), h(6), kl(6);
  pi.dist_params(lp);
  pi.entropy(h);
  for (Index i = 0; i < 6; ++i) {
    const double z = logits.row(i).array().exp().sum();
    for (int j = 0; j < 4; ++j) CHECK(lp(i, j) == doctest::Approx(logits(i, j) - std::log(z)).epsilon(1e-13));
    CHECK(lp.row(i).array().exp().sum() == doctest::Approx(1.0).epsilon(1e-14));
    CHECK(h(i) == doctest::Approx(-(lp.row(i).array().exp() * lp.row(i).array()).sum()));
  }
  pi.mode(act);
  pi.logp(act, out);
  for (Index i = 0; i < 6; ++i) {
    Index j;
    logits.row(i).maxCoeff(&j);
    CHECK(act(i, 0) == double(j));
    CHECK(out(i) == lp(i, j));
  }
  pi.forward(q, obs);
  pi.dist_params(old);
  pi.forward(p, obs);
  pi.kl(old, kl);
  for (Index i = 0; i < 6; ++i)
    CHECK(kl(i) == doctest::Approx((old.row(i).array().exp() * (old.row(i) - lp.row(i)).array()).sum()));
  CHECK(kl.minCoeff() > 0);
  // Invalid action indices are rejected.
  act(0, 0) = 4;
  CHECK_THROWS_AS(pi.logp(act, out), std::invalid_argument);
  act(0, 0) = 0.5;
  CHECK_THROWS_AS(pi.logp(act, out), std::invalid_argument);
}

TEST_CASE("Categorical: huge logits stay finite (stable log-softmax)") {
  CategoricalPolicy<double> pi(1, 3, {}, Activation::Tanh);
  VectorX<double> p(pi.num_params());
  p << 1000, -1000, 0, 0, 0, 0;  // W (3 x 1) then b
  MatrixX<double> obs(1, 1);
  obs << 1.0;
  pi.forward(p, obs);
  MatrixX<double> lp(1, 3);
  pi.dist_params(lp);
  CHECK(lp(0, 0) == 0.0);
  CHECK(lp(0, 1) == -2000.0);
  VectorX<double> h(1);
  pi.entropy(h);
  CHECK(std::isfinite(h(0)));
}

TEST_CASE("Categorical gradients (logp, entropy, KL) and FVP match finite differences") {
  Rng rng(2);
  for (const auto& c : cases) {
    CAPTURE(c.hidden.size());
    CategoricalPolicy<double> pi(3, c.n_actions, c.hidden, c.act);
    VectorX<double> p(pi.num_params()), p_old(pi.num_params());
    pi.init_params(p, rng);
    pi.init_params(p_old, rng);
    const MatrixX<double> obs = random_matrix(8, 3, rng);
    const MatrixX<double> act = random_actions(8, c.n_actions, rng);
    const VectorX<double> w = random_vector(8, rng);
    check_grad_logp(pi, p, obs, act, w);
    check_grad_entropy(pi, p, obs, w);
    check_grad_kl(pi, p, p_old, obs);
    check_fvp(pi, p, obs, random_vector(p.size(), rng));
  }
}

TEST_CASE("Categorical sampling frequencies match the probabilities (several seeds)") {
  CategoricalPolicy<double> pi(2, 4, {5}, Activation::Tanh);
  Rng init_rng(3);
  VectorX<double> p(pi.num_params());
  pi.init_params(p, init_rng);
  p *= 3.0;  // make the distribution clearly non-uniform
  const Index n = 20000;
  MatrixX<double> obs(n, 2);
  obs.rowwise() = Eigen::RowVector2d(0.3, -0.7);
  pi.forward(p, obs);
  MatrixX<double> lp(n, 4), act(n, 1);
  pi.dist_params(lp);
  const Eigen::RowVectorXd prob = lp.row(0).array().exp();
  for (std::uint64_t seed : {0u, 1u, 42u, 12345u}) {
    Rng rng(seed);
    pi.sample(rng, act);
    for (int j = 0; j < 4; ++j) {
      const double freq = (act.array() == double(j)).cast<double>().mean();
      const double se = std::sqrt(prob(j) * (1 - prob(j)) / double(n));
      CHECK(std::abs(freq - prob(j)) < 4 * se);
    }
    // One uniform per row: the stream advanced by exactly n draws.
    Rng a(seed), b(seed);
    MatrixX<double> one(n, 1);
    pi.sample(a, one);
    for (Index i = 0; i < n; ++i) b.uniform();
    CHECK(a.state() == b.state());
  }
}

TEST_CASE("Categorical<float> agrees with double") {
  Rng rng(4);
  CategoricalPolicy<double> pd(3, 3, {64, 64}, Activation::Tanh);
  CategoricalPolicy<float> pf(3, 3, {64, 64}, Activation::Tanh);
  VectorX<double> p(pd.num_params());
  pd.init_params(p, rng, Init::Orthogonal);
  const VectorX<float> q = p.cast<float>();
  const MatrixX<double> obs = random_matrix(50, 3, rng);
  const MatrixX<double> act = random_actions(50, 3, rng);
  const VectorX<double> w = random_vector(50, rng);
  pd.forward(p, obs);
  pf.forward(q, obs.cast<float>());
  VectorX<double> gd(p.size());
  VectorX<float> gf(p.size());
  pd.grad_logp(act, w, gd);
  pf.grad_logp(act.cast<float>(), w.cast<float>(), gf);
  CHECK(rel_error(gd, gf.cast<double>()) < 1e-4);
  const VectorX<double> v = random_vector(p.size(), rng);
  pd.fvp(v, 0.1, gd);
  pf.fvp(v.cast<float>(), 0.1f, gf);
  CHECK(rel_error(gd, gf.cast<double>()) < 1e-4);
}
