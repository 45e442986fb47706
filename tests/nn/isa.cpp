// The per-instruction-set kernels (src/nn/kernels, chosen by nn/isa.hpp): every set this CPU
// runs computes the same GEMMs and tanh as a plain reference, and networks on different sets
// agree to rounding. Sets this CPU cannot run are refused.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nn_test_util.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/nn/gemm.hpp"
#include "rlmpi/nn/isa.hpp"
#include "rlmpi/nn/mlp.hpp"

using namespace rlmpi;
using namespace rlmpi::nn;

namespace {

std::string names(const std::vector<Isa>& v) {
  std::string s;
  for (Isa i : v) {
    if (!s.empty()) s += ',';
    s += to_string(i);
  }
  return s;
}

// C += A B in double, A (m x k) and B (k x n) read through their storage orders.
template <class T>
MatrixX<double> reference(Index m, Index n, Index k, const std::vector<T>& a, bool a_row, Index lda,
                          const std::vector<T>& b, bool b_row, Index ldb, const MatrixX<double>& c0) {
  MatrixX<double> c = c0;
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) {
      double s = 0;
      for (Index p = 0; p < k; ++p) {
        const double aij = a[static_cast<std::size_t>(a_row ? i * lda + p : p * lda + i)];
        const double bij = b[static_cast<std::size_t>(b_row ? p * ldb + j : j * ldb + p)];
        s += aij * bij;
      }
      c(i, j) += s;
    }
  return c;
}

template <class T, int AOrder, int BOrder>
void check_gemm(Isa isa, Index m, Index n, Index k, Rng& rng) {
  constexpr bool a_row = AOrder == Eigen::RowMajor, b_row = BOrder == Eigen::RowMajor;
  // Leading dimensions larger than the minimum: the kernels must honour them.
  const Index lda = (a_row ? k : m) + 3, ldb = (b_row ? n : k) + 2, ldc = m + 1;
  std::vector<T> a(static_cast<std::size_t>(lda * (a_row ? m : k))), b(static_cast<std::size_t>(ldb * (b_row ? k : n)));
  for (T& x : a) x = static_cast<T>(rng.normal());
  for (T& x : b) x = static_cast<T>(rng.normal());
  std::vector<T> c(static_cast<std::size_t>(ldc * n));
  MatrixX<double> c0(m, n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < m; ++i) c0(i, j) = c[static_cast<std::size_t>(j * ldc + i)] = static_cast<T>(rng.normal());
  detail::GemmWorkspace<T> ws(isa);
  CHECK(ws.isa() == isa);
  const detail::GemmPlan plan = ws.plan(m, n, k);
  ws.template gemm<AOrder, BOrder>(plan, m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc);
  const MatrixX<double> want = reference(m, n, k, a, a_row, lda, b, b_row, ldb, c0);
  const double eps = std::numeric_limits<T>::epsilon();
  double worst = 0;
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < m; ++i)
      worst = std::max(worst, std::abs(double(c[static_cast<std::size_t>(j * ldc + i)]) - want(i, j)) /
                                  (std::sqrt(double(k)) + 1));
  CAPTURE(to_string(isa));
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  CHECK(worst < eps * (16 + double(k) / 4));  // rounding grows with k; an indexing bug gives O(1)
  CHECK(ws.flops() == 2.0 * double(m) * double(n) * double(k));
}

template <class T>
std::vector<T> random_values(std::size_t size, Rng& rng) {
  std::vector<T> v(size);
  for (T& x : v) x = static_cast<T>(rng.normal());
  return v;
}

