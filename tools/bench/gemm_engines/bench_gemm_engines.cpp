// GEMM engines at exactly the shapes of rlmpi's MLP update (issue 18 item 3: choose the engine
// by measurement). Single thread.
//
// Shapes (column-major C += A B; W row-major out x in as in src/nn/mlp.cpp), per layer (in, out)
// of the default CartPole nets, obs 4 -> 64 -> 64 -> 2 (policy) / 1 (value):
//   fwd  C(out x N) += W(out x in, row-major, ld in)  * X(in x N, col-major, ld in)
//   dW   C(in x out) += H(in x N, col-major, ld in)   * dZ^T (dZ col-major out x N, ld out)
//   dX   C(in x N)   += W^T(in x out, col-major, ld in) * dZ(out x N, ld out)
// for layers (4,64), (64,64), (64,2), (64,1), N in {1000, 4000, 16000}, float and double.
//
// Engines are plugins (gemm_engine_*.so next to this program, see engine_api.h), loaded with
// RTLD_LOCAL after a CPU check: an ISA variant the CPU cannot run is skipped, never loaded.
// Every engine's result is first checked against a naive double-precision product.
//
// Timing: rounds; in each round every shape is timed on every engine in turn (engine order
// rotated each round), `--samples` samples per engine, each sample `calls` back-to-back calls
// (calls chosen so a sample lasts >= --min-sample-ms), and the FMA peak is re-measured once
// per round -- so a shared, loaded machine affects all engines (and the peak) alike. Reported:
// median over all samples; the update pass (fwd + dW + dX of every layer of policy and value at
// N = 4000) as total FLOPs / total time, per round, median over rounds.
//
// Usage: bench_gemm_engines [--rounds R] [--samples S] [--min-sample-ms T] [--n 1000,4000,16000]
//                           [--dtype float,double] [--engines a.so,b.so | --dir DIR]
//                           [--csv FILE] [--quick]
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../peak_fma.hpp"
#include "engine_api.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= s.size()) {
    const std::size_t e = s.find(sep, b);
    const std::string item = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    if (!item.empty()) out.push_back(item);
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

// 64-byte aligned buffer of doubles or floats (storage in bytes).
struct Buf {
  std::size_t bytes = 0;
  std::unique_ptr<unsigned char, decltype(&std::free)> p{nullptr, &std::free};
  void alloc(std::size_t b) {
    bytes = (b + 63) / 64 * 64;
    p.reset(static_cast<unsigned char*>(std::aligned_alloc(64, bytes)));
    if (!p) {
      std::fprintf(stderr, "out of memory\n");
      std::exit(1);
    }
    std::memset(p.get(), 0, bytes);
  }
  void* data() const { return p.get(); }
};

struct Layer {
  long in, out;
};
const Layer kLayers[] = {{4, 64}, {64, 64}, {64, 2}, {64, 1}};
const char* const kOps[] = {"fwd", "dW", "dX"};
// Weight of each layer in one update pass: policy 4-64-64-2 and value 4-64-64-1 share the
// shapes of their first two layers.
const int kPassWeight[] = {2, 2, 1, 1};

struct Problem {
  int dtype = 0;  // 0 float, 1 double
  long N = 0;
  int layer = 0, op = 0;
  rg_gemm g{};
  Buf c;
  double flops = 0;
  std::vector<double> ref;  // naive double product (C from zero)
};

// Operand pool per (dtype, N): inputs H (in x N), deltas dZ (out x N), weights W (out x in).
struct Pool {
  int dtype = 0;
  long N = 0;
  Buf h4, h64, dz64, dz2, dz1, w[4];
};

void fill(Buf& b, std::size_t count, int dtype, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  b.alloc(count * (dtype == 0 ? sizeof(float) : sizeof(double)));
  for (std::size_t i = 0; i < count; ++i) {
    if (dtype == 0)
      static_cast<float*>(b.data())[i] = static_cast<float>(u(rng));
    else
      static_cast<double*>(b.data())[i] = u(rng);
  }
}

