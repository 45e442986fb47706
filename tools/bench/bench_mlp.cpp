// Forward + backward throughput of the policy-sized MLP against plain Eigen GEMMs.
//
// Network: obs_dim -> 64 -> 64 -> 2, tanh, batch N = 4000 (one Spinning Up epoch), double and
// float. FLOPs count only the GEMMs, 2 * N * in * out each: forward one per layer, backward one
// dW per layer plus one dX per layer above the first (Mlp::backward without dx). The ceiling
// runs the same GEMMs as `C.noalias() = A * B` on Eigen matrices of the same shapes, without
// bias, activation or reductions. Median over many repetitions.
//
// Usage: bench_mlp [repetitions=200]
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/mlp.hpp"

namespace {

using rlmpi::Index;
using rlmpi::MatrixX;
using rlmpi::VectorX;

double median(std::vector<double> t) {
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class T>
MatrixX<T> random(Index r, Index c, rlmpi::Rng& rng) {
  MatrixX<T> m(r, c);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(rng.normal());
  return m;
}

template <class T>
void run(const char* type, int obs_dim, int reps) {
  const Index n = 4000;
  const std::vector<int> sizes{obs_dim, 64, 64, 2};
  const int layers = static_cast<int>(sizes.size()) - 1;
  rlmpi::Rng rng(0);
  rlmpi::nn::Mlp<T> mlp(sizes, rlmpi::nn::Activation::Tanh);
  VectorX<T> p(mlp.num_params()), grad(mlp.num_params());
  mlp.init(p, rng);
  const MatrixX<T> x = random<T>(n, obs_dim, rng);
  const MatrixX<T> dy = random<T>(n, 2, rng);

  double flops = 0;
  for (int l = 0; l < layers; ++l) {
    const double f = 2.0 * double(n) * sizes[l] * sizes[l + 1];
    flops += f * (l == 0 ? 2 : 3);
  }

  auto run_mlp = [&] {
    mlp.forward(p.data(), x);
    mlp.backward(p.data(), dy, grad.data());
  };

  // Ceiling: the same GEMMs, nothing else.
  std::vector<MatrixX<T>> w, h, z, dw, dh;
  for (int l = 0; l < layers; ++l) {
    w.push_back(random<T>(sizes[l + 1], sizes[l], rng));
    h.push_back(random<T>(n, sizes[l], rng));
    z.push_back(MatrixX<T>(n, sizes[l + 1]));
    dw.push_back(MatrixX<T>(sizes[l + 1], sizes[l]));
    dh.push_back(MatrixX<T>(n, sizes[l]));
  }
  auto run_gemm = [&] {
    for (int l = 0; l < layers; ++l) z[l].noalias() = h[l] * w[l].transpose();
    for (int l = layers - 1; l >= 0; --l) {
      dw[l].noalias() = z[l].transpose() * h[l];
      if (l > 0) dh[l].noalias() = z[l] * w[l];
    }
  };

  // Alternate the two so that both see the same machine load; medians of each.
  for (int i = 0; i < 5; ++i) {
    run_mlp();
    run_gemm();
  }
  std::vector<double> tm, tg;
  for (int i = 0; i < reps; ++i) {
    tm.push_back(seconds(run_mlp));
    tg.push_back(seconds(run_gemm));
  }
  const double t_mlp = median(tm), t_gemm = median(tg);

  const double gf_mlp = flops / t_mlp * 1e-9, gf_gemm = flops / t_gemm * 1e-9;
  std::printf("%-6s obs_dim %2d: mlp fwd+bwd %7.3f ms %6.2f GFLOP/s | eigen gemm %7.3f ms %6.2f GFLOP/s | ratio %5.1f%%\n",
              type, obs_dim, t_mlp * 1e3, gf_mlp, t_gemm * 1e3, gf_gemm, 100.0 * gf_mlp / gf_gemm);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  std::printf("bench_mlp: obs_dim-64-64-2 tanh MLP, N = 4000, median of %d repetitions, SIMD: %s\n",
              reps, Eigen::SimdInstructionSetsInUse());
  for (int obs_dim : {4, 11}) {
    run<double>("double", obs_dim, reps);
    run<float>("float", obs_dim, reps);
  }
  return 0;
}