// outer: acc_j[c] += sum_i s_i[j] v_i[c], any few (the narrow kernels up to kSkinnyMax, the
// wide tiles above), against double loops; and rows split into two calls give the same bits.
template <class T>
void check_outer(detail::GemmWorkspace<T>& ws, Index n, int few, Index wide, Rng& rng) {
  CAPTURE(n);
  CAPTURE(few);
  CAPTURE(wide);
  const double eps = std::numeric_limits<T>::epsilon();
  {
    const Index lds = few + 3, ldv = wide + 2;
    const auto s = random_values<T>(static_cast<std::size_t>(n * lds), rng);
    const auto v = random_values<T>(static_cast<std::size_t>(n * ldv), rng);
    auto acc = random_values<T>(static_cast<std::size_t>(few * wide), rng);
    const std::vector<T> acc0 = acc;
    ws.outer(n, few, wide, s.data(), lds, v.data(), ldv, acc.data());
    bool ok = true;
    for (int j = 0; j < few; ++j)
      for (Index c = 0; c < wide; ++c) {
        double want = acc0[j * wide + c], mag = std::abs(want);
        for (Index i = 0; i < n; ++i) {
          want += double(s[i * lds + j]) * double(v[i * ldv + c]);
          mag += std::abs(double(s[i * lds + j]) * double(v[i * ldv + c]));
        }
        ok = ok && std::abs(double(acc[j * wide + c]) - want) <= eps * (5 + double(n)) * (1 + mag);
      }
    CHECK_MESSAGE(ok, "outer");
    std::vector<T> split = acc0;
    const Index part = n / 3;
    ws.outer(part, few, wide, s.data(), lds, v.data(), ldv, split.data());
    ws.outer(n - part, few, wide, s.data() + part * lds, lds, v.data() + part * ldv, ldv, split.data());
    CHECK_MESSAGE(split == acc, "outer split into two calls");
    // With a bias row: the same acc bits, and bias += v's column sums bit for bit as column_sums
    // computes them (the kernel reuses its loads of v; mlp.cpp relies on the equality).
    std::vector<T> with_bias = acc0;
    auto bias = random_values<T>(static_cast<std::size_t>(wide), rng);
    std::vector<T> sums = bias;
    ws.outer(n, few, wide, s.data(), lds, v.data(), ldv, with_bias.data(), bias.data());
    ws.kernels().column_sums(n, wide, v.data(), ldv, sums.data());
    CHECK_MESSAGE(with_bias == acc, "outer with a bias row: the same weight sums");
    CHECK_MESSAGE(bias == sums, "outer with a bias row: column_sums' bits");
  }
}

