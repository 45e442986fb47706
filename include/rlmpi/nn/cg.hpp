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

#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
struct CgResult {
  VectorX<T> x;
  int iters = 0;  // iterations done (= products computed)
};

template <class T>
using LinearOperator = std::function<void(const VectorX<T>& p, VectorX<T>& fp)>;

template <class T>
CgResult<T> conjugate_gradient(const LinearOperator<T>& fvp, const VectorX<T>& b, int iters,
                               T residual_tol = T(0));

extern template CgResult<double> conjugate_gradient<double>(const LinearOperator<double>&,
                                                            const VectorX<double>&, int, double);
extern template CgResult<float> conjugate_gradient<float>(const LinearOperator<float>&,
                                                          const VectorX<float>&, int, float);

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
