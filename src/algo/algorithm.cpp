#include "rlmpi/algo/algorithm.hpp"

#include <stdexcept>

#include "rlmpi/core/error.hpp"

namespace rlmpi::algo {

ActorCritic make_actor_critic(const Config& cfg, int obs_dim, bool discrete, int n_or_act_dim,
                              const mpi::Comm& comm) {
  const nn::Activation act = nn::parse_activation(cfg.activation);
  ActorCritic ac;
  ac.pi = nn::make_policy<Scalar>(discrete, obs_dim, n_or_act_dim, cfg.hid, act);
  ac.v = std::make_unique<nn::ValueFunction<Scalar>>(obs_dim, cfg.hid, act);
  ac.pi_params = Vector::Zero(ac.pi->num_params());
  ac.v_params = Vector::Zero(ac.v->num_params());
  // Initialised from the base seed on rank 0, then broadcast (Spinning Up's sync_params).
  Rng init_rng(cfg.seed);
  if (comm.is_root()) {
    ac.pi->init_params(ac.pi_params, init_rng, nn::Init::Default);
    ac.v->init_params(ac.v_params, init_rng, nn::Init::Default);
  }
  comm.broadcast(Eigen::Ref<Eigen::VectorXd>(ac.pi_params));
  comm.broadcast(Eigen::Ref<Eigen::VectorXd>(ac.v_params));
  return ac;
}

ValueFit fit_value(ActorCritic& ac, nn::Adam<Scalar>& opt, const Matrix& obs, const Vector& ret, int iters,
                   const mpi::Comm& comm) {
  Vector grad(ac.v_params.size());
  ValueFit fit;
  for (int i = 0; i < iters; ++i) {
    const double loss = ac.v->mse_grad(ac.v_params, obs, ret, grad);
    if (i == 0) fit.loss_before = comm.average(loss);
    comm.average(Eigen::Ref<Eigen::VectorXd>(grad));
    opt.step(ac.v_params, grad);
  }
  fit.loss_after = comm.average(ac.v->mse_grad(ac.v_params, obs, ret, grad));
  if (iters == 0) fit.loss_before = fit.loss_after;
  return fit;
}

const NamedArray& find_array(const std::vector<NamedArray>& in, const std::string& name) {
  for (const auto& a : in)
    if (a.name == name) return a;
  throw std::invalid_argument("algorithm state has no array '" + name + "'");
}

void append_adam_state(std::vector<NamedArray>& out, const std::string& prefix, const nn::Adam<Scalar>& opt) {
  const auto& st = opt.state();
  out.push_back({prefix + ".m", std::vector<double>(st.m.data(), st.m.data() + st.m.size())});
  out.push_back({prefix + ".v", std::vector<double>(st.v.data(), st.v.data() + st.v.size())});
  out.push_back({prefix + ".t", {static_cast<double>(st.t)}});
}

void restore_adam_state(const std::vector<NamedArray>& in, const std::string& prefix, nn::Adam<Scalar>& opt) {
  const auto& m = find_array(in, prefix + ".m").data;
  const auto& v = find_array(in, prefix + ".v").data;
  const auto& t = find_array(in, prefix + ".t").data;
  if (t.size() != 1) throw std::invalid_argument("algorithm state: bad size of " + prefix + ".t");
  nn::Adam<Scalar>::State st;
  st.m = Eigen::Map<const Vector>(m.data(), static_cast<Index>(m.size()));
  st.v = Eigen::Map<const Vector>(v.data(), static_cast<Index>(v.size()));
  st.t = static_cast<std::int64_t>(t[0]);
  opt.set_state(std::move(st));
}

std::unique_ptr<Algorithm> make_algorithm(const Config& cfg, const ActorCritic& ac) {
  if (cfg.algo == "vpg") return make_vpg(cfg, ac);
  if (cfg.algo == "trpo") return make_trpo(cfg, ac);
  if (cfg.algo == "ppo") return make_ppo(cfg, ac);
  throw UsageError("unknown algorithm '" + cfg.algo + "' (allowed: vpg, trpo, ppo)");
}

}  // namespace rlmpi::algo
