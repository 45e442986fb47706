#pragma once
// Helpers shared by the nn tests: random batches and central finite differences.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <functional>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/core/types.hpp"

namespace rlmpi::nn::test {

inline MatrixX<double> random_matrix(Index rows, Index cols, Rng& rng, double scale = 1.0) {
  MatrixX<double> m(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) m(i, j) = scale * rng.normal();
  return m;
}

inline VectorX<double> random_vector(Index n, Rng& rng, double scale = 1.0) {
  VectorX<double> v(n);
  for (Index i = 0; i < n; ++i) v(i) = scale * rng.normal();
  return v;
}

// Central differences of a scalar function: step h, error O(h^2).
inline VectorX<double> fd_gradient(const std::function<double(const VectorX<double>&)>& f,
                                   VectorX<double> x, double h = 1e-5) {
  VectorX<double> g(x.size());
  for (Index i = 0; i < x.size(); ++i) {
    const double xi = x(i);
    x(i) = xi + h;
    const double fp = f(x);
    x(i) = xi - h;
    const double fm = f(x);
    x(i) = xi;
    g(i) = (fp - fm) / (2 * h);
  }
  return g;
}

// ||a - b|| / max(||a||, ||b||), 0 if both vanish.
template <class A, class B>
double rel_error(const A& a, const B& b) {
  const double scale = std::max(a.norm(), b.norm());
  return scale == 0 ? 0.0 : (a - b).norm() / scale;
}

}  // namespace rlmpi::nn::test
