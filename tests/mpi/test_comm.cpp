// MPI reductions checked against values computed by hand, with 1, 2 and 4 ranks (the same
// executable runs under each; see tests/CMakeLists.txt). Local sample sizes are uneven.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "rlmpi/mpi/comm.hpp"

using rlmpi::mpi::Comm;

namespace {
Comm world() { return Comm(MPI_COMM_WORLD); }

// Rank r holds r + 1 values: 10 r + 0, 10 r + 1, ..., 10 r + r.
std::vector<double> local_sample(int r) {
  std::vector<double> x;
  for (int i = 0; i <= r; ++i) x.push_back(10.0 * r + i);
  return x;
}
}  // namespace

TEST_CASE("average of a flat vector equals the mean over ranks") {
  const Comm c = world();
  const int r = c.rank(), n = c.size();
  Eigen::VectorXd x(3);
  x << r, 2.0 * r + 1, -4.0;
  c.average(x);
  // mean over r of r = (n-1)/2; of 2r+1 = n; constant stays.
  CHECK(x[0] == (n - 1) / 2.0);
  CHECK(x[1] == static_cast<double>(n));
  CHECK(x[2] == -4.0);
}

TEST_CASE("average of a float vector") {
  const Comm c = world();
  Eigen::VectorXf x = Eigen::VectorXf::Constant(5, static_cast<float>(c.rank() * 2));
  c.average(x);
  CHECK(x[4] == static_cast<float>(c.size() - 1));
}

TEST_CASE("broadcast copies rank 0's values everywhere") {
  const Comm c = world();
  Eigen::VectorXd x = Eigen::VectorXd::Constant(4, c.rank() + 7.0);
  c.broadcast(x);
  CHECK(x.isConstant(7.0));
  std::vector<std::uint64_t> u(2, static_cast<std::uint64_t>(c.rank() + 1));
  c.broadcast(std::span<std::uint64_t>(u));
  CHECK(u[0] == 1);
  CHECK(u[1] == 1);
}

TEST_CASE("scalar reductions") {
  const Comm c = world();
  const int n = c.size();
  CHECK(c.allreduce_sum(c.rank() + 1.0) == n * (n + 1) / 2.0);
  CHECK(c.allreduce_max(c.rank()) == n - 1);
  CHECK(c.allreduce_min(c.rank() + 3.0) == 3.0);
  CHECK(c.average(2.0 * c.rank()) == doctest::Approx(n - 1.0));
  const auto all = c.allgather(c.rank() * 1.5);
  REQUIRE(all.size() == static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) CHECK(all[static_cast<std::size_t>(i)] == i * 1.5);
}

TEST_CASE("cross-rank statistics of uneven local samples") {
  const Comm c = world();
  const int n = c.size();
  const auto mine = local_sample(c.rank());
  const auto s = c.stats(std::span<const double>(mine));

  // Pool every rank's sample by hand.
  std::vector<double> pooled;
  for (int r = 0; r < n; ++r)
    for (double v : local_sample(r)) pooled.push_back(v);
  double sum = 0;
  for (double v : pooled) sum += v;
  const double mean = sum / pooled.size();
  double ss = 0;
  for (double v : pooled) ss += (v - mean) * (v - mean);

  CHECK(s.count == static_cast<long long>(pooled.size()));
  CHECK(s.mean == doctest::Approx(mean).epsilon(1e-15));
  CHECK(s.std == doctest::Approx(std::sqrt(ss / pooled.size())).epsilon(1e-15));
  CHECK(s.min == 0.0);
  CHECK(s.max == 10.0 * (n - 1) + (n - 1));
  if (n == 2) {  // {0} and {10, 11}: mean 7, std sqrt((49 + 9 + 16) / 3)
    CHECK(s.mean == 7.0);
    CHECK(s.std == doctest::Approx(std::sqrt(74.0 / 3.0)));
  }
}

TEST_CASE("statistics with empty ranks and several samples in one call") {
  const Comm c = world();
  // Sample A lives only on the last rank; sample B is empty everywhere.
  std::vector<double> a;
  if (c.rank() == c.size() - 1) a = {1.0, 3.0};
  const std::vector<double> b;
  const std::span<const double> both[2] = {a, b};
  const auto s = c.stats(std::span<const std::span<const double>>(both, 2));
  CHECK(s[0].count == 2);
  CHECK(s[0].mean == 2.0);
  CHECK(s[0].std == 1.0);
  CHECK(s[0].min == 1.0);
  CHECK(s[0].max == 3.0);
  CHECK(s[1].count == 0);
  CHECK(std::isnan(s[1].mean));
}