// The skinny products (gemm.hpp: expand with every epilogue, contract, outer, column_sums) of
// one set against double loops, with row strides above the minimum and both the = and += forms.
template <class T>
void check_skinny(Isa isa, Index n, int few, Index wide, bool add, Rng& rng) {
  CAPTURE(to_string(isa));
  CAPTURE(n);
  CAPTURE(few);
  CAPTURE(wide);
  CAPTURE(add);
  detail::GemmWorkspace<T> ws(isa);
  const double eps = std::numeric_limits<T>::epsilon();
  const auto close = [&](double got, double want, double terms) {
    return std::abs(got - want) <= eps * (8 + terms) * (1 + std::abs(want));
  };
  // A sum of `terms` products in any order: |error| <= terms eps sum|products| (plus slack); an
  // indexing bug is off by O(1).
  const auto bounded = [&](double got, double want, double mag, Index terms) {
    return std::abs(got - want) <= eps * (4 + double(terms)) * (1 + mag);
  };
  // expand: y_i[c] (+)= init[c] + sum_j s_i[j] m_j[c]
  {
    const Index lds = few + 2, ldm = wide + 3, ldy = wide + 1;
    const auto s = random_values<T>(static_cast<std::size_t>(n * lds), rng);
    const auto m = random_values<T>(static_cast<std::size_t>(few * ldm), rng);
    const auto init = random_values<T>(static_cast<std::size_t>(wide), rng);
    auto y = random_values<T>(static_cast<std::size_t>(n * ldy), rng);
    const std::vector<T> y0 = y;
    auto hv = random_values<T>(static_cast<std::size_t>(n * ldy), rng);
    for (T& v : hv) v = static_cast<T>(std::tanh(double(v)));
    using detail::Epilogue;
    for (const T* in : {init.data(), static_cast<const T*>(nullptr)})
      for (Epilogue epi : {Epilogue::None, Epilogue::Tanh, Epilogue::Relu, Epilogue::TanhGrad, Epilogue::ReluGrad}) {
        CAPTURE(static_cast<int>(epi));
        const bool plus = add && epi == Epilogue::None;
        y = y0;
        ws.expand(n, few, wide, s.data(), lds, m.data(), ldm, in, y.data(), ldy, plus, epi, hv.data(), ldy);
        bool ok = true;
        for (Index i = 0; i < n; ++i)
          for (Index c = 0; c < wide; ++c) {
            double want = (plus ? double(y0[i * ldy + c]) : 0.0) + (in != nullptr ? double(in[c]) : 0.0);
            for (int j = 0; j < few; ++j) want += double(s[i * lds + j]) * double(m[j * ldm + c]);
            const double h = hv[i * ldy + c];
            if (epi == Epilogue::Tanh) want = std::tanh(want);
            if (epi == Epilogue::Relu) want = std::max(want, 0.0);
            if (epi == Epilogue::TanhGrad) want *= 1 - h * h;
            if (epi == Epilogue::ReluGrad) want = h > 0 ? want : 0.0;
            ok = ok && close(y[i * ldy + c], want, few);
          }
        for (Index i = 0; i < n; ++i)  // the stride's gap is left alone
          ok = ok && y[i * ldy + wide] == y0[i * ldy + wide];
        CHECK_MESSAGE(ok, "expand");
      }
  }
  // contract: y_i[j] (+)= init[j] + <h_i, m_j>
  {
    const Index ldh = wide + 2, ldm = wide + 5, ldy = few + 1;
    const auto h = random_values<T>(static_cast<std::size_t>(n * ldh), rng);
    const auto m = random_values<T>(static_cast<std::size_t>(few * ldm), rng);
    const auto init = random_values<T>(static_cast<std::size_t>(few), rng);
    auto y = random_values<T>(static_cast<std::size_t>(n * ldy), rng);
    const std::vector<T> y0 = y;
    ws.contract(n, few, wide, h.data(), ldh, m.data(), ldm, init.data(), y.data(), ldy, add);
    bool ok = true;
    for (Index i = 0; i < n; ++i) {
      for (int j = 0; j < few; ++j) {
        double want = (add ? double(y0[i * ldy + j]) : 0.0) + double(init[j]), mag = std::abs(want);
        for (Index c = 0; c < wide; ++c) {
          want += double(h[i * ldh + c]) * double(m[j * ldm + c]);
          mag += std::abs(double(h[i * ldh + c]) * double(m[j * ldm + c]));
        }
        ok = ok && bounded(y[i * ldy + j], want, mag, wide + 2);
      }
      ok = ok && y[i * ldy + few] == y0[i * ldy + few];
    }
    CHECK_MESSAGE(ok, "contract");
  }
  check_outer(ws, n, few, wide, rng);
  CHECK(ws.flops() == 14 * 2.0 * double(n) * few * double(wide));  // as GEMMs: expand 10 times, contract, outer 3 times over n rows
  // column_sums: the bias gradient
  {
    const Index ld = wide + 4;
    const auto d = random_values<T>(static_cast<std::size_t>(n * ld), rng);
    std::vector<T> sums(static_cast<std::size_t>(wide), T(7));
    ws.kernels().column_sums(n, wide, d.data(), ld, sums.data());
    bool ok = true;
    for (Index c = 0; c < wide; ++c) {
      double want = 7, mag = 7;  // adds to what is there
      for (Index i = 0; i < n; ++i) {
        want += d[i * ld + c];
        mag += std::abs(double(d[i * ld + c]));
      }
      ok = ok && bounded(sums[c], want, mag, n);
    }
    CHECK_MESSAGE(ok, "column_sums");
    // Rows in order: the sums over rows [0, n) in one call or in two calls give the same bits
    // (Mlp::backward accumulates a batch's gradient block by block).
    std::vector<T> split(static_cast<std::size_t>(wide), T(7));
    const Index half = n / 2;
    ws.kernels().column_sums(half, wide, d.data(), ld, split.data());
    ws.kernels().column_sums(n - half, wide, d.data() + half * ld, ld, split.data());
    CHECK_MESSAGE(split == sums, "column_sums split into two calls");
  }
}

