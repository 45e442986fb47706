#include "rlmpi/nn/mlp.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "nn_test_util.hpp"

using namespace rlmpi;
using namespace rlmpi::nn;
using namespace rlmpi::nn::test;

namespace {

struct Shape {
  std::vector<int> sizes;
  Activation act;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s{
      {{3, 2}, Activation::Tanh},       {{3, 5, 2}, Activation::Tanh},
      {{3, 7, 4, 2}, Activation::Tanh}, {{3, 5, 2}, Activation::Relu},
      {{3, 7, 4, 2}, Activation::Relu}, {{11, 64, 64, 2}, Activation::Tanh},
      // Every product path: narrow input (<= 8, the skinny kernels along the outputs), narrow
      // output (along the inputs), both narrow, and GEMM (both sides wider than 8).
      {{4, 64, 64, 1}, Activation::Tanh}, {{2, 3}, Activation::Tanh},
      {{5, 3}, Activation::Tanh},         {{8, 20, 8}, Activation::Relu},
      {{9, 12, 10, 9}, Activation::Relu}, {{10, 17, 3}, Activation::Tanh},
  };
  return s;
}

// Straightforward reference forward pass (loops), independent of the GEMM code.
MatrixX<double> reference_forward(const Mlp<double>& mlp, const VectorX<double>& p,
                                  const MatrixX<double>& x) {
  MatrixX<double> h = x;
  for (int l = 0; l < mlp.num_layers(); ++l) {
    const int in = mlp.sizes()[l], out = mlp.sizes()[l + 1];
    MatrixX<double> z(h.rows(), out);
    for (Index i = 0; i < h.rows(); ++i)
      for (int o = 0; o < out; ++o) {
        double s = p(mlp.bias_offset(l) + o);
        for (int k = 0; k < in; ++k) s += p(mlp.weight_offset(l) + o * in + k) * h(i, k);
        const bool hidden = l + 1 < mlp.num_layers();
        z(i, o) = !hidden ? s : mlp.activation() == Activation::Tanh ? std::tanh(s) : std::max(s, 0.0);
      }
    h = z;
  }
  return h;
}

}  // namespace

TEST_CASE("Mlp layout: parameter count and offsets") {
  Mlp<double> mlp({3, 7, 4, 2}, Activation::Tanh);
  CHECK(mlp.num_params() == 7 * 3 + 7 + 4 * 7 + 4 + 2 * 4 + 2);
  CHECK(mlp.weight_offset(0) == 0);
  CHECK(mlp.bias_offset(0) == 21);
  CHECK(mlp.weight_offset(1) == 28);
  CHECK(mlp.bias_offset(2) == mlp.num_params() - 2);
  CHECK_THROWS_AS(Mlp<double>({3}, Activation::Tanh), std::invalid_argument);
  CHECK_THROWS_AS(Mlp<double>({3, 0, 2}, Activation::Tanh), std::invalid_argument);
}

