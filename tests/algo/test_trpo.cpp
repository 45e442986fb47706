// TRPO (src/algo/trpo.cpp) against a reference written out here: g = gradient of
// -mean(ratio adv) by central differences, the Fisher matrix as the Hessian of
// mean KL(pi_old || pi_theta) at theta_old by second differences, Spinning Up's conjugate
// gradient on (F + damping I) x = g, alpha = sqrt(2 delta / (x.(F + damping I)x + 1e-8)), and the
// backtracking line search on KL(buffer dist || new) and the surrogate.
// Also: the allocation-free conjugate gradient (algo/objectives.hpp) gives nn's bits.
#include <doctest/doctest.h>

#include "algo_test_util.hpp"
#include "rlmpi/algo/objectives.hpp"
#include "rlmpi/nn/cg.hpp"

using namespace algo_test;

namespace {

Mat fd_hessian(const std::function<double(const Vec&)>& f, const Vec& x, double h = 1e-4) {
  const Index n = x.size();
  Mat H(n, n);
  Vec y = x;
  auto at = [&](Index i, double si, Index j, double sj) {
    y = x;
    y[i] += si * h;
    y[j] += sj * h;
    return f(y);
  };
  for (Index i = 0; i < n; ++i)
    for (Index j = i; j < n; ++j) {
      H(i, j) = (at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1) + at(i, -1, j, -1)) / (4 * h * h);
      H(j, i) = H(i, j);
    }
  return H;
}

void check_trpo(bool discrete, std::uint64_t seed, double delta) {
  CAPTURE(discrete);
  CAPTURE(seed);
  CAPTURE(delta);
  Config cfg = tiny_config("trpo", seed);
  cfg.train_v_iters = 0;
  cfg.delta = delta;
  // The rollout policy is the current one (as in training): ratios start at 1.
  Case c = make_case(cfg, discrete, 16, 0.0, seed);
  auto& pi = *c.ac.pi;
  const auto& b = c.buf;
  const Vec theta0 = c.pi0;

  auto surrogate = [&](const Vec& p) {
    const Vec ratio = (logp_at(pi, p, b.obs, b.act) - b.logp).array().exp();
    return -(ratio.array() * b.adv.array()).mean();
  };
  auto kl_old = [&](const Vec& p) { return kl_at(pi, p, b.obs, b.dist).mean(); };
  const Vec g = fd_grad(surrogate, theta0);
  const Mat A = fd_hessian(kl_old, theta0) + cfg.damping * Mat::Identity(theta0.size(), theta0.size());

  // Spinning Up's cg, cg_iters iterations.
  Vec x = Vec::Zero(g.size()), r = g, p = g;
  double rr = r.dot(r);
  for (int i = 0; i < cfg.cg_iters; ++i) {
    const Vec z = A * p;
    const double alpha = rr / (p.dot(z) + 1e-8);
    x += alpha * p;
    r -= alpha * z;
    const double rr_new = r.dot(r);
    p = r + (rr_new / rr) * p;
    rr = rr_new;
  }
  const double alpha = std::sqrt(2 * cfg.delta / (x.dot(A * x) + 1e-8));
  const double loss0 = surrogate(theta0);
  Vec theta_ref = theta0;
  int j_ref = cfg.backtrack_iters;
  for (int j = 0; j < cfg.backtrack_iters; ++j) {
    const Vec t = theta0 - std::pow(cfg.backtrack_coeff, j) * alpha * x;
    if (kl_old(t) <= cfg.delta && surrogate(t) <= loss0) {
      theta_ref = t;
      j_ref = j;
      break;
    }
  }

  const mpi::Comm comm = self_comm();
  Rng rng(seed);
  algo::UpdateContext ctx{comm, rng};
  auto alg = algo::make_algorithm<double>(cfg, c.ac);
  const algo::UpdateStats s = alg->update(c.ac, b, ctx);

  CHECK(s.backtrack_iters == j_ref);
  const double step = (theta_ref - theta0).cwiseAbs().maxCoeff();
  CHECK(max_abs_diff(c.ac.pi_params, theta_ref) < 1e-5 * (step + 1e-3));
  CHECK(s.loss_pi == doctest::Approx(loss0).epsilon(1e-12));
  CHECK(s.entropy == doctest::Approx(entropy_at(pi, theta0, b.obs).mean()).epsilon(1e-12));
  if (j_ref < cfg.backtrack_iters) {
    CHECK(s.kl == doctest::Approx(kl_old(c.ac.pi_params)).epsilon(1e-9));
    CHECK(s.kl <= cfg.delta);
    CHECK(s.delta_loss_pi == doctest::Approx(surrogate(c.ac.pi_params) - loss0).epsilon(1e-9));
    CHECK(s.delta_loss_pi <= 0);
  } else {
    CHECK(s.kl == 0);
    CHECK(c.ac.pi_params == theta0);
  }
}

}  // namespace

TEST_CASE("trpo: natural-gradient step from a finite-difference Fisher matrix and the line search") {
  for (std::uint64_t seed : {1, 2, 3})
    for (bool discrete : {true, false}) {
      check_trpo(discrete, seed, 0.01);
      check_trpo(discrete, seed, 0.2);  // large steps: the line search backtracks more often
    }
}
