// The small-batch forward path (N <= Mlp::kSmallBatch rows, the rollout) against the GEMM path.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "nn_test_util.hpp"
#include "rlmpi/nn/mlp.hpp"
#include "rlmpi/nn/policy.hpp"
#include "rlmpi/nn/value.hpp"

using namespace rlmpi;
using namespace rlmpi::nn;
using namespace rlmpi::nn::test;

namespace {

// Max over entries of |a - b| / max(|a|, |b|, floor): relative agreement entry by entry.
template <class A, class B>
double max_rel(const A& a, const B& b, double floor = 1e-300) {
  double worst = 0;
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < a.cols(); ++j) {
      const double x = a(i, j), y = b(i, j);
      const double s = std::max({std::abs(x), std::abs(y), floor});
      worst = std::max(worst, std::abs(x - y) / s);
    }
  return worst;
}

}  // namespace

TEST_CASE("small-batch forward agrees with the GEMM path to ~1e-12 relative (double)") {
  static_assert(Mlp<double>::kSmallBatch >= 1);
  Rng rng(11);
  const std::vector<std::vector<int>> shapes{{4, 64, 64, 2}, {11, 64, 64, 3}, {4, 64, 64, 1}, {3, 7, 4, 2},
                                             {5, 2}};
  for (const auto& sizes : shapes) {
    for (Activation act : {Activation::Tanh, Activation::Relu}) {
      Mlp<double> mlp(sizes, act);
      VectorX<double> p(mlp.num_params());
      mlp.init(p, rng);
      p += random_vector(p.size(), rng, 0.05);
      const Index big = 64;  // > kSmallBatch: the GEMM path
      const MatrixX<double> x = random_matrix(big, sizes.front(), rng);
      const MatrixX<double> y_gemm = mlp.forward(p.data(), x);
      for (Index n = 1; n <= Mlp<double>::kSmallBatch; ++n) {
        CAPTURE(n);
        const MatrixX<double> y_small = mlp.forward(p.data(), x.topRows(n));
        CHECK(mlp.batch() == n);
        CHECK(rel_error(y_small, y_gemm.topRows(n)) < 1e-12);
        // Entrywise relative, with a floor of 0.1 x the output scale for outputs near 0.
        CHECK(max_rel(y_small, y_gemm.topRows(n), 0.1 * y_gemm.cwiseAbs().maxCoeff()) < 1e-12);
        // Deterministic: same input, same bits.
        const MatrixX<double> again = mlp.forward(p.data(), x.topRows(n));
        CHECK(again == y_small);
      }
    }
  }
}

TEST_CASE("small-batch path is row-independent: one row at a time equals the whole small batch") {
  Rng rng(12);
  Mlp<double> mlp({4, 64, 64, 2}, Activation::Tanh);
  VectorX<double> p(mlp.num_params());
  mlp.init(p, rng);
  const MatrixX<double> x = random_matrix(Mlp<double>::kSmallBatch, 4, rng);
  const MatrixX<double> y = mlp.forward(p.data(), x);
  for (Index i = 0; i < x.rows(); ++i) CHECK(MatrixX<double>(mlp.forward(p.data(), x.row(i))) == y.row(i));
}

TEST_CASE("backward and jvp after a small-batch forward use its cached activations") {
  Rng rng(13);
  Mlp<double> mlp({4, 64, 64, 2}, Activation::Tanh);
  VectorX<double> p(mlp.num_params());
  mlp.init(p, rng);
  const Index n = Mlp<double>::kSmallBatch;
  const MatrixX<double> x = random_matrix(n, 4, rng), dy = random_matrix(n, 2, rng);
  // The same rows twice: a 2n-row batch (GEMM path) gives exactly twice the gradient.
  MatrixX<double> x2(2 * n, 4), dy2(2 * n, 2);
  x2 << x, x;
  dy2 << dy, dy;
  VectorX<double> g_small(p.size()), g_big(p.size());
  mlp.forward(p.data(), x);
  mlp.backward(p.data(), dy, g_small.data());
  const VectorX<double> v = random_vector(p.size(), rng);
  const MatrixX<double> jv_small = mlp.jvp(p.data(), v.data());
  mlp.forward(p.data(), x2);
  mlp.backward(p.data(), dy2, g_big.data());
  const MatrixX<double> jv_big = mlp.jvp(p.data(), v.data());
  CHECK(rel_error(2 * g_small, g_big) < 1e-12);
  CHECK(rel_error(jv_small, jv_big.topRows(n)) < 1e-12);
}

TEST_CASE_TEMPLATE("policy logp at batch 1 (rollout) vs batch N (update) differ by rounding only", T, double,
                   float) {
  Rng rng(14);
  const double tol = std::is_same_v<T, double> ? 1e-12 : 2e-5;
  for (bool discrete : {true, false}) {
    auto pi = make_policy<T>(discrete, 4, discrete ? 2 : 3, {64, 64}, Activation::Tanh);
    VectorX<T> p(pi->num_params());
    pi->init_params(p, rng);
    const Index n = 200;
    const MatrixX<T> obs = random_matrix(n, 4, rng).cast<T>();
    MatrixX<T> act(n, pi->act_dim()), dist(n, pi->dist_dim());
    VectorX<T> lp_big(n);
    pi->forward(p, obs);
    pi->sample(rng, act);
    pi->logp(act, lp_big);
    pi->dist_params(dist);
    MatrixX<T> d1(1, pi->dist_dim());
    VectorX<T> lp1(1);
    double worst = 0, worst_dist = 0;
    for (Index i = 0; i < n; ++i) {
      pi->forward(p, obs.row(i));
      pi->logp(act.row(i), lp1);
      pi->dist_params(d1);
      worst = std::max(worst, std::abs(double(lp1(0)) - double(lp_big(i))) / std::max(1.0, std::abs(double(lp_big(i)))));
      worst_dist = std::max(worst_dist, max_rel(d1, dist.row(i), 0.1));
    }
    CHECK(worst < tol);
    CHECK(worst_dist < tol);
  }
}

TEST_CASE("value forward at batch 1 agrees with batch N") {
  Rng rng(15);
  ValueFunction<double> vf(11, {64, 64}, Activation::Tanh);
  VectorX<double> p(vf.num_params());
  vf.init_params(p, rng);
  const MatrixX<double> obs = random_matrix(100, 11, rng);
  const VectorX<double> v_big = vf.forward(p, obs);
  for (Index i = 0; i < obs.rows(); ++i) {
    const double v1 = vf.forward(p, obs.row(i))(0);
    CHECK(std::abs(v1 - v_big(i)) <= 1e-12 * std::max(1.0, std::abs(v_big(i))));
  }
}
