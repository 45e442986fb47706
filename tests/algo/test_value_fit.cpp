// fit_value, clip_grad_norm and add_entropy_bonus (src/algo/algorithm.cpp) against references
// written out here: mean((V - ret)^2) or, with --clip-vloss, mean(max((V - ret)^2,
// (v_old + clip(V - v_old, -eps, eps) - ret)^2)); gradients by central differences, clipped to
// --max-grad-norm, torch-Adam steps; losses before the first and after the last step.
#include <doctest/doctest.h>

#include <algorithm>

#include "algo_test_util.hpp"

using namespace algo_test;

namespace {

void check_fit(bool clip_vloss, double max_grad_norm, int iters, std::uint64_t seed) {
  CAPTURE(clip_vloss);
  CAPTURE(max_grad_norm);
  CAPTURE(iters);
  CAPTURE(seed);
  Config cfg = tiny_config("ppo", seed);
  cfg.clip_vloss = clip_vloss;
  cfg.clip_ratio = 0.2;
  cfg.max_grad_norm = max_grad_norm;
  cfg.train_v_iters = iters;
  Case c = make_case(cfg, true, 16, 0.0, seed);
  auto& vf = *c.ac.v;
  const auto& b = c.buf;
  const double eps = cfg.clip_ratio;

  auto loss = [&](const Vec& p) {
    const Vec v = vf.forward(p, b.obs);
    double sum = 0;
    for (Index i = 0; i < v.size(); ++i) {
      const double l1 = (v[i] - b.ret[i]) * (v[i] - b.ret[i]);
      const double vc = b.val[i] + std::clamp(v[i] - b.val[i], -eps, eps);
      const double l2 = (vc - b.ret[i]) * (vc - b.ret[i]);
      sum += clip_vloss ? std::max(l1, l2) : l1;
    }
    return sum / static_cast<double>(v.size());
  };
  if (clip_vloss) {  // the clipped branch is taken for some samples, the other for some
    const Vec v = vf.forward(c.v0, b.obs);
    const auto far = ((v - b.val).array().abs() > eps).count();
    REQUIRE(far > 0);
    REQUIRE(far < v.size());
  }
  Vec p_ref = c.v0;
  RefAdam adam(p_ref.size(), cfg.vf_lr, cfg.adam_eps);
  for (int i = 0; i < iters; ++i) adam.step(p_ref, clipped(fd_grad(loss, p_ref), max_grad_norm));

  nn::Adam<double> opt(c.v0.size(), cfg.vf_lr, 0.9, 0.999, cfg.adam_eps);
  algo::ValueFitWork<double> work;
  const mpi::Comm comm = self_comm();
  const algo::ValueFit fit = algo::fit_value(c.ac, opt, b, cfg, comm, work);
  CHECK(max_abs_diff(c.ac.v_params, p_ref) < 1e-8);
  CHECK(fit.loss_before == doctest::Approx(loss(c.v0)).epsilon(1e-12));
  CHECK(fit.loss_after == doctest::Approx(loss(c.ac.v_params)).epsilon(1e-12));
  if (iters == 1) {
    const Vec g_alg = grad_of_first_adam_step(c.ac.v_params - c.v0, cfg.vf_lr, cfg.adam_eps);
    const Vec g_ref = clipped(fd_grad(loss, c.v0), max_grad_norm);
    CHECK(max_abs_diff(g_alg, g_ref) < 1e-6 * (1 + g_ref.cwiseAbs().maxCoeff()));
  }

  // A second fit with the same work space continues from the new parameters and optimizer state.
  const Vec p1 = c.ac.v_params;
  for (int i = 0; i < iters; ++i) adam.step(p_ref, clipped(fd_grad(loss, p_ref), max_grad_norm));
  algo::fit_value(c.ac, opt, b, cfg, comm, work);
  CHECK(max_abs_diff(c.ac.v_params, p_ref) < 1e-8);
  if (iters > 0) CHECK(c.ac.v_params != p1);
}

}  // namespace

TEST_CASE("value fit: mean squared error, its gradient and the Adam steps") {
  for (std::uint64_t seed : {1, 2, 3}) {
    check_fit(false, 0.0, 1, seed);
    check_fit(false, 0.0, 3, seed);
  }
}

TEST_CASE("value fit: --clip-vloss, the clipped value loss and its gradient") {
  for (std::uint64_t seed : {4, 5, 6}) {
    check_fit(true, 0.0, 1, seed);
    check_fit(true, 0.0, 4, seed);
  }
}

TEST_CASE("value fit: --max-grad-norm, and no iterations") {
  for (std::uint64_t seed : {7, 8}) {
    check_fit(false, 0.05, 2, seed);
    check_fit(true, 0.05, 1, seed);
    check_fit(false, 0.0, 0, seed);
  }
}

TEST_CASE("clip_grad_norm: scales to max_norm / (|g| + 1e-6) above the limit, untouched below") {
  Vec g(3);
  g << 3, -4, 12;  // norm 13
  Vec a = g;
  algo::clip_grad_norm(a, 1.0);
  CHECK(max_abs_diff(a, g * (1.0 / (13 + 1e-6))) < 1e-15);
  Vec b = g;
  algo::clip_grad_norm(b, 13.5);
  CHECK(b == g);
  algo::clip_grad_norm(b, 0.0);  // off
  CHECK(b == g);
}

TEST_CASE("add_entropy_bonus: adds the gradient of -ent_coef mean(H) at the cached forward") {
  for (bool discrete : {true, false}) {
    CAPTURE(discrete);
    Config cfg = tiny_config("ppo", 9);
    Case c = make_case(cfg, discrete, 10, 0.0, 9);
    auto& pi = *c.ac.pi;
    const Vec base = Vec::LinSpaced(c.pi0.size(), -1, 1);
    const Vec ref =
        base + fd_grad([&](const Vec& p) { return -0.3 * entropy_at(pi, p, c.buf.obs).mean(); }, c.pi0);
    Vec w, g;
    for (Index rows : {Index{10}, Index{4}, Index{10}}) {  // work space grown once, then reused
      Vec grad = base;
      pi.forward(c.pi0, c.buf.obs.topRows(rows));
      algo::add_entropy_bonus(pi, 0.3, grad, w, g);
      const Vec ref_rows =
          base + fd_grad([&](const Vec& p) { return -0.3 * entropy_at(pi, p, c.buf.obs.topRows(rows)).mean(); },
                         c.pi0);
      CHECK(max_abs_diff(grad, ref_rows) < 1e-8);
    }
    Vec grad = base;
    pi.forward(c.pi0, c.buf.obs);
    algo::add_entropy_bonus(pi, 0.0, grad, w, g);
    CHECK(grad == base);
    CHECK(max_abs_diff(ref, base) > 1e-3);  // the bonus is not trivially zero here
  }
}