// The fused dense product of one set against double loops: every epilogue, the += form, row
// and column counts that leave partial tiles and partial packets, strides above the minimum.
template <class T>
void check_dense(Isa isa, Index n, Index kdim, Index out, detail::Epilogue epi, bool add, Rng& rng) {
  using detail::Epilogue;
  CAPTURE(to_string(isa));
  CAPTURE(n);
  CAPTURE(kdim);
  CAPTURE(out);
  CAPTURE(static_cast<int>(epi));
  CAPTURE(add);
  detail::GemmWorkspace<T> ws(isa);
  const Index ldx = kdim + 1, ldb = out + 2, ldy = out + 3, ldh = out + 1;
  const auto x = random_values<T>(static_cast<std::size_t>(n * ldx), rng);
  const auto b = random_values<T>(static_cast<std::size_t>(kdim * ldb), rng);
  const auto init = random_values<T>(static_cast<std::size_t>(out), rng);
  auto h = random_values<T>(static_cast<std::size_t>(n * ldh), rng);
  for (T& v : h) v = static_cast<T>(std::tanh(double(v)));  // an activation's output, some <= 0
  auto y = random_values<T>(static_cast<std::size_t>(n * ldy), rng);
  const std::vector<T> y0 = y;
  const bool grad = epi == Epilogue::TanhGrad || epi == Epilogue::ReluGrad;
  ws.dense(n, kdim, out, x.data(), ldx, b.data(), ldb, grad ? nullptr : init.data(), y.data(), ldy, epi,
           grad ? h.data() : nullptr, ldh, add);
  const double eps = std::numeric_limits<T>::epsilon();
  bool ok = true;
  double worst = 0;
  for (Index i = 0; i < n; ++i) {
    for (Index o = 0; o < out; ++o) {
      double v = (add ? double(y0[i * ldy + o]) : 0.0) + (grad ? 0.0 : double(init[o]));
      double mag = std::abs(v);
      for (Index k = 0; k < kdim; ++k) {
        v += double(x[i * ldx + k]) * double(b[k * ldb + o]);
        mag += std::abs(double(x[i * ldx + k]) * double(b[k * ldb + o]));
      }
      const double hv = h[i * ldh + o];
      switch (epi) {
        case Epilogue::Tanh: v = std::tanh(v); break;
        case Epilogue::Relu: v = std::max(v, 0.0); break;
        case Epilogue::TanhGrad: v *= 1 - hv * hv; break;
        case Epilogue::ReluGrad: v = hv > 0 ? v : 0.0; break;
        case Epilogue::None: break;
      }
      const double err = std::abs(double(y[i * ldy + o]) - v) / (eps * (8 + mag));
      worst = std::max(worst, err);
      ok = ok && err < 4;
    }
    for (Index o = out; o < ldy; ++o) ok = ok && y[i * ldy + o] == y0[i * ldy + o];  // the gap stays
  }
  CAPTURE(worst);
  CHECK_MESSAGE(ok, "dense");
  CHECK(ws.flops() == 2.0 * double(n) * double(kdim) * double(out));
}

}  // namespace

