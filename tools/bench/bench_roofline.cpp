// Roofline of the PPO update and cost of the rollout step on this CPU.
//
// 1. Attainable rate: the library's kernels of the instruction set the networks run
//    (nn::best_isa(), nn/gemm.hpp), exactly as nn::Mlp chooses them: for layers wider than 8 on
//    both sides the fused dense kernel (forward with tanh, input gradient with tanh') and the
//    wide outer product (weight gradient); the skinny kernels for layers at most 8 wide on one
//    side. Each runs over all N rows in one call here; nn::Mlp runs them kBlockRows rows at a
//    time through all layers. At
//    the shapes of one update batch (N = 4000 rows, 64x64 nets):
//      forward   Z(N x out)   = H(N x in) W^T          per layer
//      weight    dW(out x in) = dZ^T(out x N) H(N x in) per layer
//      input     dH(N x in)   = dZ(N x out) W           per layer above the first
//    plus a large square GEMM (1024^3, Eigen's driver) as a reference ceiling, in double and float.
//    The "attainable" rate of an update is its product FLOPs divided by the time of exactly
//    those products run alone through the same kernels (no bias, activation, softmax, Adam): what an
//    implementation spending no time outside the GEMM at these shapes would reach. It is
//    timed rep by rep interleaved with the real update, so both see the same machine load (this
//    machine is shared); the fraction is the median over reps of the per-rep ratio.
// 2. A PPO-like update through the real rlmpi::nn classes, as src/algo/ppo.cpp runs it: 80
//    policy iterations (forward_grad_logp with the clip-surrogate weights computed per block,
//    Adam step) and 80 value iterations (mse_grad, Adam step) on
//    N = 4000 rows. Achieved GFLOP/s = GEMM FLOPs of those passes / wall time
//    (everything else -- bias, tanh, softmax, Adam -- is overhead counted in the time only).
//    Then one pass against two: forward_grad_logp and mse_grad against forward then backward on
//    the same data (thread CPU time, interleaved; the ratio and whether the gradients agree).
// 3. Rollout: µs per environment step of policy forward + sample + logp + dist_params + value
//    forward at batch 1 and CartPole-v1's step (resets included), and the nn part alone.
//
// Medians of --reps (default 5, minimum 5) repetitions. Single thread, no MPI.
// Usage: bench_roofline [--reps R] [--quick] [--isa auto|sse2|avx2|avx512]  (default auto: the best this
// CPU runs; the "of peak" column divides by the measured peak of that set)
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/nn/adam.hpp"
#include "rlmpi/nn/gemm.hpp"
#include "rlmpi/nn/isa.hpp"
#include "rlmpi/nn/policy.hpp"
#include "rlmpi/nn/value.hpp"
#include "peak_fma.hpp"

