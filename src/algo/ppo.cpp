// Proximal policy optimisation (Schulman et al. 2017), two variants:
//  clip     L = -mean(min(ratio * adv, clip(ratio, 1 - eps, 1 + eps) * adv)), ratio = exp(logp - logp_old)
//  penalty  L = -mean(ratio * adv) + beta * mean(KL(old || new)); after the update beta is doubled
//           when KL > 1.5 target_kl and halved when KL < target_kl / 1.5
// and two update schemes:
//  Spinning Up (default, --update-epochs 0): up to train_pi_iters full-batch Adam steps; the clip
//           variant stops early, before the step, when the cross-rank mean of
//           mean(logp_old - logp) exceeds 1.5 target_kl (StopIter = the iteration it stopped at,
//           train_pi_iters - 1 when it never did, as Spinning Up logs it; --target-kl 0: never).
//  PPO paper (--update-epochs E --minibatch-size M): E passes over the local batch in shuffled
//           minibatches of M rows, one allreduced Adam step per minibatch; the same KL test is made
//           on the full batch before each pass (not at all with --target-kl 0, SB3's default).
// Then train_v_iters full-batch value steps. LossPi, Entropy: at the rollout policy; KL, ClipFrac,
// DeltaLossPi: at the final policy.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/algo/objectives.hpp"
#include "rlmpi/core/safe_resize.hpp"

namespace rlmpi::algo {
namespace {

template <class T>
class Ppo final : public Algorithm<T> {
  using Vec = VectorX<T>;
  using Mat = MatrixX<T>;

 public:
  Ppo(const Config& cfg, const ActorCritic<T>& ac)
      : cfg_(cfg),
        penalty_(cfg.ppo_variant == "penalty"),
        critic_on_minibatches_(cfg.update_epochs > 0 && cfg.vf_update != "full"),
        norm_adv_minibatch_(cfg.update_epochs > 0 && cfg.norm_adv == "minibatch"),
        beta_(cfg.kl_coef),
        pi_opt_(ac.pi_params.size(), cfg.pi_lr, 0.9, 0.999, cfg.adam_eps, ac.v->mlp().isa()),
        v_opt_(ac.v_params.size(), cfg.vf_lr, 0.9, 0.999, cfg.adam_eps, ac.v->mlp().isa()) {}

  std::vector<std::string> extra_columns() const override {
    if (penalty_) return {"stop_iter", "beta"};
    return {"clip_frac", "stop_iter"};
  }

  std::vector<NamedArray> state() const override {
    std::vector<NamedArray> s;
    append_adam_state(s, "pi_adam", pi_opt_);
    append_adam_state(s, "v_adam", v_opt_);
    s.push_back({"beta", {beta_}});
    return s;
  }
  void set_lr_scale(double frac) override {
    pi_opt_.set_lr(cfg_.pi_lr * frac);
    v_opt_.set_lr(cfg_.vf_lr * frac);
  }
  void set_state(const std::vector<NamedArray>& s) override {
    restore_adam_state(s, "pi_adam", pi_opt_);
    restore_adam_state(s, "v_adam", v_opt_);
    const auto& b = find_array(s, "beta").data;
    if (b.size() != 1) throw std::invalid_argument("algorithm state: bad size of beta");
    beta_ = b[0];
  }

