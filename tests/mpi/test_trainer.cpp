// The trainer under 1, 2 and 4 ranks: parameters stay bit-identical on every rank, runs are
// deterministic, and the epoch statistics are the documented cross-rank reductions.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "rlmpi/algo/trainer.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/mpi/comm.hpp"

using namespace rlmpi;

namespace {
mpi::Comm world() { return mpi::Comm(MPI_COMM_WORLD); }

Config small(const std::string& algo, const std::string& env) {
  Config c;
  c.algo = algo;
  c.env = env;
  c.seed = 7;
  c.steps_per_epoch = 800;
  c.hid = {16, 16};
  c.train_pi_iters = 10;
  c.train_v_iters = 10;
  return c;
}

// True when every rank holds exactly rank 0's bits.
bool same_on_all_ranks(const Vector& x) {
  Vector root = x;
  world().broadcast(Eigen::Ref<Eigen::VectorXd>(root));
  const int local_same = std::memcmp(root.data(), x.data(), sizeof(double) * static_cast<std::size_t>(x.size())) == 0;
  return world().allreduce_min(local_same) == 1.0;
}

bool is_timing(const std::string& name) {
  return name.starts_with("Time") || name == "StepsPerSecond" || name == "UpdateGFLOPS";
}

void check_consistent(const Config& cfg, int epochs) {
  algo::Trainer t(cfg, world());
  for (int e = 0; e < epochs; ++e) {
    const auto r = t.run_epoch();
    for (const auto& [name, v] : r.stats) {
      if (is_timing(name)) continue;
      Vector one(1);
      one[0] = v;
      CAPTURE(name);
      CHECK(same_on_all_ranks(one));
    }
  }
  CHECK(same_on_all_ranks(t.pi_params()));
  CHECK(same_on_all_ranks(t.v_params()));
}
}  // namespace

TEST_CASE("parameters and statistics are identical on all ranks after 3 epochs") {
  for (const char* algo : {"vpg", "trpo", "ppo"}) {
    for (const char* env : {"CartPole-v1", "Pendulum-v1"}) {
      CAPTURE(algo);
      CAPTURE(env);
      check_consistent(small(algo, env), 3);
    }
  }
  Config pen = small("ppo", "Acrobot-v1");
  pen.ppo_variant = "penalty";
  check_consistent(pen, 3);
  Config extras = small("ppo", "Pendulum-v1");  // the locomotion options, all on
  extras.normalize_obs = extras.normalize_reward = extras.anneal_lr = extras.clip_vloss = true;
  extras.max_grad_norm = 0.5;
  extras.ent_coef = 0.01;
  extras.init = "orthogonal";
  extras.epochs = 3;
  check_consistent(extras, 3);
  Config mb = small("ppo", "MountainCarContinuous-v0");
  mb.update_epochs = 3;
  mb.minibatch_size = 50;
  mb.envs_per_rank = 2;
  check_consistent(mb, 3);
}

TEST_CASE("float networks: identical on all ranks, deterministic, resumable bit for bit") {
  for (const char* algo : {"vpg", "trpo", "ppo"}) {
    for (const char* env : {"CartPole-v1", "Pendulum-v1"}) {
      CAPTURE(algo);
      CAPTURE(env);
      Config cfg = small(algo, env);
      cfg.precision = "float";
      check_consistent(cfg, 3);
    }
  }
  Config cfg = small("ppo", "MountainCarContinuous-v0");
  cfg.precision = "float";
  cfg.envs_per_rank = 2;
  cfg.normalize_obs = true;
  algo::Trainer a(cfg, world()), b(cfg, world());
  a.run_epoch();
  b.run_epoch();
  const algo::TrainerState saved = a.state();
  const auto ra = a.run_epoch(), rb = b.run_epoch();
  algo::Trainer c(cfg, world());
  c.restore(saved);
  const auto rc = c.run_epoch();
  for (std::size_t i = 0; i < ra.stats.size(); ++i) {
    if (is_timing(ra.stats[i].first)) continue;
    CAPTURE(ra.stats[i].first);
    const double x = ra.stats[i].second, y = rb.stats[i].second, z = rc.stats[i].second;
    CHECK(std::memcmp(&x, &y, sizeof x) == 0);
    CHECK(std::memcmp(&x, &z, sizeof x) == 0);
  }
  CHECK(a.pi_params() == c.pi_params());
  // The parameters really are float: every value is exactly representable in float.
  const Eigen::VectorXd p = a.pi_params();
  CHECK(p == p.cast<float>().cast<double>());
  cfg.precision = "double";
  algo::Trainer d(cfg, world());
  d.run_epoch();
  d.run_epoch();
  CHECK(d.pi_params() != d.pi_params().cast<float>().cast<double>());
}