TEST_CASE("instruction sets: names, parsing, what this CPU runs") {
  for (Isa i : {Isa::Sse2, Isa::Avx2, Isa::Avx512}) CHECK(parse_isa(to_string(i)) == i);
  CHECK_THROWS_WITH_AS(parse_isa("avx"), doctest::Contains("'avx' (allowed: auto, sse2, avx2, avx512)"), UsageError);
  const std::vector<Isa> here = supported_isas();
  MESSAGE("this CPU runs: " << names(here) << "; best: " << to_string(best_isa()));
  REQUIRE(!here.empty());
  CHECK(here.front() == Isa::Sse2);
  CHECK(here.back() == best_isa());
  for (Isa i : {Isa::Sse2, Isa::Avx2, Isa::Avx512}) {
    const bool listed = std::find(here.begin(), here.end(), i) != here.end();
    CHECK(cpu_supports(i) == listed);
    if (listed) {
      CHECK(detail::kernel_table(i).isa == i);  // each table is its own set's
    } else {
      CHECK_THROWS_AS(detail::kernel_table(i), std::invalid_argument);
      CHECK_THROWS_AS(Mlp<float>({4, 8, 2}, Activation::Tanh, i), std::invalid_argument);
    }
  }
}

TEST_CASE_TEMPLATE("every instruction set's GEMM matches a reference in all three storage orders", T, float, double) {
  Rng rng(7);
  const Index shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {64, 300, 4}, {64, 257, 64}, {65, 33, 129}, {2, 200, 64},
                             {64, 64, 1000}, {7, 3, 2000}, {24, 50, 300}, {16, 7, 3}, {40, 13, 700},
                             {32, 4001, 64}, {64, 4000, 11}};
  for (Isa isa : supported_isas())
    for (const auto& s : shapes) {
      check_gemm<T, Eigen::RowMajor, Eigen::ColMajor>(isa, s[0], s[1], s[2], rng);
      check_gemm<T, Eigen::ColMajor, Eigen::RowMajor>(isa, s[0], s[1], s[2], rng);
      check_gemm<T, Eigen::ColMajor, Eigen::ColMajor>(isa, s[0], s[1], s[2], rng);
    }
}

TEST_CASE_TEMPLATE("every instruction set's skinny products match a reference", T, float, double) {
  Rng rng(11);
  for (Isa isa : supported_isas())
    for (int few = 1; few <= detail::kSkinnyMax; ++few)
      for (Index wide : {1, 3, 8, 17, 64, 70})
        for (Index n : {1, 6, 131}) check_skinny<T>(isa, n, few, wide, /*add=*/(n + few) % 2 == 0, rng);
}

TEST_CASE_TEMPLATE("every instruction set's outer product for wide layers matches a reference", T, float, double) {
  Rng rng(17);
  for (Isa isa : supported_isas()) {
    CAPTURE(to_string(isa));
    detail::GemmWorkspace<T> ws(isa);
    for (int few : {9, 12, 13, 17, 64, 70})
      for (Index wide : {1, 3, 8, 17, 64, 70})
        for (Index n : {1, 6, 65, 131}) check_outer<T>(ws, n, few, wide, rng);
  }
}

TEST_CASE_TEMPLATE("every instruction set's fused dense product matches a reference", T, float, double) {
  using detail::Epilogue;
  Rng rng(13);
  const Index shapes[][3] = {{1, 1, 1}, {5, 9, 64}, {6, 64, 64}, {13, 64, 64}, {131, 64, 70}, {40, 17, 100}, {7, 3, 5}};
  for (Isa isa : supported_isas())
    for (const auto& s : shapes)
      for (Epilogue epi : {Epilogue::None, Epilogue::Tanh, Epilogue::Relu, Epilogue::TanhGrad, Epilogue::ReluGrad}) {
        check_dense<T>(isa, s[0], s[1], s[2], epi, false, rng);
        if (epi == Epilogue::None) check_dense<T>(isa, s[0], s[1], s[2], epi, true, rng);
      }
}

