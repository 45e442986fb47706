// PPO surrogates and TRPO's line search on crafted numbers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "rlmpi/algo/objectives.hpp"

using rlmpi::Scalar;
using rlmpi::Vector;
using namespace rlmpi::algo;

TEST_CASE("PPO-clip loss, clip fraction and gradient weights on crafted ratios") {
  // (ratio, adv): clipped above with adv > 0, active below, active above with adv < 0,
  // clipped below with adv < 0, inside the range.
  const double ratio[5] = {1.5, 0.5, 1.5, 0.5, 1.1};
  const double adv_v[5] = {1, 1, -1, -1, 2};
  Vector logp(5), logp_old = Vector::Zero(5), adv(5), w(5);
  for (int i = 0; i < 5; ++i) {
    logp[i] = std::log(ratio[i]);
    adv[i] = adv_v[i];
  }
  const SurrogateEval e = ppo_clip_surrogate(logp, logp_old, adv, 0.2, w);
  // surrogates: min(1.5, 1.2) = 1.2, 0.5, min(-1.5, -1.2) = -1.5, min(-0.5, -0.8) = -0.8, 2.2
  CHECK(e.loss == doctest::Approx(-(1.2 + 0.5 - 1.5 - 0.8 + 2.2) / 5));
  CHECK(e.clip_frac == doctest::Approx(0.8));
  CHECK(e.approx_kl == doctest::Approx(-logp.sum() / 5));
  CHECK(w[0] == 0.0);
  CHECK(w[1] == doctest::Approx(-0.5 / 5));
  CHECK(w[2] == doctest::Approx(1.5 / 5));
  CHECK(w[3] == 0.0);
  CHECK(w[4] == doctest::Approx(-2.2 / 5));

  // The weights are the derivative of the loss w.r.t. logp (central differences, off the kinks).
  for (int i = 0; i < 5; ++i) {
    const double h = 1e-6;
    Vector lp = logp, scratch(5);
    lp[i] += h;
    const double up = ppo_clip_surrogate(lp, logp_old, adv, 0.2, scratch).loss;
    lp[i] -= 2 * h;
    const double down = ppo_clip_surrogate(lp, logp_old, adv, 0.2, scratch).loss;
    CHECK(w[i] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-6));
  }
}

TEST_CASE_TEMPLATE("ClipSums fed block by block gives ppo_clip_surrogate's bits", T, double, float) {
  // Ppo's one-pass gradient sees the rows in blocks; the sums must not depend on the split.
  using Vec = rlmpi::VectorX<T>;
  const rlmpi::Index n = 203;
  Vec logp(n), logp_old(n), adv(n), w(n);
  for (rlmpi::Index i = 0; i < n; ++i) {
    logp[i] = static_cast<T>(-1.0 + 0.37 * std::sin(1.7 * static_cast<double>(i)));
    logp_old[i] = static_cast<T>(-1.0 + 0.29 * std::cos(0.9 * static_cast<double>(i)));
    adv[i] = static_cast<T>(std::sin(0.31 * static_cast<double>(i) + 0.2));
  }
  const SurrogateEval ref = ppo_clip_surrogate(logp, logp_old, adv, 0.2, w);
  for (const rlmpi::Index block : {rlmpi::Index{1}, rlmpi::Index{7}, rlmpi::Index{96}, n}) {
    CAPTURE(block);
    ClipSums sums;
    Vec wb(n);
    for (rlmpi::Index i0 = 0; i0 < n; i0 += block)
      for (rlmpi::Index i = i0; i < std::min(n, i0 + block); ++i)
        wb[i] = sums.add<T>(logp[i], logp_old[i], adv[i], 0.2, 1.0 / static_cast<double>(n));
    const SurrogateEval got = sums.result(1.0 / static_cast<double>(n));
    CHECK(got.loss == ref.loss);
    CHECK(got.approx_kl == ref.approx_kl);
    CHECK(got.clip_frac == ref.clip_frac);
    CHECK(wb == w);
  }
  CHECK(ref.clip_frac > 0);  // the data exercise both branches
  CHECK(ref.clip_frac < 1);
}

TEST_CASE("ratio surrogate: loss and weights") {
  Vector logp(2), logp_old(2), adv(2), w(2);
  logp << std::log(2.0), 0.0;
  logp_old << 0.0, 0.0;
  adv << 1.0, -3.0;
  const SurrogateEval e = ratio_surrogate(logp, logp_old, adv, w);
  CHECK(e.loss == doctest::Approx(-(2.0 - 3.0) / 2));
  CHECK(w[0] == doctest::Approx(-1.0));
  CHECK(w[1] == doctest::Approx(1.5));
}

TEST_CASE("TRPO line search accepts the first step inside the trust region that does not worsen the loss") {
  Vector theta_old = Vector::Zero(1), theta(1), full_step(1);
  full_step << -1.0;  // theta = 0.5^j
  int calls = 0;
  const LineSearch ls = backtracking_line_search(theta, theta_old, full_step, /*loss_old=*/0.0, /*delta=*/0.1,
                                                 /*iters=*/10, /*coeff=*/0.5, [&](const Vector& t) {
                                                   ++calls;
                                                   return std::pair{t[0] * t[0], -t[0]};
                                                 });
  // kl = 1, 0.25 rejected; 0.0625 accepted at j = 2.
  CHECK(ls.accepted);
  CHECK(ls.backtrack_iters == 2);
  CHECK(calls == 3);
  CHECK(theta[0] == 0.25);
  CHECK(ls.kl == 0.0625);
}

TEST_CASE("TRPO line search rejects loss increases and restores the old parameters") {
  Vector theta_old = Vector::Constant(2, 3.0), theta(2), full_step = Vector::Constant(2, 1.0);
  const LineSearch ls = backtracking_line_search(theta, theta_old, full_step, 0.0, 0.01, 10, 0.8,
                                                 [](const Vector&) { return std::pair{0.0, 1e-12}; });
  CHECK_FALSE(ls.accepted);
  CHECK(ls.backtrack_iters == 10);
  CHECK((theta.array() == 3.0).all());
  CHECK(ls.loss == 0.0);
}
