#include "rlmpi/nn/value.hpp"

#include <doctest/doctest.h>

#include <type_traits>

#include "nn_test_util.hpp"

using namespace rlmpi;
using namespace rlmpi::nn;
using namespace rlmpi::nn::test;

TEST_CASE("ValueFunction: loss and gradient of mean (V - ret)^2 against finite differences") {
  Rng rng(1);
  struct Case {
    std::vector<int> hidden;
    Activation act;
  };
  for (const Case& c : {Case{{}, Activation::Tanh}, Case{{5}, Activation::Tanh},
                        Case{{7, 4}, Activation::Tanh}, Case{{7, 4}, Activation::Relu}}) {
    ValueFunction<double> vf(3, c.hidden, c.act);
    CHECK(vf.num_params() == vf.mlp().num_params());
    CHECK(vf.mlp().out_dim() == 1);
    VectorX<double> p(vf.num_params());
    vf.init_params(p, rng);
    const MatrixX<double> obs = random_matrix(9, 3, rng);
    const VectorX<double> ret = random_vector(9, rng);
    const VectorX<double> v = vf.forward(p, obs);
    REQUIRE(v.size() == 9);
    VectorX<double> g = VectorX<double>::Constant(p.size(), 3.0);
    const double loss = vf.mse_grad(p, obs, ret, g);
    CHECK(loss == doctest::Approx((v - ret).squaredNorm() / 9).epsilon(1e-14));
    CHECK(vf.mse(p, obs, ret) == loss);
    auto f = [&](const VectorX<double>& q) { return vf.mse(q, obs, ret); };
    CHECK(rel_error(g, fd_gradient(f, p)) < 1e-6);
  }
}

TEST_CASE("ValueFunction<float> agrees with double, orthogonal init has unit output gain") {
  Rng rng(2);
  ValueFunction<double> vd(4, {64, 64}, Activation::Tanh);
  ValueFunction<float> vfl(4, {64, 64}, Activation::Tanh);
  VectorX<double> p(vd.num_params());
  vd.init_params(p, rng, Init::Orthogonal);
  const auto& m = vd.mlp();
  const Index last = m.weight_offset(2);
  CHECK(p.segment(last, 64).norm() == doctest::Approx(1.0).epsilon(1e-12));  // 1 x 64 row, gain 1
  p += random_vector(p.size(), rng, 0.05);
  const MatrixX<double> obs = random_matrix(40, 4, rng);
  const VectorX<double> ret = random_vector(40, rng);
  VectorX<double> gd(p.size());
  VectorX<float> gf(p.size());
  const double ld = vd.mse_grad(p, obs, ret, gd);
  const float lf = vfl.mse_grad(p.cast<float>(), obs.cast<float>(), ret.cast<float>(), gf);
  CHECK(double(lf) == doctest::Approx(ld).epsilon(1e-5));
  CHECK(rel_error(gd, gf.cast<double>()) < 1e-4);
}

TEST_CASE_TEMPLATE("ValueFunction::mse_grad over several row blocks: the unfused gradient, bit for bit", T, double, float) {
  // mse_grad runs forward and backward block by block (Mlp::forward_backward); the result must be
  // the gradient of a forward over the whole batch followed by backward of 2 (V - ret) / n.
  Rng rng(3);
  const Index n = 2 * Mlp<T>::kBlockRows + 13;
  ValueFunction<T> vf(5, {64, 32}, Activation::Tanh);
  Mlp<T> ref(vf.mlp().sizes(), Activation::Tanh);
  VectorX<T> p(vf.num_params());
  vf.init_params(p, rng);
  const MatrixX<T> obs = random_matrix(n, 5, rng).template cast<T>();
  const VectorX<T> ret = random_vector(n, rng).template cast<T>();
  VectorX<T> g(p.size()), g_ref(p.size());
  const T loss = vf.mse_grad(p, obs, ret, g);
  const VectorX<T> diff = VectorX<T>(ref.forward(p.data(), obs)) - ret;
  MatrixX<T> dy(n, 1);
  dy.col(0) = diff;
  dy *= T(2) / static_cast<T>(n);
  ref.backward(p.data(), dy, g_ref.data());
  CHECK(g == g_ref);
  CHECK(loss == MatrixX<T>(diff).squaredNorm() / static_cast<T>(n));
  CHECK(vf.mse(p, obs, ret) == loss);
  if constexpr (std::is_same_v<T, double>) {
    auto f = [&](const VectorX<double>& q) { return vf.mse(q, obs, ret); };
    CHECK(rel_error(g, fd_gradient(f, p)) < 1e-6);
  }
}
