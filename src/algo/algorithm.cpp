#include "rlmpi/algo/algorithm.hpp"

#include <type_traits>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "rlmpi/core/error.hpp"
#include "rlmpi/core/safe_resize.hpp"

namespace rlmpi::algo {

nn::Isa agreed_isa(const Config& cfg, const mpi::Comm& comm) {
  if (cfg.isa == "auto") return static_cast<nn::Isa>(comm.allreduce_min(static_cast<double>(nn::best_isa())));
  const nn::Isa isa = nn::parse_isa(cfg.isa);
  if (comm.allreduce_min(nn::cpu_supports(isa) ? 1.0 : 0.0) == 0) {
    std::string here;
    for (nn::Isa s : nn::supported_isas()) {
      if (!here.empty()) here += ", ";
      here += nn::to_string(s);
    }
    throw UsageError("--isa " + cfg.isa + ": not every rank's CPU runs it (rank " + std::to_string(comm.rank()) +
                     " runs: " + here + "; allowed: auto or a set every rank runs)");
  }
  return isa;
}

template <class T>
ActorCritic<T> make_actor_critic(const Config& cfg, int obs_dim, bool discrete, int n_or_act_dim,
                              const mpi::Comm& comm) {
  const nn::Activation act = nn::parse_activation(cfg.activation);
  const nn::Isa isa = agreed_isa(cfg, comm);
  ActorCritic<T> ac;
  ac.pi = nn::make_policy<T>(discrete, obs_dim, n_or_act_dim, cfg.hid, act, isa);
  ac.v = std::make_unique<nn::ValueFunction<T>>(obs_dim, cfg.hid, act, isa);
  ac.pi_params = VectorX<T>::Zero(ac.pi->num_params());
  ac.v_params = VectorX<T>::Zero(ac.v->num_params());
  // Initialised from the base seed on rank 0, then broadcast (Spinning Up's sync_params).
  Rng init_rng(cfg.seed);
  if (comm.is_root()) {
    const nn::Init init = nn::parse_init(cfg.init);
    ac.pi->init_params(ac.pi_params, init_rng, init);
    ac.v->init_params(ac.v_params, init_rng, init);
    // The Gaussian's log_std is the last act_dim entries (nn/policy.hpp).
    if (!discrete) ac.pi_params.tail(n_or_act_dim).setConstant(static_cast<T>(cfg.init_log_std));
  }
  comm.broadcast(Eigen::Ref<VectorX<T>>(ac.pi_params));
  comm.broadcast(Eigen::Ref<VectorX<T>>(ac.v_params));
  return ac;
}

template <class T>
void clip_grad_norm(VectorX<T>& g, double max_norm) {
  if (max_norm <= 0) return;
  const double norm = g.norm();
  if (norm > max_norm) g *= static_cast<T>(max_norm / (norm + 1e-6));
}

template <class T>
void add_entropy_bonus(nn::Policy<T>& pi, double ent_coef, VectorX<T>& grad, VectorX<T>& w, VectorX<T>& g) {
  if (ent_coef <= 0) return;
  const Index n = pi.batch();
  safe_grow(w, n);
  safe_resize(g, grad.size());
  w.head(n).setConstant(static_cast<T>(-ent_coef / static_cast<double>(n)));
  pi.grad_entropy(w.head(n), g);
  grad += g;
}

namespace {
// Clipped value loss and its gradient (CleanRL's clip_vloss, without the 0.5 factor so that it
// reduces to the MSE when nothing is clipped).
template <class T>
double clipped_value_grad(nn::Mlp<T>& mlp, const VectorX<T>& params, const Eigen::Ref<const MatrixX<T>>& obs,
                          const Eigen::Ref<const VectorX<T>>& ret, const Eigen::Ref<const VectorX<T>>& val,
                          double eps, VectorX<T>& grad, MatrixX<T>& dy) {
  const Index n = obs.rows();
  const auto v = mlp.forward(params.data(), obs);
  if (dy.rows() < n || dy.cols() != 1) safe_resize(dy, n, 1);  // keeps its largest size: minibatches use the top rows
  double loss = 0;
  for (Index i = 0; i < n; ++i) {
    const double diff = v(i, 0) - val[i];
    const double vc = val[i] + std::clamp(diff, -eps, eps);
    const double l1 = (v(i, 0) - ret[i]) * (v(i, 0) - ret[i]);
    const double l2 = (vc - ret[i]) * (vc - ret[i]);
    if (l1 >= l2) {
      loss += l1;
      dy(i, 0) = static_cast<T>(2 * (v(i, 0) - ret[i]) / static_cast<double>(n));
    } else {
      loss += l2;
      dy(i, 0) = std::abs(diff) < eps ? static_cast<T>(2 * (vc - ret[i]) / static_cast<double>(n)) : T(0);
    }
  }
  mlp.backward(params.data(), dy.topRows(n), grad.data());
  return loss / static_cast<double>(n);
}

template <class T>
void prepare_value_work(const ActorCritic<T>& ac, const Config& cfg, ValueFitWork<T>& work) {
  safe_resize(work.grad, ac.v_params.size());
  if (cfg.clip_vloss) {
    const nn::Mlp<T>& layout = ac.v->mlp();
    if (!work.mlp || work.mlp->sizes() != layout.sizes() || work.mlp->activation() != layout.activation() ||
        work.mlp->isa() != layout.isa())
      work.mlp = std::make_unique<nn::Mlp<T>>(layout.sizes(), layout.activation(), layout.isa());
  }
}
}  // namespace

template <class T>
double value_loss_grad(ActorCritic<T>& ac, const Eigen::Ref<const MatrixX<T>>& obs,
                       const Eigen::Ref<const VectorX<T>>& ret, const Eigen::Ref<const VectorX<T>>& v_old,
                       const Config& cfg, ValueFitWork<T>& work) {
  prepare_value_work(ac, cfg, work);
  if (cfg.clip_vloss)
    return clipped_value_grad<T>(*work.mlp, ac.v_params, obs, ret, v_old, cfg.clip_ratio, work.grad, work.dy);
  return ac.v->mse_grad(ac.v_params, obs, ret, work.grad);
}

template <class T>
ValueFit fit_value(ActorCritic<T>& ac, nn::Adam<T>& opt, const RolloutBuffer<T>& b, const Config& cfg,
                   const mpi::Comm& comm, ValueFitWork<T>& work) {
  VectorX<T>& grad = work.grad;
  prepare_value_work(ac, cfg, work);
  auto loss_grad = [&]() -> double {
    if (cfg.clip_vloss)
      return clipped_value_grad<T>(*work.mlp, ac.v_params, b.obs, b.ret, b.val, cfg.clip_ratio, grad, work.dy);
    return ac.v->mse_grad(ac.v_params, b.obs, b.ret, grad);
  };
  ValueFit fit;
  for (int i = 0; i < cfg.train_v_iters; ++i) {
    const double loss = loss_grad();
    if (i == 0) fit.loss_before = comm.average(loss);
    comm.average(Eigen::Ref<VectorX<T>>(grad));
    clip_grad_norm(grad, cfg.max_grad_norm);
    opt.step(ac.v_params, grad);
  }
  // The final loss needs no gradient (only the clipped loss still goes through loss_grad).
  fit.loss_after = comm.average(cfg.clip_vloss ? loss_grad() : ac.v->mse(ac.v_params, b.obs, b.ret));
  if (cfg.train_v_iters == 0) fit.loss_before = fit.loss_after;
  return fit;
}

const NamedArray& find_array(const std::vector<NamedArray>& in, const std::string& name) {
  for (const auto& a : in)
    if (a.name == name) return a;
  throw std::invalid_argument("algorithm state has no array '" + name + "'");
}

template <class T>
void append_adam_state(std::vector<NamedArray>& out, const std::string& prefix, const nn::Adam<T>& opt) {
  const auto& st = opt.state();
  out.push_back({prefix + ".m", std::vector<double>(st.m.data(), st.m.data() + st.m.size())});
  out.push_back({prefix + ".v", std::vector<double>(st.v.data(), st.v.data() + st.v.size())});
  out.push_back({prefix + ".t", {static_cast<double>(st.t)}});
}

template <class T>
void restore_adam_state(const std::vector<NamedArray>& in, const std::string& prefix, nn::Adam<T>& opt) {
  const auto& m = find_array(in, prefix + ".m").data;
  const auto& v = find_array(in, prefix + ".v").data;
  const auto& t = find_array(in, prefix + ".t").data;
  if (t.size() != 1) throw std::invalid_argument("algorithm state: bad size of " + prefix + ".t");
  typename nn::Adam<T>::State st;
  st.m = Eigen::Map<const Eigen::VectorXd>(m.data(), static_cast<Index>(m.size())).cast<T>();
  st.v = Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Index>(v.size())).cast<T>();
  st.t = static_cast<std::int64_t>(t[0]);
  opt.set_state(std::move(st));
}

