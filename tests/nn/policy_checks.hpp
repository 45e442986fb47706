#pragma once
// Finite-difference checks shared by the Categorical and DiagGaussian tests (Policy<double>).
#include <doctest/doctest.h>

#include "nn_test_util.hpp"
#include "rlmpi/nn/policy.hpp"

namespace rlmpi::nn::test {

// d/dparams sum_i w_i logp_i
inline void check_grad_logp(Policy<double>& pi, const VectorX<double>& p, const MatrixX<double>& obs,
                            const MatrixX<double>& act, const VectorX<double>& w) {
  const Index n = obs.rows();
  pi.forward(p, obs);
  VectorX<double> g = VectorX<double>::Constant(p.size(), 7.0);
  pi.grad_logp(act, w, g);
  auto f = [&](const VectorX<double>& q) {
    pi.forward(q, obs);
    VectorX<double> lp(n);
    pi.logp(act, lp);
    return w.dot(lp);
  };
  CHECK(rel_error(g, fd_gradient(f, p)) < 1e-6);
}

inline void check_grad_entropy(Policy<double>& pi, const VectorX<double>& p,
                               const MatrixX<double>& obs, const VectorX<double>& w) {
  const Index n = obs.rows();
  pi.forward(p, obs);
  VectorX<double> g = VectorX<double>::Constant(p.size(), 7.0);
  pi.grad_entropy(w, g);
  auto f = [&](const VectorX<double>& q) {
    pi.forward(q, obs);
    VectorX<double> h(n);
    pi.entropy(h);
    return w.dot(h);
  };
  CHECK(rel_error(g, fd_gradient(f, p)) < 1e-6);
}

// KL(old || current) with old from other parameters, so the gradient is not zero.
inline void check_grad_kl(Policy<double>& pi, const VectorX<double>& p, const VectorX<double>& p_old,
                          const MatrixX<double>& obs) {
  const Index n = obs.rows();
  MatrixX<double> old(n, pi.dist_dim());
  pi.forward(p_old, obs);
  pi.dist_params(old);
  pi.forward(p, obs);
  VectorX<double> g = VectorX<double>::Constant(p.size(), 7.0);
  pi.grad_kl(old, g);
  CHECK(g.norm() > 1e-3);
  auto f = [&](const VectorX<double>& q) {
    pi.forward(q, obs);
    VectorX<double> kl(n);
    pi.kl(old, kl);
    return kl.mean();
  };
  CHECK(rel_error(g, fd_gradient(f, p)) < 1e-6);
}

// fvp at old == current against central differences of grad_kl (the Hessian of the mean KL).
inline void check_fvp(Policy<double>& pi, const VectorX<double>& p, const MatrixX<double>& obs,
                      const VectorX<double>& v) {
  const Index n = obs.rows();
  MatrixX<double> old(n, pi.dist_dim());
  pi.forward(p, obs);
  pi.dist_params(old);
  VectorX<double> kl(n);
  pi.kl(old, kl);
  CHECK(kl.cwiseAbs().maxCoeff() < 1e-12);  // KL(p || p) = 0

  const double h = 1e-5;
  VectorX<double> gp(p.size()), gm(p.size());
  const VectorX<double> pp = p + h * v, pm = p - h * v;
  pi.forward(pp, obs);
  pi.grad_kl(old, gp);
  pi.forward(pm, obs);
  pi.grad_kl(old, gm);
  const VectorX<double> hv_fd = (gp - gm) / (2 * h);

  pi.forward(p, obs);
  VectorX<double> fv(p.size()), fv_damped(p.size());
  pi.fvp(v, 0.0, fv);
  CHECK(rel_error(fv, hv_fd) < 1e-6);
  pi.fvp(v, 0.1, fv_damped);
  CHECK(rel_error(fv_damped, fv + 0.1 * v) < 1e-14);
  // Fisher is positive semi-definite.
  CHECK(v.dot(fv) >= 0.0);
}

}  // namespace rlmpi::nn::test
