#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
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
  int act_dim;
};
const std::vector<Case> cases{{{}, Activation::Tanh, 2},
                              {{5}, Activation::Tanh, 1},
                              {{7, 4}, Activation::Tanh, 3},
                              {{7, 4}, Activation::Relu, 2}};

// Spread log_std so that the gradients depend on distinct values per dimension.
VectorX<double> init(DiagGaussianPolicy<double>& pi, Rng& rng) {
  VectorX<double> p(pi.num_params());
  pi.init_params(p, rng);
  for (int j = 0; j < pi.act_dim(); ++j) p(pi.log_std_offset() + j) = -0.5 + 0.3 * rng.normal();
  return p;
}

}  // namespace

TEST_CASE("DiagGaussian: layout, init, logp/entropy/KL against torch.distributions.Normal formulas") {
  DiagGaussianPolicy<double> pi(3, 2, {5}, Activation::Tanh);
  CHECK(pi.act_dim() == 2);
  CHECK(pi.dist_dim() == 4);
  CHECK(pi.num_params() == pi.mlp().num_params() + 2);
  CHECK(pi.log_std_offset() == pi.mlp().num_params());
  Rng rng(1);
  VectorX<double> p(pi.num_params());
  pi.init_params(p, rng);
  CHECK(p.tail(2).isApproxToConstant(-0.5));
  pi.init_params(p, rng, Init::Orthogonal);
  CHECK(p.tail(2).isApproxToConstant(-0.5));
  p = init(pi, rng);

  const MatrixX<double> obs = random_matrix(5, 3, rng);
  Mlp<double> mlp = pi.mlp();
  const MatrixX<double> mu = mlp.forward(p.data(), obs);
  pi.forward(p, obs);
  const MatrixX<double> act = random_matrix(5, 2, rng);
  VectorX<double> lp(5), h(5);
  pi.logp(act, lp);
  pi.entropy(h);
  const double log2pi = std::log(2 * std::numbers::pi);
  for (Index i = 0; i < 5; ++i) {
    double ref = 0, href = 0;
    for (int j = 0; j < 2; ++j) {
      const double ls = p(pi.log_std_offset() + j), sd = std::exp(ls);
      ref += -(act(i, j) - mu(i, j)) * (act(i, j) - mu(i, j)) / (2 * sd * sd) - ls - 0.5 * log2pi;
      href += 0.5 + 0.5 * log2pi + ls;
    }
    CHECK(lp(i) == doctest::Approx(ref).epsilon(1e-13));
    CHECK(h(i) == doctest::Approx(href).epsilon(1e-13));
  }
  MatrixX<double> dist(5, 4), m(5, 2);
  pi.dist_params(dist);
  CHECK(dist.leftCols(2) == mu);
  CHECK(dist.col(2).isConstant(p(pi.log_std_offset())));
  pi.mode(m);
  CHECK(m == mu);
  // KL(old || new) of two Gaussians against the textbook formula.
  MatrixX<double> old = dist;
  old.col(0).array() += 0.3;
  old.col(3).array() -= 0.2;
  VectorX<double> kl(5);
  pi.kl(old, kl);
  for (Index i = 0; i < 5; ++i) {
    double ref = 0;
    for (int j = 0; j < 2; ++j) {
      const double s1 = std::exp(old(i, 2 + j)), s2 = std::exp(dist(i, 2 + j));
      ref += std::log(s2 / s1) + (s1 * s1 + std::pow(old(i, j) - mu(i, j), 2)) / (2 * s2 * s2) - 0.5;
    }
    CHECK(kl(i) == doctest::Approx(ref).epsilon(1e-13));
  }
}

TEST_CASE("DiagGaussian gradients (logp, entropy, KL) and FVP match finite differences") {
  Rng rng(2);
  for (const auto& c : cases) {
    CAPTURE(c.hidden.size());
    DiagGaussianPolicy<double> pi(3, c.act_dim, c.hidden, c.act);
    const VectorX<double> p = init(pi, rng), p_old = init(pi, rng);
    const MatrixX<double> obs = random_matrix(8, 3, rng);
    const MatrixX<double> act = random_matrix(8, c.act_dim, rng);
    const VectorX<double> w = random_vector(8, rng);
    check_grad_logp(pi, p, obs, act, w);
    check_grad_entropy(pi, p, obs, w);
    check_grad_kl(pi, p, p_old, obs);
    check_fvp(pi, p, obs, random_vector(p.size(), rng));
  }
}

TEST_CASE("DiagGaussian samples: mean and variance within a few standard errors (several seeds)") {
  DiagGaussianPolicy<double> pi(2, 3, {5}, Activation::Tanh);
  Rng init_rng(3);
  VectorX<double> p = init(pi, init_rng);
  const Index n = 20000;
  MatrixX<double> obs(n, 2);
  obs.rowwise() = Eigen::RowVector2d(0.3, -0.7);
  pi.forward(p, obs);
  MatrixX<double> mu(n, 3), act(n, 3);
  pi.mode(mu);
  for (std::uint64_t seed : {0u, 1u, 42u, 12345u}) {
    Rng rng(seed);
    pi.sample(rng, act);
    for (int j = 0; j < 3; ++j) {
      const double sd = std::exp(p(pi.log_std_offset() + j));
      const double mean = act.col(j).mean();
      const double var = (act.col(j).array() - mean).square().sum() / double(n - 1);
      CHECK(std::abs(mean - mu(0, j)) < 4 * sd / std::sqrt(double(n)));
      CHECK(std::abs(var - sd * sd) < 4 * sd * sd * std::sqrt(2.0 / double(n - 1)));
    }
    // Documented order: row by row, dim by dim, mu + std * rng.normal().
    Rng b(seed);
    const double first = mu(0, 0) + std::exp(p(pi.log_std_offset())) * b.normal();
    CHECK(act(0, 0) == first);
  }
}

TEST_CASE("DiagGaussian<float> agrees with double") {
  Rng rng(4);
  DiagGaussianPolicy<double> pd(11, 3, {64, 64}, Activation::Tanh);
  DiagGaussianPolicy<float> pf(11, 3, {64, 64}, Activation::Tanh);
  const VectorX<double> p = init(pd, rng);
  const VectorX<float> q = p.cast<float>();
  const MatrixX<double> obs = random_matrix(50, 11, rng);
  const MatrixX<double> act = random_matrix(50, 3, rng);
  const VectorX<double> w = random_vector(50, rng);
  pd.forward(p, obs);
  pf.forward(q, obs.cast<float>());
  VectorX<double> gd(p.size()), lpd(50);
  VectorX<float> gf(p.size()), lpf(50);
  pd.logp(act, lpd);
  pf.logp(act.cast<float>(), lpf);
  CHECK(rel_error(lpd, lpf.cast<double>()) < 1e-5);
  pd.grad_logp(act, w, gd);
  pf.grad_logp(act.cast<float>(), w.cast<float>(), gf);
  CHECK(rel_error(gd, gf.cast<double>()) < 1e-4);
  const VectorX<double> v = random_vector(p.size(), rng);
  pd.fvp(v, 0.1, gd);
  pf.fvp(v.cast<float>(), 0.1f, gf);
  CHECK(rel_error(gd, gf.cast<double>()) < 1e-4);
}
