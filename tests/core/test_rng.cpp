#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "rlmpi/core/rng.hpp"

using rlmpi::Rng;

TEST_CASE("xoshiro256** matches the reference stream") {
  // Reference: state {1, 2, 3, 4}; first outputs of the published xoshiro256** code.
  Rng rng;
  rng.set_state({1, 2, 3, 4});
  CHECK(rng.next_u64() == 11520ULL);
  CHECK(rng.next_u64() == 0ULL);
  CHECK(rng.next_u64() == 1509978240ULL);
  CHECK(rng.next_u64() == 1215971899390074240ULL);
}

TEST_CASE("same seed gives the same stream and the state round-trips") {
  Rng a(42), b(42), c(43);
  CHECK(a.next_u64() == b.next_u64());
  CHECK(a.next_u64() != c.next_u64());
  const auto saved = a.state();
  const double x1 = a.uniform(), x2 = a.normal();
  b.set_state(saved);
  CHECK(b.uniform() == x1);
  CHECK(b.normal() == x2);
  CHECK_THROWS(b.set_state({0, 0, 0, 0}));
}

TEST_CASE("uniform and uniform_int and normal have the right moments") {
  for (std::uint64_t seed : {1u, 7u, 2024u}) {
    Rng rng(seed);
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    std::vector<int> counts(7, 0);
    for (int i = 0; i < n; ++i) {
      const double u = rng.uniform();
      REQUIRE(u >= 0.0);
      REQUIRE(u < 1.0);
      su += u;
      const double z = rng.normal();
      sn += z;
      sn2 += z * z;
      ++counts[static_cast<std::size_t>(rng.uniform_int(7))];
    }
    // 5 standard errors.
    CHECK(std::abs(su / n - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
    CHECK(std::abs(sn / n) < 5 / std::sqrt(n));
    CHECK(std::abs(sn2 / n - 1.0) < 5 * std::sqrt(2.0 / n));
    for (int k : counts) CHECK(std::abs(k - n / 7.0) < 5 * std::sqrt(n * (1 / 7.0) * (6 / 7.0)));
  }
}

TEST_CASE("rank seeds follow Spinning Up's rule") {
  CHECK(Rng::rank_seed(5, 0) == 5);
  CHECK(Rng::rank_seed(5, 3) == 30005);
}
