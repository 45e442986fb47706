#pragma once
// Exception-safe resizing of dynamic Eigen vectors and matrices.
//
// Eigen 3.4's DenseStorage::resize (used by resize() and by assignments that change the size)
// frees the old block first and then allocates the new one. When that allocation throws
// std::bad_alloc, the object keeps the freed pointer and its old size, and its destructor, run
// by the unwinding, frees the block a second time ("double free or corruption", or heap
// corruption when the memory was reused in between). safe_resize releases the old block through
// a swap with an empty object, so a failed allocation leaves an empty, valid object behind.
// Contents are not kept (as with resize()). Same size: no-op, no allocation.
#include <Eigen/Core>

#include "rlmpi/core/types.hpp"

namespace rlmpi {

template <class Derived>
void safe_resize(Eigen::PlainObjectBase<Derived>& m, Index rows, Index cols) {
  if (m.rows() == rows && m.cols() == cols) return;
  if (m.size() != rows * cols) static_cast<Derived&>(m) = Derived();  // move: frees, never throws
  m.resize(rows, cols);
}

// Vectors.
template <class Derived>
void safe_resize(Eigen::PlainObjectBase<Derived>& v, Index size) {
  if (v.size() == size) return;
  static_cast<Derived&>(v) = Derived();
  v.resize(size);
}

// Grows v to at least `size` entries (workspaces that keep their largest size).
template <class Derived>
void safe_grow(Eigen::PlainObjectBase<Derived>& v, Index size) {
  if (v.size() < size) safe_resize(v, size);
}

}  // namespace rlmpi