  UpdateStats update(ActorCritic<T>& ac, const RolloutBuffer<T>& b, UpdateContext& ctx) override {
    const mpi::Comm& comm = ctx.comm;
    auto& pi = *ac.pi;
    UpdateStats s;
    safe_resize(grad_, ac.pi_params.size());  // safe_resize: no double free after a bad_alloc
    safe_resize(kl_grad_, ac.pi_params.size());
    safe_resize(ent_, b.size());

    s.beta = penalty_ ? beta_ : UpdateStats::nan;
    double loss_v_before = 0;  // the minibatch critic's loss before its steps
    if (cfg_.update_epochs == 0 || !ctx.rollout_at_params) {  // full batch: iteration 0 uses this forward
      pi.forward(ac.pi_params, b.obs);
      pi.entropy(ent_);
      s.loss_pi = comm.average(evaluate(pi, b.act, b.adv, b.logp, b.dist).loss);
      if (critic_on_minibatches_) loss_v_before = comm.average(ac.v->mse(ac.v_params, b.obs, b.ret));
    } else {
      // Minibatches from the trainer's rollout, which ran at these parameters: its log-probabilities,
      // distributions and values are the networks' outputs here (a small batch gives the block
      // path's bits), so the statistics before the update need no full-batch forward (two of the
      // four the paper's scheme would add per epoch). Ratio 1, KL 0.
      pi.entropy_of(b.dist, ent_);
      safe_grow(w_, b.size());
      const SurrogateEval se = penalty_ ? ratio_surrogate(b.logp, b.logp, b.adv, w_.head(b.size()))
                                        : ppo_clip_surrogate(b.logp, b.logp, b.adv, cfg_.clip_ratio, w_.head(b.size()));
      s.loss_pi = comm.average(se.loss);
      if (critic_on_minibatches_)  // ValueFunction::mse's formula on V(s) as the rollout computed it
        loss_v_before = comm.average((b.val - b.ret).squaredNorm() / static_cast<T>(b.size()));
    }
    s.entropy = comm.average(ent_.mean());
    int stop_iter = -1;
    if (cfg_.update_epochs == 0) {
      for (int i = 0; i < cfg_.train_pi_iters; ++i) {
        // From the second iteration on, the forward at the current parameters and the gradient
        // come from one pass (the gradient is dropped if the KL test stops here).
        const bool fused = i > 0 && fused_gradient();
        Eval e;
        if (fused) {
          e = forward_and_gradient(pi, ac, b.obs, b.act, b.adv, b.logp);
        } else {
          if (i > 0) pi.forward(ac.pi_params, b.obs);
          e = evaluate(pi, b.act, b.adv, b.logp, b.dist);
        }
        if (early_stop() && comm.average(e.approx_kl) > 1.5 * cfg_.target_kl) {
          stop_iter = i;
          break;
        }
        if (fused) {
          apply_gradient(ac, comm);
        } else {
          step(pi, ac, b.act, b.dist, comm);
        }
      }
    } else {
      v_loss_last_epoch_ = 0;
      minibatch_epochs(ac, b, ctx, stop_iter);
    }
    s.stop_iter = stop_iter >= 0 ? stop_iter
                                 : (cfg_.update_epochs == 0 ? cfg_.train_pi_iters - 1 : cfg_.update_epochs - 1);

    // After an early stop the cached forward is already at the final parameters.
    if (stop_iter < 0) pi.forward(ac.pi_params, b.obs);
    const Eval e = evaluate(pi, b.act, b.adv, b.logp, b.dist);
    s.delta_loss_pi = comm.average(e.loss) - s.loss_pi;
    s.clip_frac = penalty_ ? UpdateStats::nan : comm.average(e.clip_frac);
    if (penalty_) {
      s.kl = comm.average(e.exact_kl);
      if (s.kl > 1.5 * cfg_.target_kl) beta_ *= 2;
      else if (s.kl < cfg_.target_kl / 1.5) beta_ /= 2;
    } else {
      s.kl = comm.average(e.approx_kl);
    }

    if (critic_on_minibatches_) {  // stepped with the actor in minibatch_epochs
      // The loss after: the last update epoch's minibatch losses, each before its step, averaged
      // over the rows (as SB3 reports it): the one diagnostic forward per epoch stays the policy's.
      s.loss_v = loss_v_before;
      s.delta_loss_v = comm.average(v_loss_last_epoch_) - loss_v_before;
      return s;
    }
    const ValueFit fit = fit_value(ac, v_opt_, b, cfg_, comm, v_work_);
    s.loss_v = fit.loss_before;
    s.delta_loss_v = fit.loss_after - fit.loss_before;
    return s;
  }

 private:
  struct Eval {
    double loss = 0, approx_kl = 0, exact_kl = 0, clip_frac = 0;
  };