namespace {

using rlmpi::Index;
using rlmpi::MatrixX;
using rlmpi::VectorX;

constexpr Index kN = 4000;
constexpr int kIters = 80;

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  const std::size_t m = t.size() / 2;
  return t.size() % 2 ? t[m] : 0.5 * (t[m - 1] + t[m]);
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
double seconds(F&& f) {
  const double t0 = now();
  f();
  return now() - t0;
}

template <class M>
M random_mat(Index r, Index c, rlmpi::Rng& rng) {
  M m(r, c);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<typename M::Scalar>(rng.normal());
  return m;
}

// One product of an MLP layer, the way rlmpi::nn::Mlp runs it (src/nn/mlp.cpp): the skinny
// kernels when one side of the layer is at most kSkinnyMax wide, the dense kernel and the wide
// outer product otherwise (Eigen's GEMM driver for the square reference only).
// As a GEMM C(m x n) += A(m x k) B(k x n): forward m = N, n = out, k = in; weight gradient
// m = out, n = in, k = N; input gradient m = N, n = in, k = out.
enum class Op { Fwd, DW, DX };

struct Shape {
  std::string what;
  Op op;
  Index in, out;  // the layer; in = out = 1024 with op Fwd and N = 1024: the square ceiling
  Index rows = kN;
  Index m() const { return op == Op::DW ? out : rows; }
  Index n() const { return op == Op::Fwd ? out : in; }
  Index k() const { return op == Op::Fwd ? in : op == Op::DW ? rows : out; }
  double flops() const { return 2.0 * double(m()) * double(n()) * double(k()); }
  // The kernel Mlp uses for this layer: "dense" (fused, with the activation or its derivative),
  // "expand", "contract" or "outer" ("gemm": the square reference).
  const char* kernel() const {
    constexpr Index few = rlmpi::nn::detail::kSkinnyMax;
    const bool narrow_in = in <= few && (in <= out || out > few), narrow_out = !narrow_in && out <= few;
    if (what == "square") return "gemm";
    if (!narrow_in && !narrow_out) return op == Op::DW ? "outer" : "dense";
    if (op == Op::DW) return "outer";
    return (op == Op::Fwd) == narrow_in ? "expand" : "contract";
  }
};

struct GemmResult {
  Shape shape;
  double seconds;  // median per call
  double gflops() const { return shape.flops() / seconds * 1e-9; }
};

template <class T>
struct KernelGemm {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  rlmpi::nn::detail::GemmWorkspace<T> ws;
  rlmpi::nn::detail::GemmPlan plan;
  Shape s;
  Mat a, b, c;
  KernelGemm(const Shape& shape, rlmpi::Rng& rng, rlmpi::nn::Isa isa)
      : ws(isa),
        s(shape), a(random_mat<Mat>(s.m(), s.k(), rng)), b(random_mat<Mat>(s.k(), s.n(), rng)), c(Mat::Zero(s.m(), s.n())) {
    plan = ws.plan(s.m(), s.n(), s.k());
  }
  // The skinny kernels read row-major batches; a, b, c only provide storage of the right size.
  // As Mlp's grad_transposed: dW^T (in x out) for narrow-input layers and wide layers with in < out.
  bool dw_transposed() const {
    constexpr Index few = rlmpi::nn::detail::kSkinnyMax;
    const bool narrow_in = s.in <= few && (s.in <= s.out || s.out > few), narrow_out = !narrow_in && s.out <= few;
    return narrow_in || (!narrow_out && s.in < s.out);
  }
  void run() {
    const std::string k = s.kernel();
    const int in = static_cast<int>(s.in), out = static_cast<int>(s.out);
    if (k == "gemm") {
      ws.template gemm<Eigen::ColMajor, Eigen::ColMajor>(plan, c.rows(), c.cols(), a.cols(), a.data(), a.rows(),
                                                         b.data(), b.rows(), c.data(), c.rows());
    } else if (k == "dense") {  // as the networks call it: with tanh (forward) or tanh' (input gradient)
      using rlmpi::nn::detail::Epilogue;
      const bool fwd = s.op == Op::Fwd;
      ws.dense(s.rows, s.k(), s.n(), a.data(), s.k(), b.data(), s.n(), nullptr, c.data(), s.n(),
               fwd ? Epilogue::Tanh : Epilogue::TanhGrad, fwd ? nullptr : c.data(), s.n());
    } else if (s.op == Op::Fwd) {  // z (N x out) from h (N x in)
      if (k == "expand") {
        ws.expand(s.rows, in, s.out, a.data(), s.in, b.data(), s.out, nullptr, c.data(), s.out);
      } else {
        ws.contract(s.rows, out, s.in, a.data(), s.in, b.data(), s.in, nullptr, c.data(), s.out);
      }
    } else if (s.op == Op::DX) {  // dh (N x in) from d (N x out)
      if (k == "expand") {
        ws.expand(s.rows, out, s.in, a.data(), s.out, b.data(), s.in, nullptr, c.data(), s.in);
      } else {
        ws.contract(s.rows, in, s.out, a.data(), s.out, b.data(), s.out, nullptr, c.data(), s.in);
      }
    } else if (!dw_transposed()) {
      ws.outer(s.rows, out, s.in, a.data(), s.out, b.data(), s.in, c.data());  // dW (out x in)
    } else {
      ws.outer(s.rows, in, s.out, b.data(), s.in, a.data(), s.out, c.data());  // dW^T (in x out)
    }
  }
};

template <class T>
GemmResult time_gemm(const Shape& shape, int reps, rlmpi::nn::Isa isa) {
  rlmpi::Rng rng(7);
  KernelGemm<T> g(shape, rng, isa);
  auto& c = g.c;
  g.run();
  const double one = seconds([&] { g.run(); });
  const int inner = std::max(1, static_cast<int>(0.02 / std::max(one, 1e-7)));
  std::vector<double> t;
  for (int r = 0; r < std::max(reps, 5) * 3; ++r)
    t.push_back(seconds([&] {
                  for (int i = 0; i < inner; ++i) g.run();
                }) /
                inner);
  volatile T sink = c(0, 0);
  (void)sink;
  return {shape, median(t)};
}

// The products of one forward + backward (no dX for the first layer) of an MLP with these sizes.
std::vector<Shape> mlp_gemms(const std::vector<int>& sizes) {
  std::vector<Shape> s;
  const int L = static_cast<int>(sizes.size()) - 1;
  for (int l = 0; l < L; ++l) {
    const Index in = sizes[l], out = sizes[l + 1];
    const std::string dims = std::to_string(in) + "->" + std::to_string(out);
    s.push_back({"fwd  " + dims, Op::Fwd, in, out});
    s.push_back({"dW   " + dims, Op::DW, in, out});
    if (l > 0) s.push_back({"dX   " + dims, Op::DX, in, out});
  }
  return s;
}

struct Problem {
  const char* name;
  bool discrete;
  int obs_dim, act;  // act: number of actions or action dimension
  rlmpi::nn::Isa isa;  // the kernels the networks run
};

template <class T>
struct Attainable {
  double flops = 0, seconds = 0;
  double gflops() const { return flops / seconds * 1e-9; }
};

// Sum of the best GEMM times of the shapes (memoised per type).
template <class T>
Attainable<T> attainable(const std::vector<Shape>& shapes, std::vector<GemmResult>& cache, int reps,
                         rlmpi::nn::Isa isa) {
  Attainable<T> a;
  for (const auto& s : shapes) {
    const GemmResult* hit = nullptr;
    for (const auto& c : cache)
      if (c.shape.op == s.op && c.shape.in == s.in && c.shape.out == s.out) hit = &c;
    if (hit == nullptr) {
      cache.push_back(time_gemm<T>(s, reps, isa));
      hit = &cache.back();
    }
    a.flops += s.flops();
    a.seconds += hit->seconds;
  }
  return a;
}

// The GEMMs of `shapes` through the networks' kernels on preallocated matrices (inputs random).
template <class T>
struct GemmSet {
  std::vector<std::unique_ptr<KernelGemm<T>>> g;
  GemmSet(const std::vector<Shape>& shapes, rlmpi::nn::Isa isa) {
    rlmpi::Rng rng(5);
    for (const auto& s : shapes) g.push_back(std::make_unique<KernelGemm<T>>(s, rng, isa));
  }
  void run() {
    for (auto& x : g) x->run();
  }
};

struct UpdateTimes {
  double update = 0;      // median seconds of one update (80 + 80 iterations)
  double gemm_only = 0;   // median seconds of the same GEMMs alone (the kernels)
  double ratio = 0;       // median over reps of gemm_only / update (interleaved, same load)
  double pi_share = 0;    // policy part of the update time
};

// A PPO-like update's networks and batch: N random observations, actions sampled from the
// initial policy and their logp, standard-normal advantages, returns ~ N(0, 10^2).
template <class T>
struct UpdateData {
  std::unique_ptr<rlmpi::nn::Policy<T>> pi;
  rlmpi::nn::ValueFunction<T> vf;
  VectorX<T> pp, vp;
  MatrixX<T> obs, act;
  VectorX<T> logp_old, adv, ret;

