#include "rlmpi/nn/cg.hpp"

#include <doctest/doctest.h>

#include <Eigen/Cholesky>

#include "nn_test_util.hpp"

using namespace rlmpi;
using namespace rlmpi::nn;
using namespace rlmpi::nn::test;

namespace {
Eigen::MatrixXd random_spd(Index n, Rng& rng) {
  const Eigen::MatrixXd a = random_matrix(n, n, rng);
  return a * a.transpose() / double(n) + 0.2 * Eigen::MatrixXd::Identity(n, n);
}
}  // namespace

TEST_CASE("conjugate_gradient converges to the LDLT solution of a random SPD system") {
  Rng rng(1);
  for (Index n : {1, 5, 20}) {
    const Eigen::MatrixXd a = random_spd(n, rng);
    // Scaled up so that the 1e-8 Spinning Up adds to p.z (which stalls CG once p.z ~ 1e-8) only
    // matters near machine precision.
    const VectorX<double> b = random_vector(n, rng, 1e4);
    int calls = 0;
    LinearOperator<double> op = [&](const VectorX<double>& p, VectorX<double>& ap) {
      ++calls;
      ap = a * p;
    };
    const auto res = conjugate_gradient<double>(op, b, 10 * static_cast<int>(n) + 10, 1e-16);
    const VectorX<double> ref = a.ldlt().solve(b);
    CHECK(rel_error(res.x, ref) < 1e-8);
    CHECK(res.iters == calls);
    CHECK(res.iters <= 10 * n + 10);
  }
}

TEST_CASE("conjugate_gradient follows Spinning Up's iteration exactly (fixed iters, 1e-8 in alpha)") {
  Rng rng(2);
  const Eigen::MatrixXd a = random_spd(30, rng);
  const VectorX<double> b = random_vector(30, rng);
  LinearOperator<double> op = [&](const VectorX<double>& p, VectorX<double>& ap) { ap = a * p; };
  const auto res = conjugate_gradient<double>(op, b, 10);
  CHECK(res.iters == 10);
  // The same loop written out (spinup/algos/tf1/trpo/trpo.py cg()).
  VectorX<double> x = VectorX<double>::Zero(30), r = b, p = b;
  double rr = r.dot(r);
  for (int i = 0; i < 10; ++i) {
    const VectorX<double> z = a * p;
    const double alpha = rr / (p.dot(z) + 1e-8);
    x += alpha * p;
    r -= alpha * z;
    const double rr_new = r.dot(r);
    p = r + (rr_new / rr) * p;
    rr = rr_new;
  }
  CHECK(res.x == x);
}

TEST_CASE("conjugate_gradient: tolerance and zero right-hand side stop early") {
  Rng rng(3);
  const Eigen::MatrixXd a = random_spd(10, rng);
  LinearOperator<float> op = [&](const VectorX<float>& p, VectorX<float>& ap) {
    ap = (a.cast<float>() * p).eval();
  };
  const auto zero = conjugate_gradient<float>(op, VectorX<float>::Zero(10), 10);
  CHECK(zero.iters == 0);
  CHECK(zero.x.isZero(0));
  const VectorX<float> b = random_vector(10, rng).cast<float>();
  const auto loose = conjugate_gradient<float>(op, b, 10, 1e30f);
  CHECK(loose.iters == 0);
  const auto res = conjugate_gradient<float>(op, b, 50, 1e-10f);
  CHECK(res.iters < 50);
  CHECK(rel_error(res.x.cast<double>(), a.ldlt().solve(b.cast<double>())) < 1e-3);
}

TEST_CASE_TEMPLATE("conjugate_gradient in caller-owned vectors: the allocating version's bits, reusable", T, double,
                   float) {
  Rng rng(5);
  for (int n : {1, 7, 40}) {
    MatrixX<T> B(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) B(i, j) = static_cast<T>(rng.normal());
    const MatrixX<T> A = B.transpose() * B + MatrixX<T>::Identity(n, n);
    VectorX<T> b(n);
    for (int i = 0; i < n; ++i) b[i] = static_cast<T>(rng.normal());
    auto op = [&](const VectorX<T>& v, VectorX<T>& out) { out = A * v; };
    CgWork<T> work;
    for (int iters : {0, 3, 10, 60}) {
      const auto ref = conjugate_gradient<T>(LinearOperator<T>(op), b, iters);
      CHECK(ref.iters <= iters);
      for (int again = 0; again < 2; ++again) {  // the same work space, used again: the same answer
        CHECK(conjugate_gradient<T>(op, b, iters, work) == ref.iters);
        CHECK(work.x == ref.x);
      }
    }
  }
}