TEST_CASE("vectorised double tanh matches std::tanh to a few ulp") {
  Mlp<double> mlp({1, 1, 1}, Activation::Tanh);  // identity-ish net to read the activation
  VectorX<double> p(mlp.num_params());
  p << 1.0, 0.0, 1.0, 0.0;  // h = tanh(x), y = h
  MatrixX<double> x(4003, 1);
  for (Index i = 0; i < x.rows(); ++i) x(i, 0) = -25.0 + 50.0 * static_cast<double>(i) / 4002.0;
  x(0, 0) = 1e-300;
  x(1, 0) = -1e-8;
  x(2, 0) = 0.625;
  x(3, 0) = std::nextafter(0.625, 0.0);
  x(4, 0) = 800.0;
  x(5, 0) = -800.0;
  x(6, 0) = 0.0;
  const auto y = mlp.forward(p.data(), x);
  double worst = 0;
  for (Index i = 0; i < x.rows(); ++i) {
    const double ref = std::tanh(x(i, 0));
    const double ulp = std::numeric_limits<double>::epsilon() * std::max(std::abs(ref), 1e-300);
    worst = std::max(worst, std::abs(y(i, 0) - ref) / ulp);
  }
  CHECK(worst < 4.0);
  CHECK(y(6, 0) == 0.0);
  CHECK(y(4, 0) == 1.0);
  CHECK(y(5, 0) == -1.0);
  // Infinities and NaN, and a dense sweep of the branch boundary and the clamp region.
  MatrixX<double> z(4 * 1000 + 3, 1);
  for (Index i = 0; i < 4000; ++i) {
    const double u = static_cast<double>(i) / 1000.0;  // [0, 4)
    z(i, 0) = (i % 2 ? -1.0 : 1.0) * (i < 2000 ? 0.6 + 0.05 * u : 15.0 + 3.0 * u);
  }
  z(4000, 0) = std::numeric_limits<double>::infinity();
  z(4001, 0) = -std::numeric_limits<double>::infinity();
  z(4002, 0) = std::numeric_limits<double>::quiet_NaN();
  const MatrixX<double> yz = mlp.forward(p.data(), z);
  double worst_z = 0;
  for (Index i = 0; i < 4000; ++i) {
    const double ref = std::tanh(z(i, 0));
    worst_z = std::max(worst_z, std::abs(yz(i, 0) - ref) / (std::numeric_limits<double>::epsilon() * std::abs(ref)));
  }
  CHECK(worst_z < 4.0);
  CHECK(yz(4000, 0) == 1.0);
  CHECK(yz(4001, 0) == -1.0);
  CHECK(std::isnan(yz(4002, 0)));
}

TEST_CASE("Mlp forward matches a loop reference for every shape") {
  Rng rng(1);
  for (const auto& s : shapes()) {
    Mlp<double> mlp(s.sizes, s.act);
    VectorX<double> p(mlp.num_params());
    mlp.init(p, rng);
    const MatrixX<double> x = random_matrix(9, s.sizes.front(), rng);
    const MatrixX<double> y = mlp.forward(p.data(), x);
    CHECK(rel_error(y, reference_forward(mlp, p, x)) < 1e-14);
  }
}

TEST_CASE("Mlp backward: parameter and input gradients match central differences") {
  Rng rng(2);
  for (const auto& s : shapes()) {
    CAPTURE(s.sizes.size());
    Mlp<double> mlp(s.sizes, s.act);
    VectorX<double> p(mlp.num_params());
    mlp.init(p, rng);
    p += random_vector(p.size(), rng, 0.1);  // nonzero everywhere
    const int n = 6;
    MatrixX<double> x = random_matrix(n, s.sizes.front(), rng);
    const MatrixX<double> dy = random_matrix(n, s.sizes.back(), rng);
    mlp.forward(p.data(), x);
    VectorX<double> grad = VectorX<double>::Constant(p.size(), 123.0);  // must be overwritten
    MatrixX<double> dx;
    mlp.backward(p.data(), dy, grad.data(), &dx);

    Mlp<double> probe(s.sizes, s.act);
    auto loss_p = [&](const VectorX<double>& q) { return (probe.forward(q.data(), x).array() * dy.array()).sum(); };
    CHECK(rel_error(grad, fd_gradient(loss_p, p)) < 1e-6);

    const VectorX<double> x_flat = Eigen::Map<const VectorX<double>>(x.data(), x.size());
    auto loss_x = [&](const VectorX<double>& xf) {
      const MatrixX<double> xm = Eigen::Map<const MatrixX<double>>(xf.data(), n, s.sizes.front());
      return (probe.forward(p.data(), xm).array() * dy.array()).sum();
    };
    const VectorX<double> dx_fd = fd_gradient(loss_x, x_flat);
    CHECK(rel_error(Eigen::Map<const VectorX<double>>(dx.data(), dx.size()), dx_fd) < 1e-6);
  }
}

