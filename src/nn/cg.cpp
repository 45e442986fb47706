#include "rlmpi/nn/cg.hpp"

#include <utility>

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

template <class T>
CgResult<T> conjugate_gradient(const LinearOperator<T>& fvp, const VectorX<T>& b, int iters,
                               T residual_tol) {
  CgWork<T> work;
  CgResult<T> res;
  res.iters = conjugate_gradient<T>(fvp, b, iters, work, residual_tol);
  res.x = std::move(work.x);
  return res;
}

template CgResult<double> conjugate_gradient<double>(const LinearOperator<double>&,
                                                     const VectorX<double>&, int, double);
template CgResult<float> conjugate_gradient<float>(const LinearOperator<float>&,
                                                   const VectorX<float>&, int, float);

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