  UpdateData(const Problem& pb, rlmpi::Rng& rng)
      : pi(rlmpi::nn::make_policy<T>(pb.discrete, pb.obs_dim, pb.act, {64, 64}, rlmpi::nn::Activation::Tanh, pb.isa)),
        vf(pb.obs_dim, {64, 64}, rlmpi::nn::Activation::Tanh, pb.isa),
        pp(pi->num_params()),
        vp(vf.num_params()),
        act(kN, pi->act_dim()),
        logp_old(kN),
        adv(kN),
        ret(kN) {
    pi->init_params(pp, rng);
    vf.init_params(vp, rng);
    obs = random_mat<MatrixX<T>>(kN, pb.obs_dim, rng);
    pi->forward(pp, obs);
    pi->sample(rng, act);
    pi->logp(act, logp_old);
    for (Index i = 0; i < kN; ++i) {
      adv(i) = static_cast<T>(rng.normal());
      ret(i) = static_cast<T>(10 * rng.normal());
    }
  }
};

// The PPO-like update, interleaved rep by rep with the same GEMMs alone (kIters / 8 passes,
// scaled by 8) so that both see the same machine load.
template <class T>
UpdateTimes time_update(const Problem& pb, const std::vector<Shape>& shapes, int reps) {
  using namespace rlmpi::nn;
  rlmpi::Rng rng(1);
  UpdateData<T> d(pb, rng);
  auto& pi = d.pi;
  auto& vf = d.vf;
  VectorX<T>& pp = d.pp;
  VectorX<T>& vp = d.vp;
  const MatrixX<T>& obs = d.obs;
  const MatrixX<T>& act = d.act;
  const VectorX<T>& logp_old = d.logp_old;
  const VectorX<T>& adv = d.adv;
  const VectorX<T>& ret = d.ret;
  VectorX<T> gp(pp.size()), gv(vp.size());
  const VectorX<T> pp0 = pp, vp0 = vp;
  GemmSet<T> gemms(shapes, pb.isa);
  std::vector<double> t_pi, t_v, t_g, ratios;
  for (int r = 0; r < reps + 1; ++r) {  // first one warms up
    pp = pp0;
    vp = vp0;
    Adam<T> opt_pi(pp.size(), 3e-4), opt_v(vp.size(), 1e-3);
    const double t0 = now();
    for (int it = 0; it < kIters; ++it) {
      // PPO-clip weights, clip 0.2 (as ppo_clip_surrogate does), row by row inside the pass (where
      // ppo.cpp also sums the loss and KL statistics).
      auto w_of = [&](Index i0, Index m, const T* lp, T* wr) {
        for (Index k = 0; k < m; ++k) {
          const Index i = i0 + k;
          const T ratio = std::exp(lp[k] - logp_old(i));
          const bool clipped = (adv(i) > 0 && ratio > T(1.2)) || (adv(i) < 0 && ratio < T(0.8));
          wr[k] = clipped ? T(0) : -adv(i) * ratio / static_cast<T>(kN);
        }
      };
      pi->forward_grad_logp(pp, obs, act, w_of, gp);
      opt_pi.step(pp, gp);
    }
    const double t1 = now();
    for (int it = 0; it < kIters; ++it) {
      vf.mse_grad(vp, obs, ret, gv);
      opt_v.step(vp, gv);
    }
    const double t2 = now();
    for (int it = 0; it < kIters / 8; ++it) gemms.run();
    const double t3 = now();
    if (r > 0) {
      t_pi.push_back(t1 - t0);
      t_v.push_back(t2 - t1);
      t_g.push_back(8 * (t3 - t2));
      ratios.push_back(8 * (t3 - t2) / (t2 - t0));
    }
  }
  UpdateTimes u;
  const double tp = median(t_pi), tv = median(t_v);
  u.update = tp + tv;
  u.pi_share = tp / (tp + tv);
  u.gemm_only = median(t_g);
  u.ratio = median(ratios);
  return u;
}

// One pass against two: the policy's forward_grad_logp with the clip weights computed inside
// (as ppo.cpp runs it) against forward, logp, the weights and grad_logp; the value's mse_grad
// against forward then backward over the whole batch; the same networks and data, interleaved per rep, in thread CPU time (time this
// process was not running does not count: the pair's ratio survives a loaded machine).
// Returns the median ratios two-pass / one-pass time and whether the gradients are identical.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct OnePass {
  double policy = 0, value = 0;
  bool same = true;
};