TEST_CASE("Mlp jvp matches central differences of forward") {
  Rng rng(3);
  for (const auto& s : shapes()) {
    Mlp<double> mlp(s.sizes, s.act);
    VectorX<double> p(mlp.num_params());
    mlp.init(p, rng);
    const VectorX<double> v = random_vector(p.size(), rng);
    const MatrixX<double> x = random_matrix(7, s.sizes.front(), rng);
    mlp.forward(p.data(), x);
    const MatrixX<double> jv = mlp.jvp(p.data(), v.data());
    Mlp<double> probe(s.sizes, s.act);
    const double h = 1e-5;
    const VectorX<double> pp = p + h * v, pm = p - h * v;
    const MatrixX<double> fd = (probe.forward(pp.data(), x) - MatrixX<double>(probe.forward(pm.data(), x))) / (2 * h);
    CHECK(rel_error(jv, fd) < 1e-6);
  }
}

// Batches above kBlockRows run block by block: every row's output, input gradient and J v are
// the same bits as in any other batch (rows never mix), and the parameter gradient is the sum of
// the gradients of the batch's parts (to rounding). With central differences on the small shapes.
TEST_CASE("Mlp: a batch of several row blocks equals its rows run in smaller batches") {
  Rng rng(8);
  const Index n = 2 * Mlp<double>::kBlockRows + 13, cut = 50;
  for (const auto& s : shapes()) {
    CAPTURE(s.sizes.size());
    CAPTURE(s.sizes.front());
    Mlp<double> mlp(s.sizes, s.act), part(s.sizes, s.act);
    VectorX<double> p(mlp.num_params());
    mlp.init(p, rng);
    p += random_vector(p.size(), rng, 0.1);
    const VectorX<double> v = random_vector(p.size(), rng);
    const MatrixX<double> x = random_matrix(n, s.sizes.front(), rng);
    const MatrixX<double> dy = random_matrix(n, s.sizes.back(), rng);
    const MatrixX<double> y = mlp.forward(p.data(), x);
    const MatrixX<double> jv = mlp.jvp(p.data(), v.data());
    VectorX<double> grad = VectorX<double>::Constant(p.size(), 123.0), g_sum = VectorX<double>::Zero(p.size());
    MatrixX<double> dx;
    mlp.backward(p.data(), dy, grad.data(), &dx);
    for (const auto& [r0, rows] : {std::pair<Index, Index>{0, cut}, {cut, n - cut}}) {
      const MatrixX<double> xs = x.middleRows(r0, rows), dys = dy.middleRows(r0, rows);
      CHECK(MatrixX<double>(part.forward(p.data(), xs)) == y.middleRows(r0, rows));
      CHECK(MatrixX<double>(part.jvp(p.data(), v.data())) == jv.middleRows(r0, rows));
      VectorX<double> g(p.size());
      MatrixX<double> dxs;
      part.backward(p.data(), dys, g.data(), &dxs);
      CHECK(dxs == dx.middleRows(r0, rows));
      g_sum += g;
    }
    CHECK(rel_error(grad, g_sum) < 1e-13);
    if (p.size() > 400) continue;
    auto loss_p = [&](const VectorX<double>& q) { return (part.forward(q.data(), x).array() * dy.array()).sum(); };
    CHECK(rel_error(grad, fd_gradient(loss_p, p)) < 1e-6);
  }
}

// Batches of up to kSmallBatch rows (the rollout) read the wide layers' W^T from a cache keyed
// on W's bytes: their rows equal the block path's bit for bit, and a parameter changed in place
// (what Adam does between rollouts, same pointer) is seen by the next forward.
TEST_CASE_TEMPLATE("Mlp small batches: the block path's bits, and in-place parameter changes are seen", T, double,
                   float) {
  Rng rng(21);
  for (const auto& s : shapes()) {
    CAPTURE(s.sizes.size());
    CAPTURE(s.sizes.front());
    Mlp<T> mlp(s.sizes, s.act), fresh(s.sizes, s.act);
    VectorX<double> pd(mlp.num_params());
    Mlp<double>(s.sizes, s.act).init(pd, rng);
    VectorX<T> p = pd.cast<T>();
    const Index n = 40;
    const MatrixX<T> x = random_matrix(n, s.sizes.front(), rng).template cast<T>();
    for (int change = 0; change < 3; ++change) {
      const MatrixX<T> y = mlp.forward(p.data(), x);  // the block path (n > kSmallBatch)
      for (Index rows = 1; rows <= Mlp<T>::kSmallBatch; ++rows) {
        CAPTURE(rows);
        const Index r0 = (rows * 5) % (n - rows);
        CHECK(MatrixX<T>(mlp.forward(p.data(), x.middleRows(r0, rows))) == y.middleRows(r0, rows));
      }
      // Change one weight of every layer in place; a fresh network is the reference.
      for (Index i = 0; i < p.size(); i += 97) p[i] += T(0.25);
      const MatrixX<T> want = fresh.forward(p.data(), x);
      CHECK(MatrixX<T>(mlp.forward(p.data(), x.topRows(3))) == want.topRows(3));
    }
  }
}

