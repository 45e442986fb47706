// PPO (src/algo/ppo.cpp), clip and penalty variants, full-batch and minibatch schemes, against
// references written out here: the objective (clipped surrogate, or ratio surrogate + beta KL,
// minus ent_coef mean(H)), its gradient by central differences, gradient-norm clipping,
// torch-Adam steps, Fisher-Yates minibatch rows replayed from a copy of the rank's stream, the
// early-stop test and the adaptive-beta rule; the update's statistics recomputed.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "algo_test_util.hpp"

using namespace algo_test;

namespace {

struct Rows {
  Mat obs, act, dist;
  Vec adv, logp;
};

Rows all_rows(const RolloutBuffer<double>& b) { return {b.obs, b.act, b.dist, b.adv, b.logp}; }

Rows some_rows(const RolloutBuffer<double>& b, const std::vector<Index>& idx) {
  const auto n = static_cast<Index>(idx.size());
  Rows r{Mat(n, b.obs.cols()), Mat(n, b.act.cols()), Mat(n, b.dist.cols()), Vec(n), Vec(n)};
  for (Index k = 0; k < n; ++k) {
    const Index i = idx[static_cast<std::size_t>(k)];
    r.obs.row(k) = b.obs.row(i);
    r.act.row(k) = b.act.row(i);
    r.dist.row(k) = b.dist.row(i);
    r.adv[k] = b.adv[i];
    r.logp[k] = b.logp[i];
  }
  return r;
}

// The PPO objective on rows, written out. With penalty, beta mean KL(old || new) is added; the
// entropy bonus (ent_coef) is only part of the differentiated loss, not of the logged one.
double ppo_loss(nn::Policy<double>& pi, const Vec& p, const Rows& r, const Config& cfg, double beta,
                bool with_entropy) {
  const Vec ratio = (logp_at(pi, p, r.obs, r.act) - r.logp).array().exp();
  double loss = 0;
  if (cfg.ppo_variant == "penalty") {
    loss = -(ratio.array() * r.adv.array()).mean() + beta * kl_at(pi, p, r.obs, r.dist).mean();
  } else {
    const double eps = cfg.clip_ratio;
    double surr = 0;
    for (Index i = 0; i < ratio.size(); ++i)
      surr += std::min(ratio[i] * r.adv[i], std::clamp(ratio[i], 1 - eps, 1 + eps) * r.adv[i]);
    loss = -surr / static_cast<double>(ratio.size());
  }
  if (with_entropy) loss -= cfg.ent_coef * entropy_at(pi, p, r.obs).mean();
  return loss;
}

double clip_fraction(nn::Policy<double>& pi, const Vec& p, const Rows& r, double eps) {
  const Vec ratio = (logp_at(pi, p, r.obs, r.act) - r.logp).array().exp();
  return static_cast<double>((ratio.array() > 1 + eps || ratio.array() < 1 - eps).count()) /
         static_cast<double>(ratio.size());
}

double approx_kl(nn::Policy<double>& pi, const Vec& p, const Rows& r) {
  return (r.logp - logp_at(pi, p, r.obs, r.act)).mean();
}

// Runs the update on a fresh algorithm; returns its statistics.
algo::UpdateStats run_update(const Config& cfg, Case& c, std::uint64_t rng_seed,
                             std::unique_ptr<algo::Algorithm<double>>* keep = nullptr,
                             bool rollout_at_params = false) {
  auto alg = algo::make_algorithm<double>(cfg, c.ac);
  const mpi::Comm comm = self_comm();
  Rng rng(rng_seed);
  algo::UpdateContext ctx{comm, rng, rollout_at_params};
  const algo::UpdateStats s = alg->update(c.ac, c.buf, ctx);
  if (keep) *keep = std::move(alg);
  return s;
}

double beta_of(const algo::Algorithm<double>& alg) {
  for (const auto& a : alg.state())
    if (a.name == "beta") return a.data.at(0);
  FAIL("no beta in the algorithm state");
  return 0;
}

void check_full_batch(const std::string& variant, bool discrete, std::uint64_t seed, double ent_coef,
                      double max_grad_norm) {
  CAPTURE(variant);
  CAPTURE(discrete);
  CAPTURE(seed);
  CAPTURE(ent_coef);
  CAPTURE(max_grad_norm);
  Config cfg = tiny_config("ppo", seed);
  cfg.ppo_variant = variant;
  cfg.kl_coef = 0.7;
  cfg.ent_coef = ent_coef;
  cfg.max_grad_norm = max_grad_norm;
  cfg.train_v_iters = 0;
  Case c = make_case(cfg, discrete, 16, 0.4, seed);
  auto& pi = *c.ac.pi;
  const Rows all = all_rows(c.buf);
  const bool penalty = variant == "penalty";
  if (!penalty) REQUIRE(clip_fraction(pi, c.pi0, all, cfg.clip_ratio) > 0);  // the clip matters here

  auto loss = [&](const Vec& p) { return ppo_loss(pi, p, all, cfg, cfg.kl_coef, true); };
  const Vec g_raw = fd_grad(loss, c.pi0);
  const Vec g_ref = clipped(g_raw, max_grad_norm);
  Vec p_ref = c.pi0;
  RefAdam(p_ref.size(), cfg.pi_lr, cfg.adam_eps).step(p_ref, g_ref);
  const double loss0 = ppo_loss(pi, c.pi0, all, cfg, cfg.kl_coef, false);
  const double ent0 = entropy_at(pi, c.pi0, c.buf.obs).mean();

  std::unique_ptr<algo::Algorithm<double>> alg;
  const algo::UpdateStats s = run_update(cfg, c, seed, &alg);
  const Vec g_alg = grad_of_first_adam_step(c.ac.pi_params - c.pi0, cfg.pi_lr, cfg.adam_eps);
  CHECK(max_abs_diff(g_alg, g_ref) < 1e-6 * (1 + g_ref.cwiseAbs().maxCoeff()));
  CHECK(max_abs_diff(c.ac.pi_params, p_ref) < 1e-9);
  if (max_grad_norm > 0 && g_raw.norm() > max_grad_norm)
    CHECK(g_alg.norm() == doctest::Approx(max_grad_norm).epsilon(1e-5));

  const Vec& p1 = c.ac.pi_params;
  CHECK(s.loss_pi == doctest::Approx(loss0).epsilon(1e-12));
  CHECK(s.entropy == doctest::Approx(ent0).epsilon(1e-12));
  CHECK(s.delta_loss_pi ==
        doctest::Approx(ppo_loss(pi, p1, all, cfg, cfg.kl_coef, false) - loss0).epsilon(1e-9));
  CHECK(s.stop_iter == 0);  // train_pi_iters - 1, as Spinning Up logs it
  if (penalty) {
    const double kl1 = kl_at(pi, p1, all.obs, all.dist).mean();
    CHECK(s.kl == doctest::Approx(kl1).epsilon(1e-10));
    CHECK(s.beta == cfg.kl_coef);  // logged: the beta the update used
    CHECK(std::isnan(s.clip_frac));
  } else {
    CHECK(s.kl == doctest::Approx(approx_kl(pi, p1, all)).epsilon(1e-10));
    CHECK(s.clip_frac == doctest::Approx(clip_fraction(pi, p1, all, cfg.clip_ratio)));
    CHECK(std::isnan(s.beta));
  }
}

}  // namespace

