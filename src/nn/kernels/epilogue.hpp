#pragma once
// What the fused kernels (dense.hpp, skinny.hpp) do to a packet of results before storing it
// (detail::Epilogue): nothing, the activation, or a multiplication by the activation's
// derivative expressed through its output h (loaded from h). The same packet formulas as the
// separate passes (tanh_inplace), so fusing changes where, not what, is computed.
#include <Eigen/Core>

#include "rlmpi/nn/gemm.hpp"
#include "tanh.hpp"

namespace rlmpi::nn::kernels::epilogue {
namespace ei = Eigen::internal;
using detail::Epilogue;
// The vector type of this instruction set for T, and its width (kernels.cpp is built once per set).
template <class T>
using Packet = typename ei::packet_traits<T>::type;
template <class T>
inline constexpr Index kWidth = ei::packet_traits<T>::size;

template <class T, Epilogue E, class P>
P finish(const P& v, const T* h) {
  if constexpr (E == Epilogue::Tanh) {
    return tanh_packet<T>(v);
  } else if constexpr (E == Epilogue::Relu) {
    return ei::pmax(v, ei::pset1<P>(T(0)));
  } else if constexpr (E == Epilogue::TanhGrad) {
    const P hv = ei::ploadu<P>(h);
    return ei::pmul(v, ei::psub(ei::pset1<P>(T(1)), ei::pmul(hv, hv)));
  } else if constexpr (E == Epilogue::ReluGrad) {
    const P zero = ei::pset1<P>(T(0));
    return ei::pselect(ei::pcmp_lt(zero, ei::ploadu<P>(h)), v, zero);
  } else {
    (void)h;
    return v;
  }
}

// One scalar through the packet formula (padded), for the columns that do not fill a packet.
template <class T, Epilogue E>
T finish_scalar(T v, T h) {
  using P = Packet<T>;
  constexpr Index W = kWidth<T>;
  alignas(64) T vin[W] = {}, hin[W] = {}, res[W];
  vin[0] = v;
  hin[0] = h;
  ei::pstore(res, finish<T, E>(ei::pload<P>(vin), hin));
  return res[0];
}

}  // namespace rlmpi::nn::kernels::epilogue