// hold_params: during a hold the small batches trust their cached weights for the parameter
// pointer they checked (an in-place change is not seen, which shows the check is skipped); another
// pointer is checked, and after the hold every call checks again.
TEST_CASE_TEMPLATE("Mlp hold_params: one check per parameter vector during a hold", T, double, float) {
  Rng rng(5);
  const std::vector<int> sizes{3, 64, 64, 2};
  Mlp<T> mlp(sizes, Activation::Tanh), fresh(sizes, Activation::Tanh);
  VectorX<T> p(mlp.num_params());
  {
    VectorX<double> pd(mlp.num_params());
    Mlp<double>(sizes, Activation::Tanh).init(pd, rng);
    p = pd.template cast<T>();
  }
  const MatrixX<T> x = random_matrix(4, 3, rng).template cast<T>();
  const MatrixX<T> y0 = fresh.forward(p.data(), x);
  mlp.hold_params(true);
  CHECK(MatrixX<T>(mlp.forward(p.data(), x)) == y0);
  VectorX<T> q = p;
  p[3 * 64 + 64 + 5] += T(0.5);  // a weight of the 64 x 64 layer, in place
  const MatrixX<T> y1 = fresh.forward(p.data(), x);
  REQUIRE(y1 != y0);
  CHECK(MatrixX<T>(mlp.forward(p.data(), x)) == y0);  // trusted: not re-checked
  CHECK(MatrixX<T>(mlp.forward(q.data(), x)) == y0);  // another vector: checked (q holds the old values)
  CHECK(MatrixX<T>(mlp.forward(p.data(), x)) == y1);  // and back: checked again
  mlp.hold_params(false);
  p = q;  // in place (the same storage), the old values
  CHECK(MatrixX<T>(mlp.forward(p.data(), x)) == y0);  // no hold: every call checks
}

TEST_CASE_TEMPLATE("Mlp forward_backward equals forward then backward bit for bit", T, double, float) {
  // The loss gradient is computed block by block from the outputs (here a per-row function of y
  // and a target), as ValueFunction and the policies do; the result must not depend on the fusion.
  Rng rng(21);
  for (const auto& s : shapes()) {
    for (const Index n : {Index{5}, Mlp<T>::kBlockRows, 2 * Mlp<T>::kBlockRows + 13}) {
      CAPTURE(s.sizes.size());
      CAPTURE(s.sizes.front());
      CAPTURE(n);
      Mlp<T> a(s.sizes, s.act), b(s.sizes, s.act);
      VectorX<T> p(a.num_params());
      a.init(p, rng);
      const MatrixX<T> x = random_matrix(n, s.sizes.front(), rng).template cast<T>();
      const MatrixX<T> target = random_matrix(n, s.sizes.back(), rng).template cast<T>();
      const MatrixX<T> y = a.forward(p.data(), x);
      const MatrixX<T> dy = (y - target) * T(0.5);
      VectorX<T> g(p.size()), gf = VectorX<T>::Constant(p.size(), T(7));
      a.backward(p.data(), dy, g.data());
      Index rows_seen = 0;
      auto dy_of = [&](Index i0, Index m, const T* out, T* d) {
        CHECK(i0 == rows_seen);  // blocks in row order, every row once
        rows_seen += m;
        for (Index r = 0; r < m; ++r)
          for (Index c = 0; c < target.cols(); ++c) {
            CHECK(out[r * target.cols() + c] == y(i0 + r, c));
            d[r * target.cols() + c] = (out[r * target.cols() + c] - target(i0 + r, c)) * T(0.5);
          }
      };
      const MatrixX<T> yf = b.forward_backward(p.data(), x, dy_of, gf.data());
      CHECK(rows_seen == n);
      CHECK(yf == y);
      CHECK(gf == g);
      CHECK(b.batch() == 0);  // nothing cached for backward or jvp
      // A second pass with the same workspace gives the same bits.
      rows_seen = 0;
      VectorX<T> g2(p.size());
      b.forward_backward(p.data(), x, dy_of, g2.data());
      CHECK(g2 == g);
    }
  }
}

