// Proof that forward / backward / jvp / fvp (and the other per-batch policy and value calls)
// do not touch the heap once the workspace has been sized for the batch.
//
// How the proof is made sound: EIGEN_RUNTIME_NO_MALLOC only instruments code compiled with it,
// and librlmpi is compiled without it. So this translation unit compiles the nn sources
// themselves (#include of src/nn/*.cpp) with the macro on, and with RLMPI_NN_ABI set to
// `nomalloc_test`: the classes tested here are rlmpi::nn::nomalloc_test::Mlp<T> etc., symbols
// distinct from the library's rlmpi::nn::v1::Mlp<T>, so the linker can never substitute the
// uninstrumented library code for them. Eigen's own templates (GEMM driver, dense storage) are
// instantiated here as well; they are shared weak symbols, and since this object precedes the
// static library on the link line the linker keeps this translation unit's instrumented copies.
// The GEMM and tanh kernels are not recompiled here: they run in the library's per-instruction-set
// tables (src/nn/kernels), which take their buffers from the workspace; tests/algo/no_malloc.cpp
// counts every malloc of the process through them.
// Release builds define NDEBUG, which turns Eigen's check into a no-op, so eigen_assert is
// redefined to record failures; the first test case shows that the instrumentation is live.
#include <string>
#include <vector>

namespace nomalloc {
inline std::vector<std::string>& violations() {
  static std::vector<std::string> v;
  return v;
}
inline void violation(const char* what) { violations().emplace_back(what); }
}  // namespace nomalloc

#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) ((x) ? static_cast<void>(0) : ::nomalloc::violation(#x))
#define RLMPI_NN_ABI nomalloc_test

// clang-format off
#include "../../src/nn/activation.cpp"
#include "../../src/nn/isa.cpp"
#include "../../src/nn/mlp.cpp"
#include "../../src/nn/categorical.cpp"
#include "../../src/nn/diag_gaussian.cpp"
#include "../../src/nn/policy.cpp"
#include "../../src/nn/value.cpp"
// clang-format on

#include <doctest/doctest.h>

#include "nn_test_util.hpp"

using namespace rlmpi;
using namespace rlmpi::nn;

namespace {

// Runs f with heap allocation forbidden; returns the Eigen assertions it triggered.
template <class F>
std::vector<std::string> without_malloc(F&& f) {
  nomalloc::violations().clear();
  Eigen::internal::set_is_malloc_allowed(false);
  f();
  Eigen::internal::set_is_malloc_allowed(true);
  std::vector<std::string> v;
  v.swap(nomalloc::violations());
  return v;
}

template <class T>
MatrixX<T> batch(Index n, Index d, Rng& rng) {
  return test::random_matrix(n, d, rng).cast<T>();
}

}  // namespace

TEST_CASE("no-malloc: the instrumentation is live in this translation unit") {
  static_assert(std::is_same_v<Mlp<double>, nomalloc_test::Mlp<double>>);
  const auto v = without_malloc([] {
    VectorX<double> tmp(1000);
    tmp.setZero();
  });
  CHECK(!v.empty());
}

TEST_CASE_TEMPLATE("no-malloc: Mlp forward/backward/jvp after sizing", T, double, float) {
  Rng rng(1);
  for (Activation act : {Activation::Tanh, Activation::Relu}) {
    Mlp<T> mlp({11, 64, 64, 2}, act);
    VectorX<T> p(mlp.num_params()), grad(mlp.num_params()), v(mlp.num_params());
    mlp.init(p, rng);
    v = p.reverse();
    const MatrixX<T> x = batch<T>(4000, 11, rng), dy = batch<T>(4000, 2, rng);
    const MatrixX<T> x_small = batch<T>(100, 11, rng), dy_small = batch<T>(100, 2, rng);
    MatrixX<T> dx(4000, 11);
    mlp.forward(p.data(), x);  // sizes the workspace
    const auto violations = without_malloc([&] {
      for (int rep = 0; rep < 2; ++rep) {
        mlp.forward(p.data(), x);
        mlp.backward(p.data(), dy, grad.data());
        mlp.backward(p.data(), dy, grad.data(), &dx);
        mlp.jvp(p.data(), v.data());
        mlp.forward(p.data(), x_small);  // smaller batch: no allocation either
        mlp.backward(p.data(), dy_small, grad.data());
        mlp.jvp(p.data(), v.data());
        mlp.forward(p.data(), x.topRows(1));  // rollout-style single row
      }
    });
    CHECK(violations.empty());
    if (!violations.empty()) MESSAGE(violations.front());
  }
}