TEST_CASE("ppo clip: clipped surrogate, its gradient and one Adam step") {
  for (std::uint64_t seed : {1, 2, 3})
    for (bool discrete : {true, false}) check_full_batch("clip", discrete, seed, 0.0, 0.0);
}

TEST_CASE("ppo clip: with --ent-coef and --max-grad-norm") {
  for (std::uint64_t seed : {4, 5})
    for (bool discrete : {true, false}) check_full_batch("clip", discrete, seed, 0.2, 0.05);
}

TEST_CASE("ppo penalty: ratio surrogate + beta KL, its gradient and one Adam step") {
  for (std::uint64_t seed : {1, 2, 3})
    for (bool discrete : {true, false}) {
      check_full_batch("penalty", discrete, seed, 0.0, 0.0);
      check_full_batch("penalty", discrete, seed + 10, 0.2, 0.05);
    }
}

TEST_CASE("ppo penalty: beta doubles above 1.5 target_kl, halves below target_kl / 1.5, else stays") {
  for (bool discrete : {true, false}) {
    CAPTURE(discrete);
    Config cfg = tiny_config("ppo", 11);
    cfg.ppo_variant = "penalty";
    cfg.kl_coef = 0.7;
    cfg.train_v_iters = 0;
    // The final KL does not depend on target_kl (the penalty variant never stops early).
    Case probe = make_case(cfg, discrete, 16, 0.4, 11);
    run_update(cfg, probe, 11);
    const double kl1 = kl_at(*probe.ac.pi, probe.ac.pi_params, probe.buf.obs, probe.buf.dist).mean();
    REQUIRE(kl1 > 0);
    const std::pair<double, double> target_and_beta[] = {
        {kl1 / 1.5 * 0.99, 1.4}, {kl1 * 1.5 * 1.01, 0.35}, {kl1 / 1.5 * 1.01, 0.7}, {kl1 * 1.5 * 0.99, 0.7}};
    for (const auto& [target, beta] : target_and_beta) {
      CAPTURE(target);
      cfg.target_kl = target;
      Case c = make_case(cfg, discrete, 16, 0.4, 11);
      std::unique_ptr<algo::Algorithm<double>> alg;
      run_update(cfg, c, 11, &alg);
      CHECK(beta_of(*alg) == beta);
    }
  }
}