double elem(const void* p, int dtype, long i) {
  return dtype == 0 ? static_cast<const float*>(p)[i] : static_cast<const double*>(p)[i];
}

// A(i,p), B(p,j) as the rg_gemm describes them.
double a_at(const rg_gemm& g, long i, long p) {
  return elem(g.a, g.dtype, g.a_row_major ? i * g.lda + p : i + p * g.lda);
}
double b_at(const rg_gemm& g, long p, long j) {
  return elem(g.b, g.dtype, g.b_row_major ? p * g.ldb + j : p + j * g.ldb);
}

void reference(Problem& pr) {
  const rg_gemm& g = pr.g;
  pr.ref.assign(static_cast<std::size_t>(g.m * g.n), 0.0);
  std::vector<double> acol(static_cast<std::size_t>(g.k));
  for (long i = 0; i < g.m; ++i) {
    for (long p = 0; p < g.k; ++p) acol[static_cast<std::size_t>(p)] = a_at(g, i, p);
    for (long j = 0; j < g.n; ++j) {
      double s = 0;
      for (long p = 0; p < g.k; ++p) s += acol[static_cast<std::size_t>(p)] * b_at(g, p, j);
      pr.ref[static_cast<std::size_t>(i + j * g.m)] = s;
    }
  }
}

struct Engine {
  std::string file;
  const rg_engine* api = nullptr;
  std::string info;
};

// Which ISA a plugin was compiled for (by file name), and whether this CPU runs it.
bool cpu_runs(const std::string& file, std::string& why) {
  __builtin_cpu_init();
  const std::string base = std::filesystem::path(file).filename().string();
  if (base.find("_v4") != std::string::npos && !__builtin_cpu_supports("x86-64-v4")) {
    why = "needs x86-64-v4 (AVX-512), which this CPU lacks";
    return false;
  }
  if (base.find("_v3") != std::string::npos && !__builtin_cpu_supports("x86-64-v3")) {
    why = "needs x86-64-v3 (AVX2+FMA), which this CPU lacks";
    return false;
  }
  return true;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string isa_summary() {
  __builtin_cpu_init();
  std::string s;
  const char* feats[] = {"sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"};
  for (const char* f : feats) {
    // __builtin_cpu_supports needs a literal; spell them out.
    bool has = false;
    if (!std::strcmp(f, "sse2")) has = __builtin_cpu_supports("sse2");
    if (!std::strcmp(f, "avx")) has = __builtin_cpu_supports("avx");
    if (!std::strcmp(f, "avx2")) has = __builtin_cpu_supports("avx2");
    if (!std::strcmp(f, "fma")) has = __builtin_cpu_supports("fma");
    if (!std::strcmp(f, "avx512f")) has = __builtin_cpu_supports("avx512f");
    if (!std::strcmp(f, "avx512bw")) has = __builtin_cpu_supports("avx512bw");
    if (!std::strcmp(f, "avx512vl")) has = __builtin_cpu_supports("avx512vl");
    s += std::string(f) + (has ? "+ " : "- ");
  }
  s += std::string("x86-64-v3:") + (__builtin_cpu_supports("x86-64-v3") ? "yes" : "no");
  s += std::string(" x86-64-v4:") + (__builtin_cpu_supports("x86-64-v4") ? "yes" : "no");
  return s;
}

struct Cell {
  int problem = 0, engine = 0;
  void* plan = nullptr;
  long calls = 1;
  std::vector<double> samples;    // seconds per call
  std::vector<double> round_med;  // per round: median of that round's samples
};

struct Options {
  int rounds = 15, samples = 3;
  double min_sample_ms = 0.3;
  std::vector<long> ns{1000, 4000, 16000};
  std::vector<int> dtypes{0, 1};
  std::vector<std::string> engines;
  std::string dir, csv;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr, "bench_gemm_engines: %s\n", msg);
  std::fprintf(stderr,
               "usage: bench_gemm_engines [--rounds R] [--samples S] [--min-sample-ms T] "
               "[--n 1000,4000,16000] [--dtype float,double] [--engines a.so,b.so | --dir DIR] "
               "[--csv FILE] [--quick]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--rounds") o.rounds = std::max(1, std::atoi(val().c_str()));
    else if (a == "--samples") o.samples = std::max(1, std::atoi(val().c_str()));
    else if (a == "--min-sample-ms") o.min_sample_ms = std::atof(val().c_str());
    else if (a == "--n") {
      o.ns.clear();
      for (const auto& s : split(val(), ',')) o.ns.push_back(std::atol(s.c_str()));
    } else if (a == "--dtype") {
      o.dtypes.clear();
      for (const auto& s : split(val(), ','))
        o.dtypes.push_back(s == "float" ? 0 : s == "double" ? 1 : (usage("dtype: float or double"), 0));
    } else if (a == "--engines") o.engines = split(val(), ',');
    else if (a == "--dir") o.dir = val();
    else if (a == "--csv") o.csv = val();
    else if (a == "--quick") {
      o.rounds = 3;
      o.ns = {4000};
    } else usage(("unknown option " + a).c_str());
  }
  return o;
}

