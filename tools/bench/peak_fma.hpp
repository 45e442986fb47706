#pragma once
// The core's peak floating-point rate, measured: 12 independent FMA chains per vector register
// width (enough to cover the FMA latency x throughput of current x86 cores: 4 cycles x 2 ports
// = 8 in flight, 12 leaves headroom), float and double, for each ISA this CPU runs:
//   sse2    no FMA: one multiply and one add per lane (x86-64 baseline, what a generic build uses)
//   avx2    256-bit FMA (x86-64-v3)
//   avx512  512-bit FMA (x86-64-v4)
// FLOPs = 2 x lanes x chains x iterations (an FMA counts 2). Single thread. The kernels carry
// their own target attributes, so this works in a generic build; ISAs the CPU lacks report 0.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace peak {

inline double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr int kChains = 12;

// Each kernel returns a value derived from every chain so the compiler keeps them all.
__attribute__((target("sse2"))) inline float sse2_f(long iters) {
  __m128 acc[kChains], m = _mm_set1_ps(0.999999f), a = _mm_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm_set1_ps(1.0f + 0.01f * static_cast<float>(c));
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm_add_ps(_mm_mul_ps(acc[c], m), a);
  __m128 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm_add_ps(s, acc[c]);
  return _mm_cvtss_f32(s);
}
__attribute__((target("sse2"))) inline double sse2_d(long iters) {
  __m128d acc[kChains], m = _mm_set1_pd(0.999999), a = _mm_set1_pd(1e-7);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm_set1_pd(1.0 + 0.01 * c);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm_add_pd(_mm_mul_pd(acc[c], m), a);
  __m128d s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm_add_pd(s, acc[c]);
  return _mm_cvtsd_f64(s);
}
__attribute__((target("avx2,fma"))) inline float avx2_f(long iters) {
  __m256 acc[kChains], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(c));
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  __m256 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c]);
  return _mm256_cvtss_f32(s);
}
__attribute__((target("avx2,fma"))) inline double avx2_d(long iters) {
  __m256d acc[kChains], m = _mm256_set1_pd(0.999999), a = _mm256_set1_pd(1e-7);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_pd(1.0 + 0.01 * c);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_pd(acc[c], m, a);
  __m256d s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_pd(s, acc[c]);
  return _mm256_cvtsd_f64(s);
}
__attribute__((target("avx512f"))) inline float avx512_f(long iters) {
  __m512 acc[kChains], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(1.0f + 0.01f * static_cast<float>(c));
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  alignas(64) float lanes[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it (-Wuninitialized)
  _mm512_store_ps(lanes, s);
  return lanes[0] + lanes[15];
}
__attribute__((target("avx512f"))) inline double avx512_d(long iters) {
  __m512d acc[kChains], m = _mm512_set1_pd(0.999999), a = _mm512_set1_pd(1e-7);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_pd(1.0 + 0.01 * c);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_pd(acc[c], m, a);
  __m512d s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_pd(s, acc[c]);
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, s);
  return lanes[0] + lanes[7];
}

struct Peak {
  const char* isa;
  bool available;
  double float_gflops, double_gflops;
};

// Median of `reps` timings of `iters` iterations; GFLOP/s = flops per iteration x iters / time.
template <class F>
double rate(F kernel, double flops_per_iter, long iters, int reps) {
  std::vector<double> r;
  volatile double sink = 0;
  for (int i = 0; i < reps; ++i) {
    const double t0 = seconds_now();
    sink = sink + static_cast<double>(kernel(iters));
    r.push_back(flops_per_iter * static_cast<double>(iters) / (seconds_now() - t0) * 1e-9);
  }
  std::sort(r.begin(), r.end());
  return r[r.size() / 2];
}

inline std::vector<Peak> measure(int reps = 5, long iters = 20'000'000) {
  __builtin_cpu_init();
  std::vector<Peak> out;
  // sse2: a multiply and an add per lane per chain step (2 flops per lane).
  out.push_back({"sse2", true, rate(sse2_f, 2.0 * 4 * kChains, iters, reps), rate(sse2_d, 2.0 * 2 * kChains, iters, reps)});
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  out.push_back({"avx2", avx2, avx2 ? rate(avx2_f, 2.0 * 8 * kChains, iters, reps) : 0,
                 avx2 ? rate(avx2_d, 2.0 * 4 * kChains, iters, reps) : 0});
  const bool avx512 = __builtin_cpu_supports("avx512f");
  out.push_back({"avx512", avx512, avx512 ? rate(avx512_f, 2.0 * 16 * kChains, iters / 2, reps) : 0,
                 avx512 ? rate(avx512_d, 2.0 * 8 * kChains, iters / 2, reps) : 0});
  return out;
}

}  // namespace peak