const AlgorithmEntry& find_algorithm(std::string_view name) {
  for (const auto& a : algorithms())
    if (a.name == name) return a;
  throw UsageError("invalid value '" + std::string(name) + "' for --algo (allowed: " + algorithm_names() + ")");
}

std::string algorithm_names() {
  std::string out;
  for (const auto& a : algorithms()) out += (out.empty() ? "" : ", ") + std::string(a.name);
  return out;
}

template <class T>
std::unique_ptr<Algorithm<T>> make_algorithm(const Config& cfg, const ActorCritic<T>& ac) {
  const AlgorithmEntry& a = find_algorithm(cfg.algo);
  if constexpr (std::is_same_v<T, float>)
    return a.make_float(cfg, ac);
  else
    return a.make_double(cfg, ac);
}

#define RLMPI_ALGORITHM(T)                                                                                          \
  template ActorCritic<T> make_actor_critic<T>(const Config&, int, bool, int, const mpi::Comm&);                   \
  template void clip_grad_norm<T>(VectorX<T>&, double);                                                           \
  template void add_entropy_bonus<T>(nn::Policy<T>&, double, VectorX<T>&, VectorX<T>&, VectorX<T>&);             \
  template double value_loss_grad<T>(ActorCritic<T>&, const Eigen::Ref<const MatrixX<T>>&,                       \
                                     const Eigen::Ref<const VectorX<T>>&, const Eigen::Ref<const VectorX<T>>&,      \
                                     const Config&, ValueFitWork<T>&);                                             \
  template ValueFit fit_value<T>(ActorCritic<T>&, nn::Adam<T>&, const RolloutBuffer<T>&, const Config&,           \
                                 const mpi::Comm&, ValueFitWork<T>&);                                             \
  template void append_adam_state<T>(std::vector<NamedArray>&, const std::string&, const nn::Adam<T>&);           \
  template void restore_adam_state<T>(const std::vector<NamedArray>&, const std::string&, nn::Adam<T>&);          \
  template std::unique_ptr<Algorithm<T>> make_algorithm<T>(const Config&, const ActorCritic<T>&);
RLMPI_ALGORITHM(double)
RLMPI_ALGORITHM(float)
#undef RLMPI_ALGORITHM

}  // namespace rlmpi::algo
