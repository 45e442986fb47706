#pragma once
// Numeric types used throughout rlmpi.
//
// `Scalar` is the default floating type of networks and algorithm buffers (double unless the
// library is configured with -DRLMPI_SCALAR_FLOAT=ON). The nn layer is templated on its scalar
// so a float network can be chosen at run time later; environments always step in double.
#include <Eigen/Core>
#include <cstdint>

namespace rlmpi {

#ifdef RLMPI_SCALAR_FLOAT
using Scalar = float;
#else
using Scalar = double;
#endif

using Index = Eigen::Index;

template <class T>
using VectorX = Eigen::Matrix<T, Eigen::Dynamic, 1>;
// Row-major so that one sample is one contiguous row (N x dim batches).
template <class T>
using MatrixX = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using Vector = VectorX<Scalar>;
using Matrix = MatrixX<Scalar>;

}  // namespace rlmpi