TEST_CASE("every rank gets the same bits from an average of awkward values") {
  const Comm c = world();
  Eigen::VectorXd x(1000);
  for (Eigen::Index i = 0; i < x.size(); ++i) x[i] = std::sin(0.37 * i + c.rank()) / 3.0;
  c.average(x);
  Eigen::VectorXd from_root = x;
  c.broadcast(from_root);
  CHECK((x.array() == from_root.array()).all());
}

TEST_CASE("gather concatenates uneven local samples on rank 0 in rank order") {
  const Comm c = world();
  const auto mine = local_sample(c.rank());
  const auto all = c.gather(std::span<const double>(mine));
  if (c.rank() != 0) {
    CHECK(all.empty());
    return;
  }
  std::vector<double> expected;
  for (int r = 0; r < c.size(); ++r)
    for (double v : local_sample(r)) expected.push_back(v);
  CHECK(all == expected);
}

TEST_CASE("byte strings: broadcast, gather and scatter keep every byte") {
  const Comm c = world();
  std::string b = c.rank() == 0 ? std::string("ab\0cd", 5) : std::string("x");
  c.broadcast(b);
  CHECK(b == std::string("ab\0cd", 5));
  const std::string mine(static_cast<std::size_t>(c.rank()) + 1, static_cast<char>('a' + c.rank()));
  const auto all = c.gather_bytes(mine);
  if (c.rank() == 0) {
    REQUIRE(all.size() == static_cast<std::size_t>(c.size()));
    for (int r = 0; r < c.size(); ++r)
      CHECK(all[static_cast<std::size_t>(r)] == std::string(static_cast<std::size_t>(r) + 1, static_cast<char>('a' + r)));
  }
  std::vector<std::string> parts;
  for (int r = 0; r < c.size(); ++r) parts.push_back("rank" + std::to_string(r) + std::string(1, '\0'));
  CHECK(c.scatter_bytes(c.rank() == 0 ? parts : std::vector<std::string>{}) == parts[static_cast<std::size_t>(c.rank())]);
}

// Regression: the (sum, count, min, max) reduction must survive MPI splitting its buffer
// (Open MPI's ring, segmented-ring and Rabenseifner allreduce split anywhere between datatype
// elements; tests/mpi_algos forces each algorithm). Integer-valued samples keep every sum exact
// in any order, so the check is exact for 1, 3 and 257 samples at once.
TEST_CASE("multi-sample statistics are exact for 1, 3 and 257 samples at once") {
  const Comm c = world();
  const int r = c.rank(), n = c.size();
  for (const std::size_t k : {std::size_t{1}, std::size_t{3}, std::size_t{257}}) {
    // Sample j on rank r: the value j + r once and -(r + 1) j % 3 times.
    std::vector<std::vector<double>> data(k);
    for (std::size_t j = 0; j < k; ++j) {
      data[j].push_back(static_cast<double>(j) + r);
      for (std::size_t m = 0; m < j % 3; ++m) data[j].push_back(-(r + 1.0));
    }
    std::vector<std::span<const double>> spans(data.begin(), data.end());
    const auto st = c.stats(std::span<const std::span<const double>>(spans.data(), spans.size()));
    REQUIRE(st.size() == k);
    for (std::size_t j = 0; j < k; ++j) {
      const double reps = static_cast<double>(j % 3);
      const double count = n * (1 + reps);
      // sum over ranks of (j + r) - reps (r + 1)
      const double sum = n * static_cast<double>(j) + n * (n - 1) / 2.0 - reps * n * (n + 1) / 2.0;
      CHECK(st[j].count == static_cast<long long>(count));
      CHECK(st[j].mean == doctest::Approx(sum / count));
      CHECK(st[j].max == static_cast<double>(j) + n - 1);
      CHECK(st[j].min == (reps > 0 ? -static_cast<double>(n) : static_cast<double>(j)));
    }
  }
}