TEST_CASE("Mlp workspace: smaller batch after a larger one, strided inputs") {
  Rng rng(4);
  Mlp<double> mlp({3, 7, 4, 2}, Activation::Tanh);
  VectorX<double> p(mlp.num_params());
  mlp.init(p, rng);
  const MatrixX<double> big = random_matrix(50, 3, rng);
  mlp.forward(p.data(), big);
  CHECK(mlp.capacity() == 50);
  // A block of a wider matrix has an outer stride != cols: must be read correctly.
  MatrixX<double> wide = random_matrix(10, 8, rng);
  const MatrixX<double> x = wide.middleCols(2, 3);
  const MatrixX<double> y = mlp.forward(p.data(), wide.middleCols(2, 3));
  CHECK(mlp.capacity() == 50);
  CHECK(mlp.batch() == 10);
  CHECK(rel_error(y, reference_forward(mlp, p, x)) < 1e-14);
  // Gradient through a strided dy equals the one through a packed copy.
  MatrixX<double> dyw = random_matrix(10, 5, rng);
  VectorX<double> g1(p.size()), g2(p.size());
  mlp.backward(p.data(), dyw.leftCols(2), g1.data());
  const MatrixX<double> dy = dyw.leftCols(2);
  mlp.backward(p.data(), dy, g2.data());
  CHECK(g1 == g2);
  CHECK_THROWS_AS(mlp.backward(p.data(), random_matrix(9, 2, rng), g1.data()), std::invalid_argument);
}

TEST_CASE("Mlp default init: reproducible from the seed and within +-1/sqrt(fan_in)") {
  Mlp<double> mlp({11, 64, 64, 2}, Activation::Tanh);
  VectorX<double> a(mlp.num_params()), b(mlp.num_params()), c(mlp.num_params());
  Rng r1(7), r2(7), r3(8);
  mlp.init(a, r1);
  mlp.init(b, r2);
  mlp.init(c, r3);
  CHECK(a == b);
  CHECK(a != c);
  for (int l = 0; l < mlp.num_layers(); ++l) {
    const double bound = 1.0 / std::sqrt(double(mlp.sizes()[l]));
    const Index count = mlp.bias_offset(l) + mlp.sizes()[l + 1] - mlp.weight_offset(l);
    const auto seg = a.segment(mlp.weight_offset(l), count);
    CHECK(seg.cwiseAbs().maxCoeff() <= bound);
    CHECK(seg.cwiseAbs().maxCoeff() > 0.9 * bound);  // spread over the whole interval
    CHECK(std::abs(seg.mean()) < 0.1 * bound);
  }
  // Documented draw order: W_0 row-major first.
  Rng r4(7);
  const double bound0 = 1.0 / std::sqrt(11.0);
  CHECK(a(0) == r4.uniform(-bound0, bound0));
  CHECK(a(1) == r4.uniform(-bound0, bound0));
}

