// Short learning runs on CartPole-v1 with 2 ranks: each algorithm must lift the average
// return from about 20 (random policy) clearly above 100. Smaller nets and batches than the
// defaults keep each run within seconds; the full-size curves are benchmarks (tools/bench).
#include <doctest/doctest.h>

#include <string>

#include "rlmpi/algo/trainer.hpp"
#include "rlmpi/mpi/comm.hpp"

using namespace rlmpi;

namespace {

struct Curve {
  double first = 0, best_late = 0;
};

Curve learn(Config cfg, int epochs) {
  algo::Trainer t(cfg, mpi::Comm(MPI_COMM_WORLD));
  Curve c;
  for (int e = 0; e < epochs; ++e) {
    const double ret = t.run_epoch().get("AverageEpRet");
    if (e == 0) c.first = ret;
    if (e >= epochs - 3) c.best_late = std::max(c.best_late, ret);
  }
  return c;
}

Config cartpole(const std::string& algo, std::uint64_t seed) {
  Config c;
  c.algo = algo;
  c.env = "CartPole-v1";
  c.seed = seed;
  c.steps_per_epoch = 2000;
  c.hid = {32, 32};
  return c;
}

}  // namespace

TEST_CASE("PPO learns CartPole") {
  for (std::uint64_t seed : {1, 2}) {
    const Curve c = learn(cartpole("ppo", seed), 15);
    CAPTURE(seed);
    CHECK(c.first < 40);
    CHECK(c.best_late > 150);
  }
}

TEST_CASE("PPO learns CartPole with double networks") {
  for (std::uint64_t seed : {1, 2}) {
    Config cfg = cartpole("ppo", seed);
    cfg.precision = "double";  // float is the default
    const Curve c = learn(cfg, 15);
    CAPTURE(seed);
    CHECK(c.first < 40);
    CHECK(c.best_late > 150);
  }
}

TEST_CASE("TRPO learns CartPole") {
  for (std::uint64_t seed : {1, 2}) {
    const Curve c = learn(cartpole("trpo", seed), 15);
    CAPTURE(seed);
    CHECK(c.first < 40);
    CHECK(c.best_late > 150);
  }
}

TEST_CASE("VPG learns CartPole") {
  for (std::uint64_t seed : {1, 2}) {
    Config cfg = cartpole("vpg", seed);
    cfg.pi_lr = 0.01;  // one step per epoch: Spinning Up's 3e-4 needs hundreds of epochs here
    const Curve c = learn(cfg, 20);
    CAPTURE(seed);
    CHECK(c.first < 40);
    CHECK(c.best_late > 100);
  }
}
