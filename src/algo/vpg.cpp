// Vanilla policy gradient with GAE advantages (Spinning Up's vpg.py): one full-batch Adam step
// on L = -mean(logp(a|s) * adv) per epoch, then train_v_iters value steps.
// Unlike Spinning Up's PyTorch VPG, KL and DeltaLossPi are measured after the step.
#include <cmath>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/core/safe_resize.hpp"

namespace rlmpi::algo {
namespace {

template <class T>
class Vpg final : public Algorithm<T> {
  using Vec = VectorX<T>;
  using Mat = MatrixX<T>;

 public:
  Vpg(const Config& cfg, const ActorCritic<T>& ac)
      : cfg_(cfg),
        pi_opt_(ac.pi_params.size(), cfg.pi_lr, 0.9, 0.999, cfg.adam_eps, ac.v->mlp().isa()),
        v_opt_(ac.v_params.size(), cfg.vf_lr, 0.9, 0.999, cfg.adam_eps, ac.v->mlp().isa()) {}

  std::vector<std::string> extra_columns() const override { return {}; }

  std::vector<NamedArray> state() const override {
    std::vector<NamedArray> s;
    append_adam_state(s, "pi_adam", pi_opt_);
    append_adam_state(s, "v_adam", v_opt_);
    return s;
  }
  void set_lr_scale(double frac) override {
    pi_opt_.set_lr(cfg_.pi_lr * frac);
    v_opt_.set_lr(cfg_.vf_lr * frac);
  }
  void set_state(const std::vector<NamedArray>& s) override {
    restore_adam_state(s, "pi_adam", pi_opt_);
    restore_adam_state(s, "v_adam", v_opt_);
  }

  UpdateStats update(ActorCritic<T>& ac, const RolloutBuffer<T>& b, UpdateContext& ctx) override {
    const mpi::Comm& comm = ctx.comm;
    auto& pi = *ac.pi;
    const Index n = b.size();
    safe_resize(logp_, n);  // safe_resize: no double free after a bad_alloc
    safe_resize(ent_, n);
    safe_resize(w_, n);
    safe_resize(grad_, ac.pi_params.size());

    pi.forward(ac.pi_params, b.obs);
    pi.entropy(ent_);
    pi.logp(b.act, logp_);
    UpdateStats s;
    s.entropy = comm.average(ent_.mean());
    s.loss_pi = comm.average(-(logp_.array() * b.adv.array()).mean());

    w_ = -b.adv / static_cast<T>(n);  // d/dlogp of the loss
    pi.grad_logp(b.act, w_, grad_);
    add_entropy_bonus(pi, cfg_.ent_coef, grad_, ent_w_, ent_g_);
    comm.average(Eigen::Ref<Vec>(grad_));
    clip_grad_norm(grad_, cfg_.max_grad_norm);
    pi_opt_.step(ac.pi_params, grad_);

    pi.forward(ac.pi_params, b.obs);
    pi.logp(b.act, logp_);
    s.kl = comm.average((b.logp - logp_).mean());
    s.delta_loss_pi = comm.average(-(logp_.array() * b.adv.array()).mean()) - s.loss_pi;

    const ValueFit fit = fit_value(ac, v_opt_, b, cfg_, comm, v_work_);
    s.loss_v = fit.loss_before;
    s.delta_loss_v = fit.loss_after - fit.loss_before;
    return s;
  }

 private:
  Config cfg_;
  nn::Adam<T> pi_opt_, v_opt_;
  // Work space, sized by the first update: later updates of the same batch size allocate nothing.
  Vec logp_, ent_, w_, grad_, ent_w_, ent_g_;
  ValueFitWork<T> v_work_;
};

}  // namespace

template <class T>
std::unique_ptr<Algorithm<T>> make_vpg(const Config& cfg, const ActorCritic<T>& ac) {
  return std::make_unique<Vpg<T>>(cfg, ac);
}
template std::unique_ptr<Algorithm<double>> make_vpg<double>(const Config&, const ActorCritic<double>&);
template std::unique_ptr<Algorithm<float>> make_vpg<float>(const Config&, const ActorCritic<float>&);

}  // namespace rlmpi::algo