TEST_CASE("ppo clip: Spinning Up scheme stops before the step whose start KL exceeds 1.5 target_kl") {
  for (bool discrete : {true, false}) {
    CAPTURE(discrete);
    Config cfg = tiny_config("ppo", 21);
    cfg.train_pi_iters = 3;
    cfg.train_v_iters = 0;
    Case c0 = make_case(cfg, discrete, 16, 0.0, 21);
    // logp_old = logp(theta_0) + 0.05: approx KL at theta_0 is exactly 0.05.
    const Vec shifted = logp_at(*c0.ac.pi, c0.pi0, c0.buf.obs, c0.buf.act).array() + 0.05;

    cfg.target_kl = 0.05 / 1.5 * 0.999;
    Case c = make_case(cfg, discrete, 16, 0.0, 21);
    c.buf.logp = shifted;
    algo::UpdateStats s = run_update(cfg, c, 21);
    CHECK(s.stop_iter == 0);
    CHECK(c.ac.pi_params == c.pi0);

    // No stop: three steps, each on the gradient at the current iterate.
    cfg.target_kl = 1e9;
    Case d = make_case(cfg, discrete, 16, 0.0, 21);
    d.buf.logp = shifted;
    const Rows all = all_rows(d.buf);
    Vec p_ref = d.pi0;
    RefAdam adam(p_ref.size(), cfg.pi_lr, cfg.adam_eps);
    for (int i = 0; i < 3; ++i)
      adam.step(p_ref, fd_grad([&](const Vec& p) { return ppo_loss(*d.ac.pi, p, all, cfg, 0, true); }, p_ref));
    s = run_update(cfg, d, 21);
    CHECK(s.stop_iter == 2);
    CHECK(max_abs_diff(d.ac.pi_params, p_ref) < 1e-8);

    // --target-kl 0: no early stop however large the KL (here 100 x the stop threshold above).
    cfg.target_kl = 0;
    Case off = make_case(cfg, discrete, 16, 0.0, 21);
    off.buf.logp = logp_at(*c0.ac.pi, c0.pi0, c0.buf.obs, c0.buf.act).array() + 5.0;
    p_ref = off.pi0;
    RefAdam adam_off(p_ref.size(), cfg.pi_lr, cfg.adam_eps);
    const Rows rows_off = all_rows(off.buf);
    for (int i = 0; i < 3; ++i)
      adam_off.step(p_ref, fd_grad([&](const Vec& p) { return ppo_loss(*off.ac.pi, p, rows_off, cfg, 0, true); }, p_ref));
    s = run_update(cfg, off, 21);
    CHECK(s.stop_iter == 2);
    CHECK(max_abs_diff(off.ac.pi_params, p_ref) < 1e-8);
  }
}