template <class T>
OnePass time_one_pass(const Problem& pb, int reps) {
  using namespace rlmpi::nn;
  rlmpi::Rng rng(5);
  UpdateData<T> d(pb, rng);
  auto& pi = d.pi;
  auto& vf = d.vf;
  const VectorX<T>& pp = d.pp;
  const VectorX<T>& vp = d.vp;
  const VectorX<T>& logp_old = d.logp_old;
  const VectorX<T>& adv = d.adv;
  const VectorX<T>& ret = d.ret;
  const MatrixX<T>& obs = d.obs;
  const MatrixX<T>& act = d.act;
  Mlp<T> vm(vf.mlp().sizes(), Activation::Tanh, vf.mlp().isa());
  VectorX<T> g1(pp.size()), g2(pp.size()), v1(vp.size()), v2(vp.size()), logp(kN), w(kN);
  MatrixX<T> dy(kN, 1);
  auto weight = [&](Index i, T lp) { return -adv(i) * std::exp(lp - logp_old(i)) / static_cast<T>(kN); };
  auto w_of = [&](Index i0, Index m, const T* lp, T* wr) {
    for (Index k = 0; k < m; ++k) wr[k] = weight(i0 + k, lp[k]);
  };
  constexpr int kPasses = 10;
  std::vector<double> rp, rv;
  OnePass out;
  for (int r = 0; r < reps + 1; ++r) {
    double t[4];
    double t0 = thread_seconds();
    for (int k = 0; k < kPasses; ++k) pi->forward_grad_logp(pp, obs, act, w_of, g1);
    t[0] = thread_seconds() - t0;
    t0 = thread_seconds();
    for (int k = 0; k < kPasses; ++k) {
      pi->forward(pp, obs);
      pi->logp(act, logp);
      for (Index i = 0; i < kN; ++i) w(i) = weight(i, logp(i));
      pi->grad_logp(act, w, g2);
    }
    t[1] = thread_seconds() - t0;
    t0 = thread_seconds();
    for (int k = 0; k < kPasses; ++k) vf.mse_grad(vp, obs, ret, v1);
    t[2] = thread_seconds() - t0;
    t0 = thread_seconds();
    for (int k = 0; k < kPasses; ++k) {
      const auto v = vm.forward(vp.data(), obs);
      for (Index i = 0; i < kN; ++i) dy(i, 0) = (v(i, 0) - ret(i)) * (T(2) / static_cast<T>(kN));
      vm.backward(vp.data(), dy, v2.data());
    }
    t[3] = thread_seconds() - t0;
    if (r > 0) {  // the first rep warms up
      rp.push_back(t[1] / t[0]);
      rv.push_back(t[3] / t[2]);
    }
    out.same = out.same && g1 == g2 && v1 == v2;
  }
  out.policy = median(rp);
  out.value = median(rv);
  return out;
}