TEST_CASE_TEMPLATE("every instruction set's tanh is within a few ulp of std::tanh", T, float, double) {
  std::vector<T> x;
  for (int i = -4000; i <= 4000; ++i) x.push_back(static_cast<T>(i) / T(200));  // [-20, 20]
  for (T v : {T(0), -T(0), T(1e-30), T(-1e-8), T(-1e-5), T(3e-4), T(-3.99e-4), T(0.625), T(-0.625), T(50), T(-1000),
              std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity()})
    x.push_back(v);
  for (Isa isa : supported_isas()) {
    std::vector<T> y = x;
    y.push_back(std::numeric_limits<T>::quiet_NaN());
    detail::kernels_of<T>(detail::kernel_table(isa)).tanh(y.data(), static_cast<Index>(y.size()));
    CAPTURE(to_string(isa));
    double worst_ulp = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const T want = std::tanh(x[i]);
      const double ulp = std::max<double>(std::numeric_limits<T>::min(),
                                          std::abs(double(std::nextafter(want, T(2)) - want)));
      worst_ulp = std::max(worst_ulp, std::abs(double(y[i]) - double(want)) / ulp);
    }
    const std::string type = sizeof(T) == 4 ? "float" : "double";
    MESSAGE(to_string(isa) << " tanh<" << type << ">: worst " << worst_ulp << " ulp");
    CHECK(worst_ulp <= (sizeof(T) == 4 ? 8 : 4));  // float: Eigen's own tanh; double: ours
    CHECK(std::isnan(y.back()));
  }
}

// exp and log (the softmax of categorical policies): every set within a few ulp of std::exp and
// std::log over the softmax's range (exp of log-probabilities <= 0, log of sums in [1, k]), an
// entry's result independent of its position (a count that leaves a padded last packet).
TEST_CASE_TEMPLATE("every instruction set's exp and log are within a few ulp of std::exp and std::log", T, float,
                   double) {
  std::vector<T> x;
  for (int i = 0; i <= 3001; ++i) x.push_back(-static_cast<T>(i) / T(40));  // [-75, 0], 3002 entries
  std::vector<T> s;
  for (int i = 0; i <= 1001; ++i) s.push_back(T(1) + static_cast<T>(i) / T(100));  // [1, 11]
  const auto ulps = [](T got, T want) {
    const double ulp = std::max<double>(std::numeric_limits<T>::denorm_min(),
                                        std::abs(double(std::nextafter(want, T(2) * want + T(1))) - want));
    return std::abs(double(got) - double(want)) / ulp;
  };
  for (Isa isa : supported_isas()) {
    CAPTURE(to_string(isa));
    const auto& k = detail::kernels_of<T>(detail::kernel_table(isa));
    std::vector<T> e(x.size()), l(s.size()), one(1);
    k.exp(x.data(), e.data(), static_cast<Index>(x.size()));
    k.log(s.data(), l.data(), static_cast<Index>(s.size()));
    double worst_exp = 0, worst_log = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst_exp = std::max(worst_exp, ulps(e[i], std::exp(x[i])));
    for (std::size_t i = 0; i < s.size(); ++i) worst_log = std::max(worst_log, ulps(l[i], std::log(s[i])));
    MESSAGE(to_string(isa) << " exp/log<" << std::string(sizeof(T) == 4 ? "float" : "double") << ">: worst " << worst_exp
                           << " / " << worst_log << " ulp");
    CHECK(worst_exp <= 4);
    CHECK(worst_log <= 4);
    for (std::size_t i : {std::size_t{0}, std::size_t{17}, x.size() - 1}) {  // alone = inside the array
      k.exp(x.data() + i, one.data(), 1);
      CHECK(one[0] == e[i]);
    }
  }
}

