#pragma once
// A workspace array aligned to 64 bytes (a cache line; an AVX-512 vector). Eigen's own vectors
// are aligned only to what the code including Eigen was compiled for (16 bytes for baseline
// x86-64), and large blocks from malloc start 16 bytes into a page: rows of 64 floats then start
// 16 bytes into a cache line, and every other 32-byte load of the AVX2 kernels straddles two
// lines. Contents are not kept by resize; copies copy the contents (a copied network keeps its
// cached batch). A failed allocation throws std::bad_alloc and leaves the buffer empty.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {
namespace detail {

template <class T>
class AlignedBuffer {
 public:
  static constexpr std::size_t kAlign = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(Index n) { resize(n); }
  AlignedBuffer(const AlignedBuffer& o) {
    resize(o.size_);
    std::copy(o.data(), o.data() + o.size_, data());
  }
  AlignedBuffer& operator=(const AlignedBuffer& o) {
    if (this != &o) {
      resize(o.size_);
      std::copy(o.data(), o.data() + o.size_, data());
    }
    return *this;
  }
  AlignedBuffer(AlignedBuffer&&) noexcept = default;
  AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;

  // Exactly n entries (not kept); same size: no-op, no allocation.
  void resize(Index n) {
    if (n == size_) return;
    p_.reset();
    size_ = 0;
    if (n == 0) return;
    const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, bytes);
    if (p == nullptr) throw std::bad_alloc();
    p_.reset(static_cast<T*>(p));
    size_ = n;
  }
  void set_zero() { std::fill(data(), data() + size_, T(0)); }

  T* data() { return p_.get(); }
  const T* data() const { return p_.get(); }
  Index size() const { return size_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> p_;
  Index size_ = 0;
};

}  // namespace detail
}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
