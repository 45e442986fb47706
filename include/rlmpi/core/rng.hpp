#pragma once
// Portable random numbers: the same seed gives the same stream with every compiler and
// standard library (std:: distributions do not).
//
// Generator: xoshiro256** (Blackman & Vigna, 2018), seeded by expanding a 64-bit seed with
// SplitMix64. Derived draws:
//   uniform()        53 high bits of next_u64() scaled to [0, 1)
//   uniform(lo, hi)  lo + (hi - lo) * uniform()
//   uniform_int(n)   Lemire's unbiased multiply-shift rejection method, in [0, n)
//   normal()         Box-Muller with glibc log/sqrt/cos/sin, one fresh pair per call (the second
//                    value is discarded so the state is only the four words)
// The full state is four 64-bit words (`state()` / `set_state()`), which checkpoints save.
#include <array>
#include <cstdint>

namespace rlmpi {

class Rng {
 public:
  using State = std::array<std::uint64_t, 4>;

  explicit Rng(std::uint64_t seed = 0) { seed_with(seed); }

  void seed_with(std::uint64_t seed);
  std::uint64_t next_u64();
  double uniform();
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  std::uint64_t uniform_int(std::uint64_t n);
  double normal();
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  const State& state() const { return s_; }
  void set_state(const State& s);

  // Spinning Up's per-rank seed rule: rank r uses seed + 10000 * r.
  static std::uint64_t rank_seed(std::uint64_t seed, int rank) {
    return seed + 10000ULL * static_cast<std::uint64_t>(rank);
  }

 private:
  State s_{};
};

}  // namespace rlmpi
