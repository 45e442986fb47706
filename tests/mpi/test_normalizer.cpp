// The running normaliser merged across ranks equals the statistics of all samples pooled.
#include <doctest/doctest.h>

#include <vector>

#include "rlmpi/algo/normalizer.hpp"
#include "rlmpi/mpi/comm.hpp"

using rlmpi::algo::RunningNormalizer;

namespace {
// Rank r's sample i of epoch k (uneven counts per rank and epoch).
std::vector<double> sample(int epoch, int r, int i) {
  return {std::sin(1.3 * i + r) * (r + 1) + epoch, 100.0 + 0.01 * i * (epoch + 1) - r};
}
int count(int epoch, int r) { return 5 + 3 * r + 7 * epoch; }
}  // namespace

TEST_CASE("merged running statistics equal the pooled statistics over ranks and epochs") {
  const rlmpi::mpi::Comm c(MPI_COMM_WORLD);
  RunningNormalizer norm(2);
  std::vector<std::vector<double>> pooled;
  for (int epoch = 0; epoch < 3; ++epoch) {
    for (int i = 0; i < count(epoch, c.rank()); ++i) norm.observe(sample(epoch, c.rank(), i).data());
    norm.merge(c);
    for (int r = 0; r < c.size(); ++r)
      for (int i = 0; i < count(epoch, r); ++i) pooled.push_back(sample(epoch, r, i));
    // Reference: two-pass mean and population variance of everything so far.
    for (int d = 0; d < 2; ++d) {
      double m = 0, v = 0;
      for (const auto& x : pooled) m += x[static_cast<std::size_t>(d)];
      m /= static_cast<double>(pooled.size());
      for (const auto& x : pooled) v += (x[static_cast<std::size_t>(d)] - m) * (x[static_cast<std::size_t>(d)] - m);
      v /= static_cast<double>(pooled.size());
      CHECK(norm.mean()[d] == doctest::Approx(m).epsilon(1e-12));
      CHECK(norm.var()[d] == doctest::Approx(v).epsilon(1e-10));
    }
    CHECK(norm.count() == static_cast<double>(pooled.size()));
  }
  // Normalisation clips at +-10 and state round-trips.
  const double far[2] = {1e9, -1e9};
  double out[2];
  norm.normalize(far, out);
  CHECK(out[0] == 10.0);
  CHECK(out[1] == -10.0);
  RunningNormalizer copy(2);
  copy.set_state(norm.state());
  CHECK(copy.mean() == norm.mean());
  CHECK_THROWS(copy.set_state({1.0}));
}
