#pragma once
// Instruction sets of the nn kernels. The GEMM and activation kernels are compiled once per
// x86-64 level (baseline SSE2, x86-64-v3 = AVX2 + FMA, x86-64-v4 = AVX-512) into the same library
// and one is chosen at run time, so the default build runs at the speed of the CPU it runs on.
// Results differ between instruction sets by rounding (FMA, vector width), never within one.
#include <string>
#include <vector>

#include "rlmpi/nn/abi.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

// Ordered: a CPU that runs one runs every smaller one.
enum class Isa { Sse2 = 0, Avx2 = 1, Avx512 = 2 };

// "sse2", "avx2", "avx512".
std::string to_string(Isa isa);
// "sse2", "avx2" or "avx512"; anything else throws rlmpi::UsageError naming the value and the
// choices (the caller handles "auto").
Isa parse_isa(const std::string& name);
// Whether this CPU (and its operating system) runs the kernels of `isa`.
bool cpu_supports(Isa isa);
// The fastest instruction set this CPU runs.
Isa best_isa();
// Every instruction set this CPU runs, slowest first.
std::vector<Isa> supported_isas();

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
