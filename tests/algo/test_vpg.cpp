// VPG (src/algo/vpg.cpp) against a reference written out here: the loss
// L(theta) = -mean(logp(a|s) adv) - ent_coef mean(H), its gradient by central differences, the
// gradient clipped to max_grad_norm, one torch-Adam step; the update's statistics recomputed.
#include <doctest/doctest.h>

#include "algo_test_util.hpp"

using namespace algo_test;

namespace {

void check_vpg(bool discrete, std::uint64_t seed, double ent_coef, double max_grad_norm) {
  CAPTURE(discrete);
  CAPTURE(seed);
  CAPTURE(ent_coef);
  CAPTURE(max_grad_norm);
  Config cfg = tiny_config("vpg", seed);
  cfg.ent_coef = ent_coef;
  cfg.max_grad_norm = max_grad_norm;
  cfg.train_v_iters = 0;  // the value fit has its own tests (test_value_fit.cpp)
  Case c = make_case(cfg, discrete, 16, 0.3, seed);
  auto& pi = *c.ac.pi;
  const auto& b = c.buf;

  auto loss = [&](const Vec& p) {
    const double surr = -(logp_at(pi, p, b.obs, b.act).array() * b.adv.array()).mean();
    return surr - ent_coef * entropy_at(pi, p, b.obs).mean();
  };
  auto pg_loss = [&](const Vec& p) { return -(logp_at(pi, p, b.obs, b.act).array() * b.adv.array()).mean(); };
  const Vec g_raw = fd_grad(loss, c.pi0);
  const Vec g_ref = clipped(g_raw, max_grad_norm);
  Vec p_ref = c.pi0;
  RefAdam adam(p_ref.size(), cfg.pi_lr, cfg.adam_eps);
  adam.step(p_ref, g_ref);
  const double loss0 = pg_loss(c.pi0);
  const double ent0 = entropy_at(pi, c.pi0, b.obs).mean();

  auto alg = algo::make_algorithm<double>(cfg, c.ac);
  const mpi::Comm comm = self_comm();
  Rng rng(seed);
  algo::UpdateContext ctx{comm, rng};
  const algo::UpdateStats s = alg->update(c.ac, b, ctx);

  // The gradient the step applied, read back from Adam's first step, and the step itself.
  const Vec g_alg = grad_of_first_adam_step(c.ac.pi_params - c.pi0, cfg.pi_lr, cfg.adam_eps);
  CHECK(max_abs_diff(g_alg, g_ref) < 1e-6 * (1 + g_ref.cwiseAbs().maxCoeff()));
  CHECK(max_abs_diff(c.ac.pi_params, p_ref) < 1e-9);
  if (max_grad_norm > 0 && g_raw.norm() > max_grad_norm) CHECK(g_alg.norm() == doctest::Approx(max_grad_norm).epsilon(1e-5));

  CHECK(s.loss_pi == doctest::Approx(loss0).epsilon(1e-12));
  CHECK(s.entropy == doctest::Approx(ent0).epsilon(1e-12));
  const Vec logp1 = logp_at(pi, c.ac.pi_params, b.obs, b.act);
  CHECK(s.kl == doctest::Approx((b.logp - logp1).mean()).epsilon(1e-10));
  CHECK(s.delta_loss_pi == doctest::Approx(pg_loss(c.ac.pi_params) - loss0).epsilon(1e-9));
  CHECK(c.ac.v_params == c.v0);  // train_v_iters = 0
}

}  // namespace

TEST_CASE("vpg: loss, gradient and one Adam step match the written-out policy gradient") {
  for (std::uint64_t seed : {1, 2, 3})
    for (bool discrete : {true, false}) check_vpg(discrete, seed, 0.0, 0.0);
}

TEST_CASE("vpg: --ent-coef adds -ent_coef mean(H) to the loss") {
  for (std::uint64_t seed : {4, 5})
    for (bool discrete : {true, false}) check_vpg(discrete, seed, 0.3, 0.0);
}

TEST_CASE("vpg: --max-grad-norm rescales the gradient to the given norm") {
  for (std::uint64_t seed : {6, 7})
    for (bool discrete : {true, false}) {
      check_vpg(discrete, seed, 0.1, 0.05);
      check_vpg(discrete, seed, 0.0, 1e6);  // above the norm: no-op
    }
}