namespace {

// Minibatch scheme: E epochs, each a Fisher-Yates shuffle of the (carried-over) index order
// with the rank's stream, then one step per minibatch of m rows (the last one shorter).
void check_minibatch(const std::string& variant, bool discrete, std::uint64_t seed, int epochs, Index m,
                     double ent_coef, double max_grad_norm) {
  CAPTURE(variant);
  CAPTURE(discrete);
  CAPTURE(seed);
  CAPTURE(m);
  Config cfg = tiny_config("ppo", seed);
  cfg.ppo_variant = variant;
  cfg.kl_coef = 0.7;
  cfg.update_epochs = epochs;
  cfg.minibatch_size = static_cast<int>(m);
  cfg.ent_coef = ent_coef;
  cfg.max_grad_norm = max_grad_norm;
  cfg.train_v_iters = 0;
  const Index n = 12;
  Case c = make_case(cfg, discrete, n, 0.4, seed);
  auto& pi = *c.ac.pi;

  Rng shuffle(seed + 100);  // the same stream the update gets
  std::vector<Index> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), Index{0});
  Vec p_ref = c.pi0;
  RefAdam adam(p_ref.size(), cfg.pi_lr, cfg.adam_eps);
  int steps = 0;
  for (int e = 0; e < epochs; ++e) {
    for (Index i = n - 1; i > 0; --i)
      std::swap(idx[static_cast<std::size_t>(i)],
                idx[static_cast<std::size_t>(shuffle.uniform_int(static_cast<std::uint64_t>(i + 1)))]);
    for (Index start = 0; start < n; start += m) {
      const Index len = std::min(m, n - start);
      const Rows r = some_rows(c.buf, std::vector<Index>(idx.begin() + start, idx.begin() + start + len));
      const Vec g = fd_grad([&](const Vec& p) { return ppo_loss(pi, p, r, cfg, cfg.kl_coef, true); }, p_ref);
      adam.step(p_ref, clipped(g, max_grad_norm));
      ++steps;
    }
  }
  REQUIRE(steps == epochs * static_cast<int>((n + m - 1) / m));

  const algo::UpdateStats s = run_update(cfg, c, seed + 100);
  CHECK(max_abs_diff(c.ac.pi_params, p_ref) < 1e-8);
  CHECK(s.stop_iter == epochs - 1);
  const Rows all = all_rows(c.buf);
  CHECK(s.loss_pi == doctest::Approx(ppo_loss(pi, c.pi0, all, cfg, cfg.kl_coef, false)).epsilon(1e-12));
}

}  // namespace

TEST_CASE("ppo minibatch: shuffled rows, one step per minibatch, short last minibatch") {
  for (std::uint64_t seed : {1, 2, 3})
    for (bool discrete : {true, false}) {
      check_minibatch("clip", discrete, seed, 2, 5, 0.0, 0.0);
      check_minibatch("penalty", discrete, seed, 2, 5, 0.0, 0.0);
    }
  check_minibatch("clip", true, 4, 3, 4, 0.2, 0.05);
  check_minibatch("penalty", false, 4, 1, 7, 0.2, 0.05);
  check_minibatch("clip", false, 5, 1, 12, 0.0, 0.0);  // one minibatch = the whole batch
}

// The trainer's buffers come from a rollout at the current parameters; the minibatch scheme then
// takes the statistics before the update from them (no full-batch forward): the same bits as the
// forward would give, for both variants and both policy types, the critic on the minibatches.
TEST_CASE("ppo minibatch: statistics before the update from the rollout equal a full-batch forward's") {
  for (const char* variant : {"clip", "penalty"})
    for (bool discrete : {true, false}) {
      CAPTURE(variant);
      CAPTURE(discrete);
      Config cfg = tiny_config("ppo", 41);
      cfg.ppo_variant = variant;
      cfg.update_epochs = 2;
      cfg.minibatch_size = 5;
      cfg.vf_update = "minibatch";
      Case a = make_case(cfg, discrete, 12, 0.0, 41);  // perturb 0: logp and dist at pi0
      a.buf.val = a.ac.v->forward(a.ac.v_params, a.buf.obs);  // and the values at v0
      Case b = make_case(cfg, discrete, 12, 0.0, 41);
      b.buf.val = a.buf.val;
      const algo::UpdateStats fwd = run_update(cfg, a, 7, nullptr, false);
      const algo::UpdateStats roll = run_update(cfg, b, 7, nullptr, true);
      CHECK(roll.loss_pi == fwd.loss_pi);
      CHECK(roll.entropy == fwd.entropy);
      CHECK(roll.loss_v == fwd.loss_v);
      CHECK(roll.delta_loss_pi == fwd.delta_loss_pi);
      CHECK(roll.delta_loss_v == fwd.delta_loss_v);
      CHECK(roll.kl == fwd.kl);
      CHECK(a.ac.pi_params == b.ac.pi_params);
      CHECK(a.ac.v_params == b.ac.v_params);
      CHECK(std::isfinite(fwd.loss_v));
    }
}