TEST_CASE_TEMPLATE("no-malloc: every per-batch Policy call after sizing", T, double, float) {
  Rng rng(2);
  for (bool discrete : {true, false}) {
    auto pi = make_policy<T>(discrete, 4, discrete ? 3 : 2, {64, 64}, Activation::Tanh);
    VectorX<T> p(pi->num_params()), grad(pi->num_params()), v(pi->num_params()),
        out(pi->num_params());
    pi->init_params(p, rng);
    v = p.reverse();
    const Index n = 4000, m = 100;
    const MatrixX<T> obs = batch<T>(n, 4, rng);
    MatrixX<T> act(n, pi->act_dim()), dist(n, pi->dist_dim()), act_m(m, pi->act_dim()),
        dist_m(m, pi->dist_dim());
    VectorX<T> w = VectorX<T>::Ones(n), lp(n), h(n), kl(n), w_m = VectorX<T>::Ones(m), lp_m(m);
    pi->forward(p, obs);  // sizes the workspace
    pi->dist_params(dist);
    const auto violations = without_malloc([&] {
      pi->forward(p, obs);
      pi->sample(rng, act);
      pi->mode(act);
      pi->logp(act, lp);
      pi->entropy(h);
      pi->kl(dist, kl);
      pi->grad_logp(act, w, grad);
      pi->grad_entropy(w, grad);
      pi->grad_kl(dist, grad);
      pi->fvp(v, T(0.1), out);
      pi->forward(p, obs.topRows(m));
      pi->sample(rng, act_m);
      pi->logp(act_m, lp_m);
      pi->dist_params(dist_m);
      pi->grad_logp(act_m, w_m, grad);
      pi->grad_kl(dist_m, grad);
      pi->fvp(v, T(0.1), out);
    });
    CHECK(violations.empty());
    if (!violations.empty()) MESSAGE(violations.front());
  }
}

TEST_CASE("no-malloc: ValueFunction forward and mse_grad after sizing") {
  Rng rng(3);
  ValueFunction<double> vf(11, {64, 64}, Activation::Tanh);
  VectorX<double> p(vf.num_params()), grad(vf.num_params());
  vf.init_params(p, rng);
  const MatrixX<double> obs = batch<double>(4000, 11, rng);
  const VectorX<double> ret = test::random_vector(4000, rng);
  vf.mse_grad(p, obs, ret, grad);
  double loss = 0;
  const auto violations = without_malloc([&] {
    loss = vf.mse_grad(p, obs, ret, grad);
    loss += vf.forward(p, obs.topRows(10)).sum();
    loss += vf.mse_grad(p, obs.topRows(500), ret.head(500), grad);
  });
  CHECK(violations.empty());
  CHECK(std::isfinite(loss));
}

TEST_CASE_TEMPLATE("no-malloc: the rollout's small-batch calls on a network sized only for them", T, double,
                   float) {
  Rng rng(4);
  for (bool discrete : {true, false}) {
    auto pi = make_policy<T>(discrete, 4, discrete ? 2 : 3, {64, 64}, Activation::Tanh);
    ValueFunction<T> vf(4, {64, 64}, Activation::Tanh);
    VectorX<T> p(pi->num_params()), q(vf.num_params());
    pi->init_params(p, rng);
    vf.init_params(q, rng);
    const Index k = Mlp<T>::kSmallBatch;
    const MatrixX<T> obs = batch<T>(k, 4, rng);
    MatrixX<T> act1(1, pi->act_dim()), dist1(1, pi->dist_dim()), act(k, pi->act_dim());
    VectorX<T> lp1(1);
    pi->forward(p, obs);  // sizes the workspaces for k rows
    vf.forward(q, obs);
    T sum = 0;
    const auto violations = without_malloc([&] {
      for (int step = 0; step < 3; ++step) {
        pi->forward(p, obs.topRows(1));
        pi->sample(rng, act1);
        pi->logp(act1, lp1);
        pi->dist_params(dist1);
        sum += vf.forward(q, obs.topRows(1))(0) + lp1(0);
        pi->forward(p, obs);
        pi->sample(rng, act);
        sum += vf.forward(q, obs).sum();
      }
    });
    CHECK(violations.empty());
    if (!violations.empty()) MESSAGE(violations.front());
    CHECK(std::isfinite(static_cast<double>(sum)));
  }
}
