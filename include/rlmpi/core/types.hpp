#pragma once
// Numeric types used throughout rlmpi.
//
// `Scalar` is the default floating type of networks and algorithm buffers. The nn and algo
// layers are templated on their scalar (double and float instantiated, chosen at run time with
// --precision); environments always step in double.
#include <Eigen/Core>
#include <cstdint>

namespace rlmpi {

using Scalar = double;

using Index = Eigen::Index;

template <class T>
using VectorX = Eigen::Matrix<T, Eigen::Dynamic, 1>;
// Row-major so that one sample is one contiguous row (N x dim batches).
template <class T>
using MatrixX = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using Vector = VectorX<Scalar>;
using Matrix = MatrixX<Scalar>;

}  // namespace rlmpi
