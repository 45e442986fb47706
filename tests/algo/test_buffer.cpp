// GAE-lambda and rewards-to-go against numbers computed by hand (gamma 0.9, lambda 0.8).
#include <doctest/doctest.h>

#include "rlmpi/algo/buffer.hpp"

using rlmpi::Scalar;
using RolloutBuffer = rlmpi::algo::RolloutBuffer<rlmpi::Scalar>;

namespace {
void put(RolloutBuffer& b, int e, Scalar r, Scalar v) {
  const Scalar o[2] = {r, v}, a[1] = {0}, d[1] = {0};
  b.store(e, o, a, r, v, /*logp=*/-0.5, d);
}
}  // namespace

TEST_CASE("GAE with termination, truncation and an epoch cut, two envs") {
  RolloutBuffer b(/*steps=*/6, /*num_envs=*/2, /*obs_dim=*/2, /*act_dim=*/1, /*dist_dim=*/1, 0.9, 0.8);
  // env 0: terminated path r = 1, 2, 3 / V = 0.5, 1, 1.5 (bootstrap 0) ...
  put(b, 0, 1, 0.5);
  put(b, 0, 2, 1.0);
  put(b, 0, 3, 1.5);
  b.finish_path(0, 0.0);
  // ... a truncated path r = 1, 1 / V = 2, 3, bootstrapped with V(s_T) = 4 ...
  put(b, 0, 1, 2.0);
  put(b, 0, 1, 3.0);
  b.finish_path(0, 4.0);
  // ... and a path cut by the epoch end after one step, bootstrapped with 2.
  put(b, 0, 5, 1.0);
  b.finish_path(0, 2.0);
  // env 1: one terminated path of 6 steps with r = 1, V = 0.
  for (int t = 0; t < 6; ++t) put(b, 1, 1, 0);
  b.finish_path(1, 0.0);
  REQUIRE(b.full());

  // delta = r + 0.9 V' - V; adv = delta + 0.72 adv'; ret = r + 0.9 ret'.
  const double adv0[6] = {3.8696, 3.43, 1.5, 2.852, 1.6, 5.8};
  const double ret0[6] = {5.23, 4.7, 3.0, 5.14, 4.6, 6.8};
  for (int t = 0; t < 6; ++t) {
    CHECK(b.adv[b.row(0, t)] == doctest::Approx(adv0[t]).epsilon(1e-12));
    CHECK(b.ret[b.row(0, t)] == doctest::Approx(ret0[t]).epsilon(1e-12));
  }
  // env 1 rows are independent of env 0: ret_5 = 1, ret_4 = 1.9, adv_4 = 1.72, adv_3 = 1 + 0.72 * 1.72.
  CHECK(b.row(1, 0) == 6);
  CHECK(b.ret[b.row(1, 5)] == doctest::Approx(1.0));
  CHECK(b.ret[b.row(1, 4)] == doctest::Approx(1.9));
  CHECK(b.adv[b.row(1, 4)] == doctest::Approx(1.72));
  CHECK(b.adv[b.row(1, 3)] == doctest::Approx(1 + 0.72 * 1.72));
  // Stored columns land in the right rows.
  CHECK(b.obs(b.row(0, 5), 0) == 5.0);
  CHECK(b.val[b.row(0, 3)] == 2.0);
  CHECK(b.logp[b.row(1, 2)] == -0.5);
}

TEST_CASE("advantage normalisation and reuse across epochs") {
  RolloutBuffer b(2, 1, 2, 1, 1, 0.99, 0.97);
  put(b, 0, 1, 0);
  put(b, 0, 3, 0);
  b.finish_path(0, 0.0);
  CHECK_THROWS(put(b, 0, 1, 0));  // full
  b.normalize_advantages(2.0, 0.5);
  CHECK(b.adv[1] == doctest::Approx((3.0 - 2.0) / 0.5));
  b.clear();
  CHECK_FALSE(b.full());
  put(b, 0, 1, 0);
  put(b, 0, 1, 0);
  b.finish_path(0, 0.0);
  CHECK(b.ret[1] == 1.0);
  CHECK(b.ret[0] == doctest::Approx(1.99));
  // A zero std only centres.
  b.normalize_advantages(1.0, 0.0);
  CHECK(b.adv[1] == doctest::Approx(0.0));
}