// Rollout on CartPole-v1: µs per step (all) and of the nn calls alone.
template <class T>
void time_rollout(int reps, rlmpi::nn::Isa isa, double* us_step, double* us_nn) {
  using namespace rlmpi::nn;
  auto env = rlmpi::env::make_env("CartPole-v1");
  const int od = env->obs_dim();
  rlmpi::Rng rng(3);
  auto pi = make_policy<T>(true, od, env->action_space().n, {64, 64}, Activation::Tanh, isa);
  ValueFunction<T> vf(od, {64, 64}, Activation::Tanh, isa);
  VectorX<T> pp(pi->num_params()), vp(vf.num_params());
  pi->init_params(pp, rng);
  vf.init_params(vp, rng);
  MatrixX<T> obs(1, od), act(1, 1), dist(1, pi->dist_dim());
  VectorX<T> logp(1);
  std::vector<double> o(static_cast<std::size_t>(od)), next(static_cast<std::size_t>(od));
  double a = 0, sink = 0;
  env->reset(42, std::span<double>(o));
  const int steps = 4000;
  std::vector<double> t_all, t_nn;
  for (int r = 0; r < reps + 1; ++r) {
    double nn_time = 0;
    const double t0 = now();
    for (int s = 0; s < steps; ++s) {
      const double n0 = now();
      for (int j = 0; j < od; ++j) obs(0, j) = static_cast<T>(o[static_cast<std::size_t>(j)]);
      pi->forward(pp, obs);
      pi->sample(rng, act);
      pi->logp(act, logp);
      pi->dist_params(dist);
      sink += static_cast<double>(vf.forward(vp, obs)(0)) + static_cast<double>(logp(0));
      nn_time += now() - n0;
      a = static_cast<double>(act(0, 0));
      const auto res = env->step(std::span<const double>(&a, 1), std::span<double>(next));
      if (res.terminated || res.truncated) env->reset(std::span<double>(next));
      o.swap(next);
    }
    const double t1 = now();
    if (r > 0) {
      t_all.push_back((t1 - t0) / steps * 1e6);
      t_nn.push_back(nn_time / steps * 1e6);
    }
  }
  volatile double keep = sink;
  (void)keep;
  *us_step = median(t_all);
  *us_nn = median(t_nn);
}