TEST_CASE("same seed and ranks give bit-identical statistics run after run") {
  for (const char* algo : {"vpg", "trpo", "ppo"}) {
    CAPTURE(algo);
    algo::Trainer a(small(algo, "CartPole-v1"), world());
    algo::Trainer b(small(algo, "CartPole-v1"), world());
    for (int e = 0; e < 2; ++e) {
      const auto ra = a.run_epoch(), rb = b.run_epoch();
      REQUIRE(ra.stats.size() == rb.stats.size());
      for (std::size_t i = 0; i < ra.stats.size(); ++i) {
        if (is_timing(ra.stats[i].first)) continue;
        CAPTURE(ra.stats[i].first);
        const double x = ra.stats[i].second, y = rb.stats[i].second;
        CHECK(std::memcmp(&x, &y, sizeof x) == 0);
      }
    }
    CHECK(a.pi_params() == b.pi_params());
    Config other = small(algo, "CartPole-v1");
    other.seed = 8;
    algo::Trainer c(other, world());
    c.run_epoch();
    CHECK(c.pi_params() != a.pi_params());
  }
}

TEST_CASE("epoch statistics are the pooled statistics of every rank's episodes") {
  algo::Trainer t(small("ppo", "CartPole-v1"), world());
  const auto r = t.run_epoch();
  // Rank 0 holds every finished episode; recompute the documented reduction by hand.
  double n = 0, sum = 0, lo = 1e300, hi = -1e300;
  if (world().is_root()) {
    for (double x : r.episode_return) {
      n += 1;
      sum += x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    REQUIRE(n > 0);
    double ss = 0;
    for (double x : r.episode_return) ss += (x - sum / n) * (x - sum / n);
    CHECK(r.get("Episodes") == n);
    CHECK(r.get("AverageEpRet") == doctest::Approx(sum / n).epsilon(1e-12));
    CHECK(r.get("StdEpRet") == doctest::Approx(std::sqrt(ss / n)).epsilon(1e-12));
    CHECK(r.get("MinEpRet") == lo);
    CHECK(r.get("MaxEpRet") == hi);
    // Each rank ran its own episodes.
    if (world().size() > 1) CHECK(r.episode_rank.back() == world().size() - 1);
  }
  CHECK(r.get("TotalEnvInteracts") == 800);
}

TEST_CASE("steps per epoch must divide over ranks and envs") {
  Config c = small("ppo", "CartPole-v1");
  c.steps_per_epoch = 4 * 3 * 7 + 1;  // divisible by none of 2, 4, 3 envs
  c.envs_per_rank = 3;
  CHECK_THROWS_AS(algo::Trainer(c, world()), UsageError);
  c = small("ppo", "NoSuchEnv-v0");
  CHECK_THROWS_AS(algo::Trainer(c, world()), UsageError);
}

TEST_CASE("restoring a saved state continues bit for bit") {
  for (const char* algo : {"vpg", "trpo", "ppo", "ppo-reset"}) {
    for (const char* env : {"CartPole-v1", "MountainCarContinuous-v0"}) {
      CAPTURE(algo);
      CAPTURE(env);
      Config cfg = small(std::string(algo).substr(0, 4) == "ppo-" ? "ppo" : algo, env);
      if (std::string(algo) == "ppo-reset") cfg.epoch_end = "reset";
      cfg.envs_per_rank = 2;
      if (std::string(algo) == "ppo") cfg.ppo_variant = "penalty";
      if (cfg.algo != "trpo") {  // state of the normalisers and annealing continues too
        cfg.normalize_obs = cfg.normalize_reward = cfg.anneal_lr = cfg.clip_vloss = true;
        cfg.max_grad_norm = 1.0;
        cfg.epochs = 4;
      }
      algo::Trainer straight(cfg, world());
      straight.run_epoch();
      straight.run_epoch();
      const algo::TrainerState saved = straight.state();
      const auto r3 = straight.run_epoch();
      const auto r4 = straight.run_epoch();

      algo::Trainer resumed(cfg, world());
      resumed.restore(saved);
      CHECK(resumed.epoch() == 2);
      const auto q3 = resumed.run_epoch();
      const auto q4 = resumed.run_epoch();
      for (const auto* pair : {&r3, &r4}) {
        const auto& q = pair == &r3 ? q3 : q4;
        for (std::size_t i = 0; i < pair->stats.size(); ++i) {
          if (is_timing(pair->stats[i].first)) continue;
          CAPTURE(pair->stats[i].first);
          const double x = pair->stats[i].second, y = q.stats[i].second;
          CHECK(std::memcmp(&x, &y, sizeof x) == 0);
        }
      }
      CHECK(resumed.pi_params() == straight.pi_params());
      CHECK(resumed.v_params() == straight.v_params());
    }
  }
}

TEST_CASE("a state from another network shape is refused") {
  algo::Trainer a(small("ppo", "CartPole-v1"), world());
  Config other = small("ppo", "CartPole-v1");
  other.hid = {8};
  algo::Trainer b(other, world());
  CHECK_THROWS_AS(b.restore(a.state()), std::invalid_argument);
}

// Pendulum episodes always last 200 steps (time limit). With 150 steps per rank and epoch, an
// episode crosses the epoch end on every rank: --epoch-end continue finishes it in the next
// epoch (length 200, whatever the rank count); reset drops it, so no episode ever ends.
TEST_CASE("episodes survive the epoch end with --epoch-end continue, not with reset") {
  for (const char* mode : {"continue", "reset"}) {
    CAPTURE(mode);
    Config c = small("ppo", "Pendulum-v1");
    c.steps_per_rank = 150;
    c.epoch_end = mode;
    algo::Trainer t(c, world());
    const int n = world().size();
    const auto r0 = t.run_epoch();
    CHECK(r0.get("Episodes") == 0);
    CHECK(r0.get("TotalEnvInteracts") == 150.0 * n);
    const auto r1 = t.run_epoch();
    CHECK(r1.get("TotalEnvInteracts") == 300.0 * n);
    if (std::string(mode) == "continue") {
      CHECK(r1.get("Episodes") == n);  // one per rank, 200 = 150 + 50 steps long
      CHECK(r1.get("EpLen") == 200);
      CHECK(std::isfinite(r1.get("AverageEpRet")));
      if (world().is_root()) CHECK(r1.episode_length.size() == static_cast<std::size_t>(n));
      const auto r2 = t.run_epoch();  // steps 300..449: the second episodes end at step 400
      CHECK(r2.get("Episodes") == n);
      CHECK(r2.get("EpLen") == 200);
    } else {
      CHECK(r1.get("Episodes") == 0);
      CHECK(std::isnan(r1.get("EpLen")));
    }
  }
}

TEST_CASE("--steps-per-rank gives every rank the same slice whatever the rank count") {
  Config c = small("vpg", "CartPole-v1");
  c.steps_per_rank = 120;
  c.envs_per_rank = 2;
  const Config r = resolve_for_ranks(c, world().size());
  CHECK(r.steps_per_epoch == 120 * world().size());
  algo::Trainer t(c, world());
  CHECK(t.run_epoch().get("TotalEnvInteracts") == 120.0 * world().size());
  c.steps_per_rank = 121;  // not a multiple of the 2 envs per rank
  CHECK_THROWS_AS(algo::Trainer(c, world()), UsageError);
  c.steps_per_rank = 2000000000;  // x ranks overflows the batch size with 2+ ranks
  if (world().size() > 1) CHECK_THROWS_AS(resolve_for_ranks(c, world().size()), UsageError);
}