TEST_CASE("ppo minibatch: the full-batch KL test before each later epoch stops the update") {
  for (bool discrete : {true, false}) {
    CAPTURE(discrete);
    Config cfg = tiny_config("ppo", 31);
    cfg.update_epochs = 3;
    cfg.minibatch_size = 5;
    cfg.train_v_iters = 0;
    // After one epoch the approximate KL is some k1; a target just below k1 / 1.5 stops at epoch 1.
    Config one = cfg;
    one.update_epochs = 1;
    Case probe = make_case(one, discrete, 12, 0.4, 31);
    run_update(one, probe, 31);
    const double k1 = approx_kl(*probe.ac.pi, probe.ac.pi_params, all_rows(probe.buf));
    REQUIRE(k1 > 0);
    cfg.target_kl = k1 / 1.5 * 0.999;
    Case c = make_case(cfg, discrete, 12, 0.4, 31);
    const algo::UpdateStats s = run_update(cfg, c, 31);
    CHECK(s.stop_iter == 1);
    CHECK(c.ac.pi_params == probe.ac.pi_params);  // exactly the one-epoch result

    // --target-kl 0: every epoch runs; the first epoch's result is the probe's, the rest move on.
    cfg.target_kl = 0;
    Case all = make_case(cfg, discrete, 12, 0.4, 31);
    const algo::UpdateStats s_all = run_update(cfg, all, 31);
    CHECK(s_all.stop_iter == 2);
    CHECK(all.ac.pi_params != probe.ac.pi_params);
    Config big = cfg;
    big.target_kl = 1e300;  // never reached: the same three epochs as with the stop off
    Case ref = make_case(big, discrete, 12, 0.4, 31);
    run_update(big, ref, 31);
    CHECK(all.ac.pi_params == ref.ac.pi_params);
  }
}