template <class T>
void run_type(const char* type, const std::vector<Problem>& problems, int reps, bool quick, double peak_gflops,
              const char* peak_isa) {
  std::printf("\n=== %s ===\n", type);
  std::vector<GemmResult> cache;
  if (!quick) {
    const GemmResult big = time_gemm<T>(Shape{"square", Op::Fwd, 1024, 1024, 1024}, 5, problems.front().isa);
    std::printf("  square GEMM 1024^3 (Eigen's driver, a reference): %.2f GFLOP/s\n", big.gflops());
  }
  std::printf("  products at the update's shapes, through the kernels the networks use (m x k x n, median per "
              "call):\n");
  struct Row {
    std::string name;
    double gflop, t, achieved, attain, frac, share;
  };
  std::vector<Row> rows;
  for (const auto& pb : problems) {
    std::vector<int> ps{pb.obs_dim, 64, 64, pb.act}, vs{pb.obs_dim, 64, 64, 1};
    auto shapes = mlp_gemms(ps);
    for (const auto& s : mlp_gemms(vs)) shapes.push_back(s);
    attainable<T>(shapes, cache, reps, pb.isa);  // per-shape table
    double flops = 0;
    for (const auto& s : shapes) flops += kIters * s.flops();
    const UpdateTimes u = time_update<T>(pb, shapes, reps);
    rows.push_back({pb.name, flops * 1e-9, u.update, flops / u.update * 1e-9, flops / u.gemm_only * 1e-9,
                    u.ratio, u.pi_share});
  }
  for (const auto& c : cache)
    std::printf("  %-14s %-9s %5ld x %5ld x %5ld  %9.1f us  %7.2f GFLOP/s\n", c.shape.what.c_str(),
                c.shape.kernel(), static_cast<long>(c.shape.m()), static_cast<long>(c.shape.k()),
                static_cast<long>(c.shape.n()), c.seconds * 1e6, c.gflops());
  std::printf("\n  %-26s %8s %8s %8s %8s %9s %8s %9s\n", "update (80 pi + 80 v iters)", "GFLOP", "time s",
              "GFLOP/s", "attain.", "fraction", "pi share", "of peak");
  for (const auto& r : rows)
    std::printf("  %-26s %8.3f %8.4f %8.2f %8.2f %8.1f%% %7.1f%% %8.1f%%\n", r.name.c_str(), r.gflop, r.t,
                r.achieved, r.attain, 100 * r.frac, 100 * r.share, 100 * r.achieved / peak_gflops);
  std::printf("  (attain. = the same products alone through the same kernels, timed interleaved with the update;\n"
              "   fraction = median over reps of attainable time / update time;\n"
              "   of peak = GFLOP/s / this core's measured %s peak, %.1f GFLOP/s in %s)\n",
              peak_isa, peak_gflops, type);
  for (const auto& pb : problems) {
    const OnePass o = time_one_pass<T>(pb, reps);
    std::printf("  %-26s one pass vs forward then backward (thread CPU time, median ratio): policy x%.3f, "
                "value x%.3f; same gradients: %s\n",
                pb.name, o.policy, o.value, o.same ? "yes" : "NO");
  }
  double us = 0, us_nn = 0;
  time_rollout<T>(reps, problems.front().isa, &us, &us_nn);
  std::printf("\n  rollout CartPole-v1, batch 1: %.3f us/step (nn calls %.3f us, env+rest %.3f us)\n", us,
              us_nn, us - us_nn);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  bool quick = false;
  rlmpi::nn::Isa isa = rlmpi::nn::best_isa();
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(5, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else if (!std::strcmp(argv[i], "--isa") && i + 1 < argc) {
      try {
        const std::string name = argv[++i];
        isa = name == "auto" ? rlmpi::nn::best_isa() : rlmpi::nn::parse_isa(name);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_roofline: %s\n", e.what());
        return 2;
      }
      if (!rlmpi::nn::cpu_supports(isa)) {
        std::fprintf(stderr, "bench_roofline: this CPU cannot run --isa %s\n", rlmpi::nn::to_string(isa).c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "usage: bench_roofline [--reps R>=5] [--quick] [--isa auto|sse2|avx2|avx512]\n");
      return 2;
    }
  }
  std::printf("bench_roofline: N = %ld rows, 64x64 tanh nets, %d+%d iterations, median of %d reps\n",
              static_cast<long>(kN), kIters, kIters, reps);
  std::printf("kernels: %s (--isa; this program's own code: %s); 1 thread. GFLOP counts GEMM FLOPs "
              "only (2 m n k).\n",
              rlmpi::nn::to_string(isa).c_str(), Eigen::SimdInstructionSetsInUse());
  const std::vector<Problem> problems{{"CartPole (4->64->64->2)", true, 4, 2, isa},
                                      {"Hopper (11->64->64->3)", false, 11, 3, isa}};
  // The core's peak, measured (tools/bench/peak_fma.hpp); fractions are of the peak of --isa's set.
  const auto peaks = peak::measure();
  std::printf("peak (12 independent chains, median of 5):");
  const peak::Peak* best = &peaks.front();
  for (const auto& p : peaks) {
    if (!p.available) {
      std::printf("  %s: not on this CPU;", p.isa);
      continue;
    }
    std::printf("  %s %.1f float / %.1f double GFLOP/s;", p.isa, p.float_gflops, p.double_gflops);
    if (rlmpi::nn::to_string(isa) == p.isa) best = &p;  // fractions are of the peak of the ISA run
  }
  std::printf("\n");
  run_type<double>("double", problems, reps, quick, best->double_gflops, best->isa);
  run_type<float>("float", problems, reps, quick, best->float_gflops, best->isa);
  return 0;
}