TEST_CASE("Mlp orthogonal init: orthonormal rows/columns times the gain, zero biases") {
  Mlp<double> mlp({11, 64, 64, 2}, Activation::Tanh);
  VectorX<double> a(mlp.num_params()), b(mlp.num_params());
  Rng r1(9), r2(9);
  mlp.init(a, r1, Init::Orthogonal, 0.01);
  mlp.init(b, r2, Init::Orthogonal, 0.01);
  CHECK(a == b);
  for (int l = 0; l < mlp.num_layers(); ++l) {
    const int in = mlp.sizes()[l], out = mlp.sizes()[l + 1];
    const double gain = l + 1 == mlp.num_layers() ? 0.01 : std::sqrt(2.0);
    const Eigen::MatrixXd w = Eigen::Map<const MatrixX<double>>(a.data() + mlp.weight_offset(l), out, in) / gain;
    // Tall (out >= in): orthonormal columns; wide: orthonormal rows.
    const Eigen::MatrixXd gram = out >= in ? Eigen::MatrixXd(w.transpose() * w) : Eigen::MatrixXd(w * w.transpose());
    CHECK((gram - Eigen::MatrixXd::Identity(gram.rows(), gram.cols())).cwiseAbs().maxCoeff() < 1e-12);
    CHECK(a.segment(mlp.bias_offset(l), out).isZero(0.0));
  }
}

TEST_CASE("Mlp<float> compiles and agrees with Mlp<double>") {
  Rng rng(10);
  Mlp<double> md({11, 64, 64, 2}, Activation::Tanh);
  Mlp<float> mf({11, 64, 64, 2}, Activation::Tanh);
  VectorX<double> p(md.num_params());
  md.init(p, rng);
  const VectorX<float> pf = p.cast<float>();
  const MatrixX<double> x = random_matrix(300, 11, rng);
  const MatrixX<double> dy = random_matrix(300, 2, rng);
  const MatrixX<double> yd = md.forward(p.data(), x);
  const MatrixX<float> yf = mf.forward(pf.data(), x.cast<float>());
  CHECK(rel_error(yd, yf.cast<double>()) < 1e-5);
  VectorX<double> gd(p.size());
  VectorX<float> gf(p.size());
  md.backward(p.data(), dy, gd.data());
  mf.backward(pf.data(), dy.cast<float>(), gf.data());
  CHECK(rel_error(gd, gf.cast<double>()) < 1e-4);
  const VectorX<double> v = random_vector(p.size(), rng);
  const VectorX<float> vf = v.cast<float>();
  const MatrixX<double> jd = md.jvp(p.data(), v.data());
  const MatrixX<float> jf = mf.jvp(pf.data(), vf.data());
  CHECK(rel_error(jd, jf.cast<double>()) < 1e-4);
  // Relu path in float too.
  Mlp<float> rf({3, 5, 2}, Activation::Relu);
  VectorX<float> q(rf.num_params());
  rf.init(q, rng, Init::Orthogonal);
  CHECK(rf.forward(q.data(), MatrixX<float>::Ones(2, 3)).allFinite());
}

TEST_CASE("gemm_flops counts 2 m n k per batched GEMM: forward, backward, jvp") {
  // sizes 3 -> 7 -> 4 -> 2, batch 20 (above the small-batch path): sum of in x out = 21 + 28 + 8.
  Mlp<float> mlp({3, 7, 4, 2}, Activation::Tanh);
  const Index n = 20;
  VectorX<float> params = VectorX<float>::Random(mlp.num_params()), grad(mlp.num_params());
  const MatrixX<float> x = MatrixX<float>::Random(n, 3), dy = MatrixX<float>::Random(n, 2);
  CHECK(mlp.gemm_flops() == 0);
  mlp.forward(params.data(), x);
  const double fwd = 2.0 * n * (21 + 28 + 8);
  CHECK(mlp.gemm_flops() == fwd);
  mlp.backward(params.data(), dy, grad.data());  // dW of every layer, dX of all but the first
  CHECK(mlp.gemm_flops() == 2 * fwd + 2.0 * n * (28 + 8));
  mlp.jvp(params.data(), params.data());  // V h for every layer, W dh for all but the first
  CHECK(mlp.gemm_flops() == 3 * fwd + 2 * 2.0 * n * (28 + 8));
  MatrixX<float> one = MatrixX<float>::Random(1, 3);
  mlp.forward(params.data(), one);  // batch 1: the matrix-vector path, not counted
  CHECK(mlp.gemm_flops() == 3 * fwd + 2 * 2.0 * n * (28 + 8));
}