namespace {

// --vf-update minibatch (the default with --update-epochs) and --norm-adv minibatch: each
// shuffled minibatch also steps the critic, on the mean squared error (or with --clip-vloss the
// clipped loss) of its own rows, and with --norm-adv minibatch the policy sees the minibatch's
// advantages normalised as SB3/CleanRL do: (adv - mean) / (unbiased std + 1e-8).
void check_minibatch_critic(bool discrete, std::uint64_t seed, bool clip_vloss, bool norm_minibatch) {
  CAPTURE(discrete);
  CAPTURE(seed);
  CAPTURE(clip_vloss);
  CAPTURE(norm_minibatch);
  Config cfg = tiny_config("ppo", seed);
  cfg.update_epochs = 2;
  cfg.minibatch_size = 5;
  cfg.clip_vloss = clip_vloss;
  cfg.clip_ratio = 0.2;
  cfg.vf_update = "minibatch";
  cfg.norm_adv = norm_minibatch ? "minibatch" : "batch";
  const Index n = 12, m = 5;
  Case c = make_case(cfg, discrete, n, 0.4, seed);
  auto& pi = *c.ac.pi;
  auto& vf = *c.ac.v;
  const auto& b = c.buf;

  Rng shuffle(seed + 100);
  std::vector<Index> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), Index{0});
  Vec p_ref = c.pi0, v_ref = c.v0;
  RefAdam adam_pi(p_ref.size(), cfg.pi_lr, cfg.adam_eps), adam_v(v_ref.size(), cfg.vf_lr, cfg.adam_eps);
  double last_epoch_loss = 0;  // the last epoch's minibatch losses before their steps, row-weighted
  for (int e = 0; e < cfg.update_epochs; ++e) {
    last_epoch_loss = 0;
    for (Index i = n - 1; i > 0; --i)
      std::swap(idx[static_cast<std::size_t>(i)],
                idx[static_cast<std::size_t>(shuffle.uniform_int(static_cast<std::uint64_t>(i + 1)))]);
    for (Index start = 0; start < n; start += m) {
      const std::vector<Index> sub(idx.begin() + start, idx.begin() + std::min(n, start + m));
      Rows r = some_rows(b, sub);
      const auto len = static_cast<Index>(sub.size());
      if (norm_minibatch) {
        const double mean = r.adv.mean();
        const double sd = std::sqrt((r.adv.array() - mean).square().sum() / static_cast<double>(len - 1));
        r.adv = (r.adv.array() - mean) / (sd + 1e-8);
      }
      adam_pi.step(p_ref, fd_grad([&](const Vec& p) { return ppo_loss(pi, p, r, cfg, cfg.kl_coef, true); }, p_ref));
      Vec ret(len), val(len);
      for (Index k = 0; k < len; ++k) {
        ret[k] = b.ret[sub[static_cast<std::size_t>(k)]];
        val[k] = b.val[sub[static_cast<std::size_t>(k)]];
      }
      auto vloss = [&](const Vec& p) {
        const Vec v = vf.forward(p, r.obs);
        double sum = 0;
        for (Index k = 0; k < len; ++k) {
          const double l1 = (v[k] - ret[k]) * (v[k] - ret[k]);
          const double vc = val[k] + std::clamp(v[k] - val[k], -cfg.clip_ratio, cfg.clip_ratio);
          sum += clip_vloss ? std::max(l1, (vc - ret[k]) * (vc - ret[k])) : l1;
        }
        return sum / static_cast<double>(len);
      };
      last_epoch_loss += vloss(v_ref) * static_cast<double>(len) / static_cast<double>(n);
      adam_v.step(v_ref, fd_grad(vloss, v_ref));
    }
  }
  const algo::UpdateStats s = run_update(cfg, c, seed + 100);
  CHECK(max_abs_diff(c.ac.pi_params, p_ref) < 1e-8);
  CHECK(max_abs_diff(c.ac.v_params, v_ref) < 1e-8);
  // LossV: the full batch's mean squared error before; DeltaLossV: the last epoch's minibatch
  // losses (each before its step) minus it.
  auto mse = [&](const Vec& p) {
    const Vec v = vf.forward(p, b.obs);
    return (v - b.ret).squaredNorm() / static_cast<double>(n);
  };
  CHECK(s.loss_v == doctest::Approx(mse(c.v0)).epsilon(1e-12));
  CHECK(s.delta_loss_v == doctest::Approx(last_epoch_loss - mse(c.v0)).epsilon(1e-9));
  CHECK(s.delta_loss_v != doctest::Approx(mse(c.ac.v_params) - mse(c.v0)).epsilon(1e-6));  // not the final loss
}

}  // namespace

TEST_CASE("ppo minibatch: the critic steps on the same minibatches, with per-minibatch advantage normalisation") {
  for (std::uint64_t seed : {1, 2, 3})
    for (bool discrete : {true, false}) {
      check_minibatch_critic(discrete, seed, false, false);
      check_minibatch_critic(discrete, seed, true, true);
    }
}

TEST_CASE("--init-log-std sets the Gaussian's initial log std and nothing else") {
  for (std::uint64_t seed : {1, 2}) {
    Config cfg = tiny_config("ppo", seed);
    const auto base = algo::make_actor_critic<double>(cfg, kObsDim, false, 2, self_comm());
    cfg.init_log_std = 0.7;
    const auto wide = algo::make_actor_critic<double>(cfg, kObsDim, false, 2, self_comm());
    const Index k = base.pi_params.size();
    CHECK(base.pi_params.tail(2) == Vec::Constant(2, -0.5));
    CHECK(wide.pi_params.tail(2) == Vec::Constant(2, 0.7));
    CHECK(wide.pi_params.head(k - 2) == base.pi_params.head(k - 2));
    CHECK(wide.v_params == base.v_params);
  }
}
