#include "rlmpi/nn/isa.hpp"

#include <stdexcept>

#include "rlmpi/core/error.hpp"
#include "rlmpi/nn/gemm.hpp"

// One table per instruction set, each from its own copy of src/nn/kernels/kernels.cpp.
extern "C" const rlmpi::nn::detail::KernelTable* rlmpi_nn_kernels_sse2();
#if defined(__x86_64__)
extern "C" const rlmpi::nn::detail::KernelTable* rlmpi_nn_kernels_avx2();
extern "C" const rlmpi::nn::detail::KernelTable* rlmpi_nn_kernels_avx512();
#endif

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

std::string to_string(Isa isa) {
  switch (isa) {
    case Isa::Sse2: return "sse2";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::Sse2, Isa::Avx2, Isa::Avx512})
    if (name == to_string(isa)) return isa;
  throw UsageError("unknown instruction set '" + name + "' (allowed: auto, sse2, avx2, avx512)");
}

bool cpu_supports(Isa isa) {
#if defined(__x86_64__)
  // The x86-64 micro-architecture levels the kernels are compiled for (GCC checks that the
  // operating system saves the vector registers, XGETBV, as well as the CPUID bits).
  switch (isa) {
    case Isa::Sse2: return true;
    case Isa::Avx2: return __builtin_cpu_supports("x86-64-v3");
    case Isa::Avx512: return __builtin_cpu_supports("x86-64-v4");
  }
  return false;
#else
  return isa == Isa::Sse2;  // elsewhere the one table is the compiler's default target
#endif
}

Isa best_isa() {
  for (Isa isa : {Isa::Avx512, Isa::Avx2})
    if (cpu_supports(isa)) return isa;
  return Isa::Sse2;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Sse2, Isa::Avx2, Isa::Avx512})
    if (cpu_supports(isa)) out.push_back(isa);
  return out;
}

namespace detail {

const KernelTable& kernel_table(Isa isa) {
  if (!cpu_supports(isa))
    throw std::invalid_argument("nn: this CPU cannot run the " + to_string(isa) + " kernels");
  switch (isa) {
#if defined(__x86_64__)
    case Isa::Avx512: return *rlmpi_nn_kernels_avx512();
    case Isa::Avx2: return *rlmpi_nn_kernels_avx2();
#else
    case Isa::Avx512:
    case Isa::Avx2:
#endif
    case Isa::Sse2: break;
  }
  return *rlmpi_nn_kernels_sse2();
}

}  // namespace detail
}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
