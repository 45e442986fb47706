#include "rlmpi/nn/cg.hpp"

#include <stdexcept>

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
CgResult<T> conjugate_gradient(const LinearOperator<T>& fvp, const VectorX<T>& b, int iters,
                               T residual_tol) {
  if (iters < 0) throw std::invalid_argument("conjugate_gradient: iters must be >= 0");
  CgResult<T> res;
  res.x.setZero(b.size());
  VectorX<T> r = b, p = b, z(b.size());
  T rr = r.dot(r);
  for (int i = 0; i < iters; ++i) {
    if (rr == T(0) || rr < residual_tol) break;
    fvp(p, z);
    const T alpha = rr / (p.dot(z) + T(1e-8));
    res.x += alpha * p;
    r -= alpha * z;
    const T rr_new = r.dot(r);
    p = r + (rr_new / rr) * p;
    rr = rr_new;
    res.iters = i + 1;
  }
  return res;
}

template CgResult<double> conjugate_gradient<double>(const LinearOperator<double>&,
                                                     const VectorX<double>&, int, double);
template CgResult<float> conjugate_gradient<float>(const LinearOperator<float>&,
                                                   const VectorX<float>&, int, float);

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