const char* dname(int dtype) { return dtype == 0 ? "float" : "double"; }

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  const double t_start = now();

  // One thread for every library, set before any is loaded (they read it at load time).
  setenv("OPENBLAS_NUM_THREADS", "1", 1);
  setenv("BLIS_NUM_THREADS", "1", 1);
  setenv("OMP_NUM_THREADS", "1", 1);

  if (opt.engines.empty()) {
    std::string dir = opt.dir;
    if (dir.empty()) dir = std::filesystem::canonical("/proc/self/exe").parent_path().string();
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("gemm_engine_", 0) == 0 && e.path().extension() == ".so")
        opt.engines.push_back(e.path().string());
    }
    std::sort(opt.engines.begin(), opt.engines.end());
  }

  std::time_t tt = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&tt));
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  double load[3] = {0, 0, 0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  std::printf("# bench_gemm_engines\n\n");
  std::printf("- date: %s, host %s, load average at start %.2f %.2f %.2f\n", date, host, load[0],
              load[1], load[2]);
  std::printf("- CPU: %s; %ld logical CPUs; %s\n", cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN),
              isa_summary().c_str());
  std::printf("- OPENBLAS_NUM_THREADS=%s BLIS_NUM_THREADS=%s OMP_NUM_THREADS=%s OPENBLAS_CORETYPE=%s\n",
              getenv("OPENBLAS_NUM_THREADS"), getenv("BLIS_NUM_THREADS"), getenv("OMP_NUM_THREADS"),
              getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
  std::printf("- rounds %d x samples %d, min sample %.2f ms\n\n", opt.rounds, opt.samples,
              opt.min_sample_ms);

  // ---------------------------------------------------------------- engines
  std::vector<Engine> engines;
  std::printf("## Engines\n\n");
  for (const auto& file : opt.engines) {
    std::string why;
    if (!cpu_runs(file, why)) {
      std::printf("- SKIPPED %s: %s\n", std::filesystem::path(file).filename().c_str(), why.c_str());
      continue;
    }
    void* h = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::printf("- SKIPPED %s: dlopen: %s\n", file.c_str(), dlerror());
      continue;
    }
    auto get = reinterpret_cast<rg_get_engines_fn>(dlsym(h, RG_ENTRY_NAME));
    if (get == nullptr) {
      std::printf("- SKIPPED %s: no %s\n", file.c_str(), RG_ENTRY_NAME);
      continue;
    }
    int count = 0;
    const rg_engine* list = get(&count);
    for (int i = 0; i < count; ++i) {
      if (list[i].api_version != RG_API_VERSION) continue;
      Engine e{file, &list[i], list[i].info()};
      std::printf("- `%s` (%s): %s\n", e.api->name, std::filesystem::path(file).filename().c_str(),
                  e.info.c_str());
      engines.push_back(e);
    }
  }
  if (engines.empty()) {
    std::fprintf(stderr, "no engines\n");
    return 1;
  }
  const int E = static_cast<int>(engines.size());

  // ---------------------------------------------------------------- peak
  const auto peaks0 = peak::measure(5);
  int best = 0;
  for (int i = 0; i < static_cast<int>(peaks0.size()); ++i)
    if (peaks0[static_cast<std::size_t>(i)].available) best = i;
  std::printf("\n## Peak (tools/bench/peak_fma.hpp, single core, at start)\n\n");
  for (const auto& p : peaks0)
    if (p.available)
      std::printf("- %s: float %.1f GFLOP/s, double %.1f GFLOP/s\n", p.isa, p.float_gflops, p.double_gflops);
  std::printf("- percentages below are of the %s peak, re-measured every round (median over rounds)\n",
              peaks0[static_cast<std::size_t>(best)].isa);

  // ---------------------------------------------------------------- problems
  std::mt19937_64 rng(12345);
  std::vector<std::unique_ptr<Pool>> pools;
  std::vector<std::unique_ptr<Problem>> problems;
  for (int dt : opt.dtypes)
    for (long N : opt.ns) {
      auto pool = std::make_unique<Pool>();
      pool->dtype = dt;
      pool->N = N;
      const auto n = static_cast<std::size_t>(N);
      fill(pool->h4, 4 * n, dt, rng);
      fill(pool->h64, 64 * n, dt, rng);
      fill(pool->dz64, 64 * n, dt, rng);
      fill(pool->dz2, 2 * n, dt, rng);
      fill(pool->dz1, 1 * n, dt, rng);
      for (int l = 0; l < 4; ++l)
        fill(pool->w[l], static_cast<std::size_t>(kLayers[l].in * kLayers[l].out), dt, rng);
      for (int l = 0; l < 4; ++l) {
        const long in = kLayers[l].in, out = kLayers[l].out;
        const void* h = in == 4 ? pool->h4.data() : pool->h64.data();
        const void* dz = out == 64 ? pool->dz64.data() : out == 2 ? pool->dz2.data() : pool->dz1.data();
        for (int op = 0; op < 3; ++op) {
          auto pr = std::make_unique<Problem>();
          pr->dtype = dt;
          pr->N = N;
          pr->layer = l;
          pr->op = op;
          rg_gemm& g = pr->g;
          g.dtype = dt;
          if (op == 0) {  // fwd: C(out x N) += W(out x in, row-major) X(in x N)
            g = {dt, 1, 0, out, N, in, in, in, out, pool->w[l].data(), h, nullptr};
          } else if (op == 1) {  // dW: C(in x out) += H(in x N) dZ^T (dZ col-major out x N)
            g = {dt, 0, 1, in, out, N, in, out, in, h, dz, nullptr};
          } else {  // dX: C(in x N) += W^T(in x out, col-major ld in) dZ(out x N)
            g = {dt, 0, 0, in, N, out, in, out, in, pool->w[l].data(), dz, nullptr};
          }
          pr->c.alloc(static_cast<std::size_t>(g.m * g.n) * (dt == 0 ? sizeof(float) : sizeof(double)));
          g.c = pr->c.data();
          pr->flops = 2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
          reference(*pr);
          problems.push_back(std::move(pr));
        }
      }
      pools.push_back(std::move(pool));
    }
  const int P = static_cast<int>(problems.size());

  // ---------------------------------------------------------------- plan, check, calibrate
  std::vector<Cell> cells;  // problem-major
  int failures = 0;
  std::printf("\n## Correctness (max |C - C_ref| / max |C_ref|, C from zero, vs naive double)\n\n");
  std::vector<double> worst(static_cast<std::size_t>(E) * 2, 0.0);
  for (int p = 0; p < P; ++p) {
    Problem& pr = *problems[static_cast<std::size_t>(p)];
    for (int e = 0; e < E; ++e) {
      Cell c;
      c.problem = p;
      c.engine = e;
      c.plan = engines[static_cast<std::size_t>(e)].api->plan(&pr.g);
      if (c.plan == nullptr) {
        std::printf("- %s: no plan for m=%ld n=%ld k=%ld (%s): skipped\n",
                    engines[static_cast<std::size_t>(e)].api->name, pr.g.m, pr.g.n, pr.g.k, dname(pr.dtype));
        cells.push_back(c);
        continue;
      }
      std::memset(pr.c.data(), 0, pr.c.bytes);
      engines[static_cast<std::size_t>(e)].api->run(c.plan, &pr.g);
      double maxref = 0, maxerr = 0;
      for (std::size_t i = 0; i < pr.ref.size(); ++i) {
        maxref = std::max(maxref, std::abs(pr.ref[i]));
        maxerr = std::max(maxerr, std::abs(elem(pr.c.data(), pr.dtype, static_cast<long>(i)) - pr.ref[i]));
      }
      const double rel = maxerr / std::max(maxref, 1e-300);
      const double tol = pr.dtype == 0 ? 1e-4 : 1e-11;
      double& w = worst[static_cast<std::size_t>(e * 2 + pr.dtype)];
      w = std::max(w, rel);
      if (!(rel <= tol)) {
        ++failures;
        std::printf("- WRONG: %s %s m=%ld n=%ld k=%ld: %.3g\n", engines[static_cast<std::size_t>(e)].api->name,
                    dname(pr.dtype), pr.g.m, pr.g.n, pr.g.k, rel);
      }
      // Calibrate: calls per sample so that a sample lasts >= min_sample_ms.
      const double t0 = now();
      engines[static_cast<std::size_t>(e)].api->run(c.plan, &pr.g);
      engines[static_cast<std::size_t>(e)].api->run(c.plan, &pr.g);
      const double per = std::max((now() - t0) / 2, 1e-8);
      c.calls = std::max(1L, static_cast<long>(std::ceil(opt.min_sample_ms * 1e-3 / per)));
      cells.push_back(c);
    }
  }
  for (int e = 0; e < E; ++e)
    std::printf("- %-18s worst: float %.2g, double %.2g\n", engines[static_cast<std::size_t>(e)].api->name,
                worst[static_cast<std::size_t>(e * 2)], worst[static_cast<std::size_t>(e * 2 + 1)]);
  if (failures) std::printf("- %d WRONG results (those engines' numbers below are meaningless)\n", failures);

  // ---------------------------------------------------------------- timing
  std::vector<double> peak_f, peak_d;
  for (int r = 0; r < opt.rounds; ++r) {
    // Peak at the best ISA, re-measured every round in samples about as long as the GEMM
    // samples (~0.5 ms), so that time-sharing with other work hits both alike.
    const long iters = 200'000;
    if (best == 2) {
      peak_f.push_back(peak::rate(peak::avx512_f, 2.0 * 16 * peak::kChains, iters, 2 * opt.samples + 1));
      peak_d.push_back(peak::rate(peak::avx512_d, 2.0 * 8 * peak::kChains, iters, 2 * opt.samples + 1));
    } else if (best == 1) {
      peak_f.push_back(peak::rate(peak::avx2_f, 2.0 * 8 * peak::kChains, iters, 2 * opt.samples + 1));
      peak_d.push_back(peak::rate(peak::avx2_d, 2.0 * 4 * peak::kChains, iters, 2 * opt.samples + 1));
    } else {
      peak_f.push_back(peak::rate(peak::sse2_f, 2.0 * 4 * peak::kChains, iters, 2 * opt.samples + 1));
      peak_d.push_back(peak::rate(peak::sse2_d, 2.0 * 2 * peak::kChains, iters, 2 * opt.samples + 1));
    }
    for (int p = 0; p < P; ++p) {
      Problem& pr = *problems[static_cast<std::size_t>(p)];
      for (int i = 0; i < E; ++i) {
        const int e = (i + r) % E;
        Cell& c = cells[static_cast<std::size_t>(p * E + e)];
        if (c.plan == nullptr) continue;
        const rg_engine* api = engines[static_cast<std::size_t>(e)].api;
        api->run(c.plan, &pr.g);  // warm this engine's code and packing buffers
        std::vector<double> here;
        for (int s = 0; s < opt.samples; ++s) {
          const double t0 = now();
          for (long k = 0; k < c.calls; ++k) api->run(c.plan, &pr.g);
          here.push_back((now() - t0) / static_cast<double>(c.calls));
        }
        c.samples.insert(c.samples.end(), here.begin(), here.end());
        c.round_med.push_back(median(here));
      }
    }
    std::fprintf(stderr, "round %d/%d done (%.0f s)\n", r + 1, opt.rounds, now() - t_start);
  }
  const double pk[2] = {median(peak_f), median(peak_d)};
  std::printf("- peak re-measured per round (%s, median of %d): float %.1f GFLOP/s, double %.1f GFLOP/s\n",
              peaks0[static_cast<std::size_t>(best)].isa, opt.rounds, pk[0], pk[1]);

  // ---------------------------------------------------------------- results
  FILE* csv = nullptr;
  if (!opt.csv.empty()) {
    csv = std::fopen(opt.csv.c_str(), "w");
    if (csv == nullptr) {
      std::perror(opt.csv.c_str());
      return 1;
    }
    std::fprintf(csv,
                 "engine,dtype,N,layer_in,layer_out,op,m,n,k,mflop,calls_per_sample,samples,"
                 "median_us,gflops_median,gflops_q25,gflops_q75,pct_peak,peak_gflops\n");
  }
  auto gf = [&](const Cell& c, double q) {  // GFLOP/s at time quantile q (fast = low time)
    const double t = q == 0.5 ? median(c.samples) : quantile(c.samples, q);
    return problems[static_cast<std::size_t>(c.problem)]->flops / t * 1e-9;
  };
  for (const Cell& c : cells) {
    if (c.plan == nullptr) continue;
    const Problem& pr = *problems[static_cast<std::size_t>(c.problem)];
    const Layer& L = kLayers[pr.layer];
    if (csv)
      std::fprintf(csv, "%s,%s,%ld,%ld,%ld,%s,%ld,%ld,%ld,%.4f,%ld,%zu,%.3f,%.3f,%.3f,%.3f,%.2f,%.2f\n",
                   engines[static_cast<std::size_t>(c.engine)].api->name, dname(pr.dtype), pr.N, L.in,
                   L.out, kOps[pr.op], pr.g.m, pr.g.n, pr.g.k, pr.flops * 1e-6, c.calls, c.samples.size(),
                   median(c.samples) * 1e6, gf(c, 0.5), gf(c, 0.75), gf(c, 0.25),
                   100 * gf(c, 0.5) / pk[pr.dtype], pk[pr.dtype]);
  }

  // Update pass per (engine, dtype, N): per round, sum of weight x (round median time), median
  // of the per-round rates. "all": every layer's fwd+dW+dX; "rlmpi": without layer 0's dX,
  // which Mlp::backward skips when no input gradient is asked for (always, in training).
  struct PassRate {
    double all = 0, rlmpi = 0, flops = 0;
    bool ok = false;
  };
  auto pass = [&](int e, int dt, long N) {
    PassRate res;
    std::vector<double> ra, rr;
    double fa = 0, fr = 0;
    for (int r = 0; r < opt.rounds; ++r) {
      double ta = 0, tr = 0;
      fa = fr = 0;
      for (int p = 0; p < P; ++p) {
        const Problem& pr = *problems[static_cast<std::size_t>(p)];
        if (pr.dtype != dt || pr.N != N) continue;
        double t = 0;  // this round's time of the shape: engine e's, or (e < 0) the fastest's
        for (int i = 0; i < E; ++i) {
          const Cell& c = cells[static_cast<std::size_t>(p * E + i)];
          if (e >= 0 && i != e) continue;
          if (c.plan == nullptr) {
            if (e >= 0) return res;
            continue;
          }
          const double ti = c.round_med[static_cast<std::size_t>(r)];
          t = t == 0 ? ti : std::min(t, ti);
        }
        const double w = kPassWeight[pr.layer];
        ta += w * t;
        fa += w * pr.flops;
        if (!(pr.layer == 0 && pr.op == 2)) {
          tr += w * t;
          fr += w * pr.flops;
        }
      }
      ra.push_back(fa / ta * 1e-9);
      rr.push_back(fr / tr * 1e-9);
    }
    res.all = median(ra);
    res.rlmpi = median(rr);
    res.flops = fa;
    res.ok = true;
    return res;
  };

  std::printf("\n## Update pass (policy 4-64-64-2 + value 4-64-64-1, fwd + dW + dX of every layer)\n\n");
  std::printf("GFLOP/s = pass FLOPs / pass time (per round; median over rounds), %% of the %s peak.\n\n",
              peaks0[static_cast<std::size_t>(best)].isa);
  std::printf("| engine | dtype |");
  for (long N : opt.ns) std::printf(" N=%ld | %% peak |", N);
  std::printf(" N=4000 as rlmpi (no layer-0 dX) |\n|---|---|");
  for (std::size_t i = 0; i < opt.ns.size(); ++i) std::printf("---:|---:|");
  std::printf("---:|\n");
  // e = -1: the fastest engine of each shape (per round), as if one picked the engine per shape.
  for (int dt : opt.dtypes)
    for (int e = 0; e <= E; ++e) {
      const int ee = e == E ? -1 : e;
      const char* ename = ee < 0 ? "best-per-shape" : engines[static_cast<std::size_t>(e)].api->name;
      std::printf("| %s | %s |", ename, dname(dt));
      double rl = 0;
      for (long N : opt.ns) {
        const PassRate pr = pass(ee, dt, N);
        if (!pr.ok) {
          std::printf(" - | - |");
          continue;
        }
        std::printf(" %.1f | %.0f%% |", pr.all, 100 * pr.all / pk[dt]);
        if (N == 4000) rl = pr.rlmpi;
        if (csv)
          std::fprintf(csv, "%s,%s,%ld,,,pass,,,,%.4f,,%d,,%.3f,,,%.2f,%.2f\n", ename, dname(dt), N,
                       pr.flops * 1e-6,
                       opt.rounds, pr.all, 100 * pr.all / pk[dt], pk[dt]);
      }
      std::printf(" %.1f |\n", rl);
    }

  // Per shape tables, one per N.
  for (long N : opt.ns) {
    std::printf("\n## Per shape, N = %ld: median GFLOP/s (%% of peak)\n\n", N);
    std::printf("| dtype | layer | op | m x n x k |");
    for (const Engine& en : engines) std::printf(" %s |", en.api->name);
    std::printf(" fastest |\n|---|---|---|---|");
    for (int e = 0; e < E; ++e) std::printf("---:|");
    std::printf("---|\n");
    for (int dt : opt.dtypes)
      for (int l = 0; l < 4; ++l)
        for (int op = 0; op < 3; ++op) {
          int bestE = -1;
          double bestR = 0;
          std::string row;
          const Problem* prp = nullptr;
          for (int e = 0; e < E; ++e) {
            for (const Cell& c : cells) {
              if (c.engine != e) continue;
              const Problem& pr = *problems[static_cast<std::size_t>(c.problem)];
              if (pr.dtype != dt || pr.N != N || pr.layer != l || pr.op != op) continue;
              prp = &pr;
              char b[64];
              if (c.plan == nullptr) {
                std::snprintf(b, sizeof b, " - |");
              } else {
                const double rate = gf(c, 0.5);
                std::snprintf(b, sizeof b, " %.1f (%.0f%%) |", rate, 100 * rate / pk[dt]);
                if (rate > bestR) {
                  bestR = rate;
                  bestE = e;
                }
              }
              row += b;
            }
          }
          if (prp == nullptr) continue;
          std::printf("| %s | %ld-%ld | %s | %ldx%ldx%ld |%s %s |\n", dname(dt), kLayers[l].in,
                      kLayers[l].out, kOps[op], prp->g.m, prp->g.n, prp->g.k, row.c_str(),
                      bestE >= 0 ? engines[static_cast<std::size_t>(bestE)].api->name : "-");
        }
  }
  if (csv) std::fclose(csv);
  std::printf("\n(total run time %.0f s)\n", now() - t_start);
  for (Cell& c : cells)
    if (c.plan != nullptr) engines[static_cast<std::size_t>(c.engine)].api->release(c.plan);
  return failures ? 1 : 0;
}
