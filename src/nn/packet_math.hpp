#pragma once
// exp and log over arrays with Eigen's packet functions (internal to src/nn). Every element goes
// through the packet formula -- unaligned loads, the last partial packet padded -- so a result
// depends only on its argument, never on its position or on the array's alignment (Eigen's own
// assignment peels to alignment and computes those elements with the scalar std::exp, which
// differs in the last bit, and a short row such as a 2-action softmax gets no packets at all).
#include <Eigen/Core>

#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {  // built once per nn ABI, like the code that includes it
namespace detail {

template <class T, class Op>
void packet_apply(const T* in, T* out, Index count, Op op) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr Index W = ei::packet_traits<T>::size;
  Index i = 0;
  for (; i + W <= count; i += W) ei::pstoreu(out + i, op(ei::ploadu<P>(in + i)));
  if (i < count) {
    alignas(64) T tail[W];
    for (Index k = 0; k < W; ++k) tail[k] = i + k < count ? in[i + k] : T(1);  // padding: finite
    ei::pstore(tail, op(ei::pload<P>(tail)));
    for (Index k = i; k < count; ++k) out[k] = tail[k - i];
  }
}

// out[i] = exp(in[i]) (in == out allowed).
template <class T>
void exp_array(const T* in, T* out, Index count) {
  using P = typename Eigen::internal::packet_traits<T>::type;
  packet_apply(in, out, count, [](const P& x) { return Eigen::internal::pexp(x); });
}

// out[i] = log(in[i]) (in == out allowed).
template <class T>
void log_array(const T* in, T* out, Index count) {
  using P = typename Eigen::internal::packet_traits<T>::type;
  packet_apply(in, out, count, [](const P& x) { return Eigen::internal::plog(x); });
}

}  // namespace detail
}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