  // Loss and diagnostics at the policy's cached forward; leaves in w_ (first act.rows() entries)
  // the per-sample weights of d loss / d logp (the surrogate part), for grad_logp.
  // logp_, w_ and kl_ hold the largest batch (the full one); minibatches use their heads.
  template <class ActT, class AdvT, class LogpT, class DistT>
  Eval evaluate(nn::Policy<T>& pi, const ActT& act, const AdvT& adv, const LogpT& logp_old,
                const DistT& dist_old) {
    const Index n = act.rows();
    safe_grow(logp_, n);
    safe_grow(w_, n);
    auto logp = logp_.head(n);
    auto w = w_.head(n);
    pi.logp(act, logp);
    const SurrogateEval se = penalty_ ? ratio_surrogate(logp, logp_old, adv, w)
                                      : ppo_clip_surrogate(logp, logp_old, adv, cfg_.clip_ratio, w);
    Eval e{se.loss, se.approx_kl, 0.0, se.clip_frac};
    if (penalty_) {
      safe_grow(kl_, n);
      auto kl = kl_.head(n);
      pi.kl(dist_old, kl);
      e.exact_kl = kl.mean();
      e.loss += beta_ * e.exact_kl;
    }
    return e;
  }

  // One Adam step on the loss evaluated last (gradient averaged across ranks).
  template <class ActT, class DistT>
  void step(nn::Policy<T>& pi, ActorCritic<T>& ac, const ActT& act, const DistT& dist_old,
            const mpi::Comm& comm) {
    pi.grad_logp(act, w_.head(act.rows()), grad_);
    if (penalty_) {
      pi.grad_kl(dist_old, kl_grad_);
      grad_ += static_cast<T>(beta_) * kl_grad_;
    }
    add_entropy_bonus(pi, cfg_.ent_coef, grad_, ent_w_, ent_g_);
    apply_gradient(ac, comm);
  }

  void apply_gradient(ActorCritic<T>& ac, const mpi::Comm& comm) {
    comm.average(Eigen::Ref<Vec>(grad_));
    clip_grad_norm(grad_, cfg_.max_grad_norm);
    pi_opt_.step(ac.pi_params, grad_);
  }

  // When the policy gradient is the clip surrogate's alone (no KL penalty, no entropy bonus), the
  // forward and the gradient run in one pass over the network (Policy::forward_grad_logp).
  bool fused_gradient() const { return !penalty_ && cfg_.ent_coef <= 0; }
  // PPO-clip's KL early stop (Spinning Up); --target-kl 0 turns it off, as SB3 and CleanRL default.
  bool early_stop() const { return !penalty_ && cfg_.target_kl > 0; }

  // The policy's forward at the current parameters and the clip surrogate's gradient (into
  // grad_) in one pass: evaluate()'s weights and sums (ClipSums, in row order) as the blocks come
  // out of the network. Returns what evaluate() would.
  template <class ObsT, class ActT, class AdvT, class LogpT>
  Eval forward_and_gradient(nn::Policy<T>& pi, const ActorCritic<T>& ac, const ObsT& obs, const ActT& act,
                            const AdvT& adv, const LogpT& logp_old) {
    const double inv_n = 1.0 / static_cast<double>(act.rows());
    const double eps = cfg_.clip_ratio;
    ClipSums sums;
    auto w_of = [&](Index i0, Index m, const T* logp, T* w) {
      for (Index r = 0; r < m; ++r) w[r] = sums.add<T>(logp[r], logp_old[i0 + r], adv[i0 + r], eps, inv_n);
    };
    pi.forward_grad_logp(ac.pi_params, obs, act, w_of, grad_);
    const SurrogateEval se = sums.result(inv_n);
    return {se.loss, se.approx_kl, 0.0, se.clip_frac};
  }