// Adam's step: every set gives the bits of torch's operations rounded one by one (no FMA, IEEE
// square root), at lengths that leave a padded last packet and at none.
TEST_CASE_TEMPLATE("every instruction set's Adam step gives the bits of the rounded scalar formula", T, float, double) {
  const auto r = [](T x) {  // forces rounding to T here: no contraction in the reference either
    volatile T y = x;
    return T(y);
  };
  const T b1 = T(0.9), b2 = T(0.999), step = T(0.0123), bc2 = T(0.0447), eps = T(1e-8);
  for (Index n : {Index{1}, Index{17}, Index{64}, Index{4482}}) {
    CAPTURE(n);
    std::vector<T> p(n), g(n), m(n), v(n);
    for (Index i = 0; i < n; ++i) {
      p[i] = std::sin(T(0.37) * T(i));
      g[i] = std::cos(T(1.3) * T(i)) * T(i % 7 == 0 ? 1e-6 : 1.0);
      m[i] = T(0.01) * std::sin(T(i));
      v[i] = T(1e-4) * std::abs(std::cos(T(2.1) * T(i)));
    }
    std::vector<T> wp = p, wm = m, wv = v;
    for (Index i = 0; i < n; ++i) {
      wm[i] = r(r(b1 * m[i]) + r(r(T(1) - b1) * g[i]));
      wv[i] = r(r(b2 * v[i]) + r(r(T(1) - b2) * r(g[i] * g[i])));
      wp[i] = r(p[i] - r(r(step * wm[i]) / r(r(std::sqrt(wv[i]) / bc2) + eps)));
    }
    for (Isa isa : supported_isas()) {
      CAPTURE(to_string(isa));
      std::vector<T> gp = p, gm = m, gv = v;
      detail::kernels_of<T>(detail::kernel_table(isa)).adam(n, gp.data(), g.data(), gm.data(), gv.data(),
                                                            {b1, b2, step, bc2, eps});
      CHECK(gp == wp);
      CHECK(gm == wm);
      CHECK(gv == wv);
    }
  }
}

TEST_CASE_TEMPLATE("every instruction set's transpose is exact at every shape", T, float, double) {
  for (auto [rows, cols] : {std::pair<Index, Index>{64, 64}, {3, 64}, {64, 3}, {17, 33}, {16, 16}, {1, 1}, {40, 24}}) {
    CAPTURE(rows);
    CAPTURE(cols);
    std::vector<T> a(rows * cols);
    for (Index i = 0; i < rows * cols; ++i) a[i] = T(i) + T(0.5);
    for (Isa isa : supported_isas()) {
      CAPTURE(to_string(isa));
      std::vector<T> at(rows * cols, T(-1));
      detail::kernels_of<T>(detail::kernel_table(isa)).transpose(rows, cols, a.data(), at.data());
      bool same = true;
      for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < cols; ++j) same = same && at[j * rows + i] == a[i * cols + j];
      CHECK(same);
    }
  }
}

TEST_CASE("networks on different instruction sets agree to rounding, and within one set bit for bit") {
  Rng rng(3);
  const Index n = 500;
  const MatrixX<double> x = test::random_matrix(n, 6, rng);
  const MatrixX<double> dy = test::random_matrix(n, 3, rng);
  Mlp<double> base({6, 64, 64, 3}, Activation::Tanh, Isa::Sse2);
  VectorX<double> p(base.num_params());
  base.init(p, rng);
  const MatrixX<double> y0 = base.forward(p.data(), x);
  VectorX<double> g0(p.size());
  base.backward(p.data(), dy, g0.data());
  for (Isa isa : supported_isas()) {
    CAPTURE(to_string(isa));
    for (int twice = 0; twice < 2; ++twice) {
      Mlp<double> net({6, 64, 64, 3}, Activation::Tanh, isa);
      CHECK(net.isa() == isa);
      const MatrixX<double> y = net.forward(p.data(), x);
      VectorX<double> g(p.size());
      net.backward(p.data(), dy, g.data());
      CHECK((y - y0).cwiseAbs().maxCoeff() < 1e-12);
      CHECK((g - g0).cwiseAbs().maxCoeff() < 1e-9 * (1 + g0.cwiseAbs().maxCoeff()));
      static MatrixX<double> first_y;
      static VectorX<double> first_g;
      if (twice == 0) {
        first_y = y;
        first_g = g;
      } else {
        CHECK(y == first_y);  // bit for bit within a set
        CHECK(g == first_g);
      }
    }
  }
}
