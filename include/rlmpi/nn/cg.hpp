#pragma once
// Conjugate gradient for F x = b with F symmetric positive definite, given only products F p
// (TRPO: Fisher-vector products, allreduced across ranks inside the callback).
//
// Spinning Up's iteration exactly: x = 0, r = b, p = r, rr = r.r; each iteration
//   z = F p; alpha = rr / (p.z + 1e-8); x += alpha p; r -= alpha z;
//   rr_new = r.r; p = r + (rr_new / rr) p; rr = rr_new
// for `iters` iterations. Optional early exit before an iteration when rr < residual_tol
// (default 0 = never, Spinning Up's behaviour), and always when rr == 0 (x is exact; Spinning
// Up would go on and divide 0 by 0).
#include <Eigen/Core>
#include <functional>
#include <stdexcept>
#include <utility>

#include "rlmpi/core/safe_resize.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
struct CgResult {
  VectorX<T> x;
  int iters = 0;  // iterations done (= products computed)
};

// The vectors of one solve, owned by the caller: once they have b's size, a solve allocates
// nothing (TRPO's update runs it every epoch).
template <class T>
struct CgWork {
  VectorX<T> x, r, p, z;  // x: the solution
};

// fvp(p, z) writes F p into z (already sized). Returns the iterations done; the solution is in
// work.x.
template <class T, class Fvp>
int conjugate_gradient(Fvp&& fvp, const VectorX<T>& b, int iters, CgWork<T>& w, T residual_tol = T(0)) {
  if (iters < 0) throw std::invalid_argument("conjugate_gradient: iters must be >= 0");
  safe_resize(w.x, b.size());
  safe_resize(w.r, b.size());
  safe_resize(w.p, b.size());
  safe_resize(w.z, b.size());
  w.x.setZero();
  w.r = b;
  w.p = b;
  T rr = w.r.dot(w.r);
  int done = 0;
  for (int i = 0; i < iters; ++i) {
    if (rr == T(0) || rr < residual_tol) break;
    fvp(std::as_const(w.p), w.z);
    const T alpha = rr / (w.p.dot(w.z) + T(1e-8));
    w.x += alpha * w.p;
    w.r -= alpha * w.z;
    const T rr_new = w.r.dot(w.r);
    w.p = w.r + (rr_new / rr) * w.p;
    rr = rr_new;
    done = i + 1;
  }
  return done;
}

template <class T>
using LinearOperator = std::function<void(const VectorX<T>& p, VectorX<T>& fp)>;

// The same iteration with its own vectors (allocates).
template <class T>
CgResult<T> conjugate_gradient(const LinearOperator<T>& fvp, const VectorX<T>& b, int iters,
                               T residual_tol = T(0));

extern template CgResult<double> conjugate_gradient<double>(const LinearOperator<double>&,
                                                            const VectorX<double>&, int, double);
extern template CgResult<float> conjugate_gradient<float>(const LinearOperator<float>&,
                                                          const VectorX<float>&, int, float);

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
