// Trust region policy optimisation (Schulman et al. 2015) as Spinning Up's tf1 trpo.py:
//   g      = grad of L = -mean(ratio * adv) at theta_old, averaged across ranks
//   x      = cg_iters of conjugate gradient on (F + damping I) x = g, every F v averaged across ranks
//   alpha  = sqrt(2 delta / (x . F x + 1e-8))
//   theta  = theta_old - alpha * backtrack_coeff^j * x for the first j in [0, backtrack_iters) whose
//            cross-rank mean KL(old || new) <= delta and whose loss does not increase;
//            if none qualifies the old parameters are kept and BacktrackIters = backtrack_iters.
// Then train_v_iters value steps.
#include <cmath>

#include "rlmpi/algo/algorithm.hpp"
#include "rlmpi/algo/objectives.hpp"
#include "rlmpi/nn/cg.hpp"
#include "rlmpi/core/safe_resize.hpp"

namespace rlmpi::algo {
namespace {

template <class T>
class Trpo final : public Algorithm<T> {
  using Vec = VectorX<T>;
  using Mat = MatrixX<T>;

 public:
  Trpo(const Config& cfg, const ActorCritic<T>& ac)
      : cfg_(cfg), v_opt_(ac.v_params.size(), cfg.vf_lr, 0.9, 0.999, cfg.adam_eps, ac.v->mlp().isa()) {}

  std::vector<std::string> extra_columns() const override { return {"backtrack_iters"}; }
  std::vector<NamedArray> state() const override {
    std::vector<NamedArray> s;
    append_adam_state(s, "v_adam", v_opt_);
    return s;
  }
  void set_state(const std::vector<NamedArray>& s) override { restore_adam_state(s, "v_adam", v_opt_); }
  void set_lr_scale(double frac) override { v_opt_.set_lr(cfg_.vf_lr * frac); }

  UpdateStats update(ActorCritic<T>& ac, const RolloutBuffer<T>& b, UpdateContext& ctx) override {
    const mpi::Comm& comm = ctx.comm;
    auto& pi = *ac.pi;
    const Index n = b.size();
    const Index np = ac.pi_params.size();
    UpdateStats s;
    safe_resize(logp_, n);  // safe_resize: no double free after a bad_alloc
    safe_resize(kl_, n);
    safe_resize(w_, n);
    safe_resize(ent_, n);
    safe_resize(g_, np);
    safe_resize(fx_, np);
    safe_resize(theta_old_, np);
    safe_resize(full_step_, np);

    pi.forward(ac.pi_params, b.obs);
    pi.entropy(ent_);
    s.entropy = comm.average(ent_.mean());
    pi.logp(b.act, logp_);
    const double loss_old = comm.average(ratio_surrogate(logp_, b.logp, b.adv, w_).loss);
    pi.grad_logp(b.act, w_, g_);
    comm.average(Eigen::Ref<Vec>(g_));

    // Each Fisher-vector product is one allreduce (at the cached forward of theta_old).
    const T damping = static_cast<T>(cfg_.damping);
    auto fvp = [&](const Vec& v, Vec& out) {
      safe_resize(out, v.size());
      pi.fvp(v, damping, out);
      comm.average(Eigen::Ref<Vec>(out));
    };
    nn::conjugate_gradient<T>(fvp, g_, cfg_.cg_iters, cg_);
    const Vec& x = cg_.x;
    fvp(x, fx_);
    const double alpha = std::sqrt(2 * cfg_.delta / (x.dot(fx_) + 1e-8));

    theta_old_ = ac.pi_params;
    full_step_ = static_cast<T>(alpha) * x;
    const LineSearch ls = backtracking_line_search(
        ac.pi_params, theta_old_, full_step_, loss_old, cfg_.delta, cfg_.backtrack_iters, cfg_.backtrack_coeff,
        [&](const Vec& theta) {
          pi.forward(theta, b.obs);
          pi.logp(b.act, logp_);
          pi.kl(b.dist, kl_);
          double kl_loss[2] = {kl_.mean(), ratio_surrogate(logp_, b.logp, b.adv, w_).loss};
          comm.average(std::span<double>(kl_loss));  // one allreduce per trial step
          return std::pair{kl_loss[0], kl_loss[1]};
        });
    s.backtrack_iters = ls.backtrack_iters;
    const double kl = ls.kl, loss = ls.loss;
    s.loss_pi = loss_old;
    s.kl = kl;
    s.delta_loss_pi = loss - loss_old;

    const ValueFit fit = fit_value(ac, v_opt_, b, cfg_, comm, v_work_);
    s.loss_v = fit.loss_before;
    s.delta_loss_v = fit.loss_after - fit.loss_before;
    return s;
  }

 private:
  Config cfg_;
  nn::Adam<T> v_opt_;
  // Work space, sized by the first update: later updates of the same batch size allocate nothing.
  Vec logp_, kl_, w_, ent_, g_, fx_, theta_old_, full_step_;
  nn::CgWork<T> cg_;
  ValueFitWork<T> v_work_;
};

}  // namespace

template <class T>
std::unique_ptr<Algorithm<T>> make_trpo(const Config& cfg, const ActorCritic<T>& ac) {
  return std::make_unique<Trpo<T>>(cfg, ac);
}
template std::unique_ptr<Algorithm<double>> make_trpo<double>(const Config&, const ActorCritic<double>&);
template std::unique_ptr<Algorithm<float>> make_trpo<float>(const Config&, const ActorCritic<float>&);

}  // namespace rlmpi::algo
