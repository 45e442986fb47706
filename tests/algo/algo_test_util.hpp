#pragma once
// Set-up shared by the algorithm reference tests (tests/algo/test_{vpg,trpo,ppo,value_fit}.cpp):
// a one-rank communicator, a tiny actor-critic, a hand-filled rollout buffer, and the
// independent pieces the references are built from (central differences, torch's Adam step).
//
// The algorithms average every gradient across ranks; on MPI_COMM_SELF that average is the
// plain value, so the references need no MPI. test_algo's main (doctest_main.cpp) does not
// start MPI, so the first self_comm() does (singleton MPI_Init) and the Session's static
// destructor finalises it at exit: only the tests that need MPI pay for it.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/algo/buffer.hpp"
#include "rlmpi/core/config.hpp"
#include "rlmpi/core/rng.hpp"
#include "rlmpi/mpi/comm.hpp"

namespace algo_test {

using namespace rlmpi;
using algo::ActorCritic;
using algo::RolloutBuffer;
using Vec = VectorX<double>;
using Mat = MatrixX<double>;

inline mpi::Comm self_comm() {
  static int argc = 0;
  static char** argv = nullptr;
  static mpi::Session session(argc, argv);
  return mpi::Comm(MPI_COMM_SELF);
}

// Small everything; Adam's eps large enough that one step depends on the gradient's size, not
// only on its sign (step = -lr g / (|g| + eps) on the first step), so a step checks the gradient.
inline Config tiny_config(const std::string& algo, std::uint64_t seed) {
  Config c;
  c.algo = algo;
  c.seed = seed;
  c.hid = {5};
  c.activation = "tanh";
  c.precision = "double";
  c.adam_eps = 0.3;
  c.pi_lr = 0.05;
  c.vf_lr = 0.04;
  c.train_pi_iters = 1;
  c.train_v_iters = 1;
  c.target_kl = 1e9;  // no early stop unless a test wants one
  return c;
}

constexpr int kObsDim = 3;

// A tiny actor-critic (Categorical over 3 actions, or a 2-d Gaussian) and a buffer of n rows:
// observations ~ N(0, 1); actions, logp_old and dist_old from the policy at parameters
// perturbed by `perturb` * N(0, 1) (so ratios differ from 1 and some are clipped);
// adv ~ N(0, 1), ret ~ N(0, 1), val = ret + N(0, 0.5).
struct Case {
  ActorCritic<double> ac;
  RolloutBuffer<double> buf;
  Vec pi0, v0;  // the parameters before the update
};

inline Case make_case(const Config& cfg, bool discrete, Index n, double perturb, std::uint64_t seed) {
  const int nact = discrete ? 3 : 2;
  ActorCritic<double> ac = algo::make_actor_critic<double>(cfg, kObsDim, discrete, nact, self_comm());
  RolloutBuffer<double> buf(n, 1, kObsDim, ac.pi->act_dim(), ac.pi->dist_dim(), cfg.gamma, cfg.lam);
  Rng rng(seed * 7919 + 17);
  for (Index i = 0; i < n; ++i)
    for (int j = 0; j < kObsDim; ++j) buf.obs(i, j) = rng.normal();
  Vec old = ac.pi_params;
  for (Index k = 0; k < old.size(); ++k) old[k] += perturb * rng.normal();
  ac.pi->forward(old, buf.obs);
  ac.pi->sample(rng, buf.act);
  ac.pi->logp(buf.act, buf.logp);
  ac.pi->dist_params(buf.dist);
  for (Index i = 0; i < n; ++i) {
    buf.adv[i] = rng.normal();
    buf.ret[i] = rng.normal();
    buf.val[i] = buf.ret[i] + 0.5 * rng.normal();
    buf.rew[i] = 0;
  }
  Vec pi0 = ac.pi_params, v0 = ac.v_params;
  return {std::move(ac), std::move(buf), std::move(pi0), std::move(v0)};
}

// Central differences of f at x, h = 1e-6.
inline Vec fd_grad(const std::function<double(const Vec&)>& f, const Vec& x, double h = 1e-6) {
  Vec g(x.size());
  Vec y = x;
  for (Index k = 0; k < x.size(); ++k) {
    y[k] = x[k] + h;
    const double up = f(y);
    y[k] = x[k] - h;
    const double down = f(y);
    y[k] = x[k];
    g[k] = (up - down) / (2 * h);
  }
  return g;
}

// torch.optim.Adam written out (bias-corrected moments, eps outside the square root).
struct RefAdam {
  Vec m, v;
  int t = 0;
  double lr, eps, b1 = 0.9, b2 = 0.999;
  RefAdam(Index n, double lr_, double eps_) : m(Vec::Zero(n)), v(Vec::Zero(n)), lr(lr_), eps(eps_) {}
  void step(Vec& p, const Vec& g) {
    ++t;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g.cwiseProduct(g);
    const Vec mhat = m / (1 - std::pow(b1, t));
    const Vec vhat = v / (1 - std::pow(b2, t));
    p.array() -= lr * mhat.array() / (vhat.array().sqrt() + eps);
  }
};

// The gradient that a first Adam step from zero moments applied: delta = -lr g / (|g| + eps).
inline Vec grad_of_first_adam_step(const Vec& delta, double lr, double eps) {
  Vec g(delta.size());
  for (Index k = 0; k < delta.size(); ++k) {
    const double d = -delta[k] / lr;
    g[k] = eps * d / (1 - std::abs(d));
  }
  return g;
}

// Gradient-norm clipping as documented: g * max / (|g| + 1e-6) when |g| > max.
inline Vec clipped(const Vec& g, double max_norm) {
  if (max_norm <= 0 || g.norm() <= max_norm) return g;
  return g * (max_norm / (g.norm() + 1e-6));
}

inline double max_abs_diff(const Vec& a, const Vec& b) { return (a - b).cwiseAbs().maxCoeff(); }

// Per-sample policy quantities at parameters p on rows obs / act.
inline Vec logp_at(nn::Policy<double>& pi, const Vec& p, const Mat& obs, const Mat& act) {
  Vec out(obs.rows());
  pi.forward(p, obs);
  pi.logp(act, out);
  return out;
}
inline Vec entropy_at(nn::Policy<double>& pi, const Vec& p, const Mat& obs) {
  Vec out(obs.rows());
  pi.forward(p, obs);
  pi.entropy(out);
  return out;
}
inline Vec kl_at(nn::Policy<double>& pi, const Vec& p, const Mat& obs, const Mat& dist_old) {
  Vec out(obs.rows());
  pi.forward(p, obs);
  pi.kl(dist_old, out);
  return out;
}

}  // namespace algo_test