  void minibatch_epochs(ActorCritic<T>& ac, const RolloutBuffer<T>& b, UpdateContext& ctx, int& stop_iter) {
    auto& pi = *ac.pi;
    const Index n = b.size();
    const Index m = cfg_.minibatch_size > 0 ? std::min<Index>(cfg_.minibatch_size, n) : std::min<Index>(64, n);
    // Gather buffers of m rows; a shorter last minibatch uses their top rows (row-major:
    // contiguous, laid out as a matrix of exactly that many rows).
    safe_resize(mb_obs_, m, b.obs.cols());
    safe_resize(mb_act_, m, b.act.cols());
    safe_resize(mb_dist_, m, b.dist.cols());
    safe_resize(mb_adv_, m);
    safe_resize(mb_logp_, m);
    safe_resize(mb_ret_, m);
    safe_resize(mb_val_, m);
    idx_.resize(static_cast<std::size_t>(n));  // keeps its capacity: allocates on the first update only
    std::iota(idx_.begin(), idx_.end(), Index{0});
    for (int epoch = 0; epoch < cfg_.update_epochs; ++epoch) {
      if (epoch > 0 && early_stop()) {
        pi.forward(ac.pi_params, b.obs);
        const Eval e = evaluate(pi, b.act, b.adv, b.logp, b.dist);
        if (ctx.comm.average(e.approx_kl) > 1.5 * cfg_.target_kl) {
          stop_iter = epoch;
          return;
        }
      }
      v_loss_last_epoch_ = 0;  // this epoch's minibatch losses, weighted by rows
      // Fisher-Yates with the rank's own stream.
      for (Index i = n - 1; i > 0; --i)
        std::swap(idx_[static_cast<std::size_t>(i)],
                  idx_[static_cast<std::size_t>(ctx.rng.uniform_int(static_cast<std::uint64_t>(i + 1)))]);
      for (Index start = 0; start < n; start += m) {
        const Index len = std::min(m, n - start);
        for (Index k = 0; k < len; ++k) {
          const Index r = idx_[static_cast<std::size_t>(start + k)];
          mb_obs_.row(k) = b.obs.row(r);
          mb_act_.row(k) = b.act.row(r);
          mb_dist_.row(k) = b.dist.row(r);
          mb_adv_[k] = b.adv[r];
          mb_logp_[k] = b.logp[r];
          mb_ret_[k] = b.ret[r];
          mb_val_[k] = b.val[r];
        }
        const auto obs = mb_obs_.topRows(len);
        const auto act = mb_act_.topRows(len);
        const auto dist = mb_dist_.topRows(len);
        if (norm_adv_minibatch_ && len > 1) {  // SB3 / CleanRL: (adv - mean) / (std + 1e-8), unbiased std
          auto adv = mb_adv_.head(len);
          const T mean = adv.mean();
          const T var = (adv.array() - mean).square().sum() / static_cast<T>(len - 1);
          adv = (adv.array() - mean) / (std::sqrt(var) + static_cast<T>(1e-8));
        }
        if (fused_gradient()) {
          forward_and_gradient(pi, ac, obs, act, mb_adv_.head(len), mb_logp_.head(len));
          apply_gradient(ac, ctx.comm);
        } else {
          pi.forward(ac.pi_params, obs);
          evaluate(pi, act, mb_adv_.head(len), mb_logp_.head(len), dist);
          step(pi, ac, act, dist, ctx.comm);
        }
        if (critic_on_minibatches_) {  // the PPO paper's critic: one step on the same minibatch
          const double v_loss = value_loss_grad<T>(ac, obs, mb_ret_.head(len), mb_val_.head(len), cfg_, v_work_);
          v_loss_last_epoch_ += v_loss * static_cast<double>(len) / static_cast<double>(n);
          ctx.comm.average(Eigen::Ref<Vec>(v_work_.grad));
          clip_grad_norm(v_work_.grad, cfg_.max_grad_norm);
          v_opt_.step(ac.v_params, v_work_.grad);
        }
      }
    }
  }

  Config cfg_;
  bool penalty_;
  bool critic_on_minibatches_;  // --vf-update minibatch (auto with --update-epochs)
  bool norm_adv_minibatch_;     // --norm-adv minibatch
  double v_loss_last_epoch_ = 0;  // the minibatch critic's mean loss over the last update epoch
  double beta_;
  nn::Adam<T> pi_opt_, v_opt_;
  // Work space, sized by the first update: later updates of the same batch size allocate nothing.
  Vec logp_, w_, kl_, ent_, grad_, kl_grad_, ent_w_, ent_g_;
  Mat mb_obs_, mb_act_, mb_dist_;
  Vec mb_adv_, mb_logp_, mb_ret_, mb_val_;
  std::vector<Index> idx_;
  ValueFitWork<T> v_work_;
};

}  // namespace

template <class T>
std::unique_ptr<Algorithm<T>> make_ppo(const Config& cfg, const ActorCritic<T>& ac) {
  return std::make_unique<Ppo<T>>(cfg, ac);
}
template std::unique_ptr<Algorithm<double>> make_ppo<double>(const Config&, const ActorCritic<double>&);
template std::unique_ptr<Algorithm<float>> make_ppo<float>(const Config&, const ActorCritic<float>&);

}  // namespace rlmpi::algo
