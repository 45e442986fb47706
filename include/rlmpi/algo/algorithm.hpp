#pragma once
// What every algorithm shares: the actor-critic (policy and value nets with their flat
// parameter vectors), the per-epoch update interface and the value-function fit.
// One file per algorithm implements Algorithm: vpg.cpp, trpo.cpp, ppo.cpp. Everything network-side
// is templated on the networks' scalar T (--precision), instantiated for double and float;
// statistics and checkpointed state are double whatever T is.
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rlmpi/algo/buffer.hpp"
#include "rlmpi/core/config.hpp"
#include "rlmpi/core/rng.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/mpi/comm.hpp"
#include "rlmpi/nn/adam.hpp"
#include "rlmpi/nn/policy.hpp"
#include "rlmpi/nn/value.hpp"

namespace rlmpi::algo {

template <class T>
struct ActorCritic {
  std::unique_ptr<nn::Policy<T>> pi;
  std::unique_ptr<nn::ValueFunction<T>> v;
  VectorX<T> pi_params;
  VectorX<T> v_params;
};

// Builds the nets for an observation size and action space, initialises the parameters from
// `seed` and broadcasts them from rank 0 so every rank starts from the same bits.
// The instruction set of the nn kernels for cfg.isa, the same on every rank (collective):
// "auto" is the best that every rank's CPU runs; a named set that some rank's CPU cannot run is
// a UsageError on every rank.
nn::Isa agreed_isa(const Config& cfg, const mpi::Comm& comm);

template <class T>
ActorCritic<T> make_actor_critic(const Config& cfg, int obs_dim, bool discrete, int n_or_act_dim,
                              const mpi::Comm& comm);

// The update's statistics, all cross-rank means. NaN where an algorithm does not define one.
struct UpdateStats {
  static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  double loss_pi = nan, loss_v = nan, delta_loss_pi = nan, delta_loss_v = nan;
  double entropy = nan, kl = nan;
  double clip_frac = nan, stop_iter = nan, beta = nan;  // PPO
  double backtrack_iters = nan;                         // TRPO
};

struct UpdateContext {
  const mpi::Comm& comm;
  Rng& rng;  // per-rank stream (minibatch shuffling)
  // The buffer's logp, dist and val are the current networks' outputs on its observations (the
  // trainer's own rollout, at these parameters): statistics before the update may be taken from
  // them instead of a full-batch forward.
  bool rollout_at_params = false;
};

// A named flat array of an algorithm's state (optimizer moments, counters, PPO beta), for
// checkpoints. Integers are stored as doubles (exact below 2^53).
struct NamedArray {
  std::string name;
  std::vector<double> data;
};

template <class T>
class Algorithm {
 public:
  virtual ~Algorithm() = default;
  // One update on this epoch's (advantage-normalised) buffer. Every gradient and Fisher-vector
  // product is averaged across ranks with one allreduce on the flat vector.
  virtual UpdateStats update(ActorCritic<T>& ac, const RolloutBuffer<T>& buf, UpdateContext& ctx) = 0;
  // Names of the algorithm-specific columns among clip_frac, stop_iter, beta, backtrack_iters.
  virtual std::vector<std::string> extra_columns() const = 0;
  // Everything besides the network parameters that the next update depends on.
  virtual std::vector<NamedArray> state() const = 0;
  // --anneal-lr: learning rates become their configured values times `frac`.
  virtual void set_lr_scale(double frac) = 0;
  // Restores state(); throws std::invalid_argument when names or sizes do not match.
  virtual void set_state(const std::vector<NamedArray>& s) = 0;
};

// Helpers for Algorithm::state(): an Adam optimizer as arrays "<prefix>.m", ".v", ".t".
template <class T>
void append_adam_state(std::vector<NamedArray>& out, const std::string& prefix, const nn::Adam<T>& opt);
template <class T>
void restore_adam_state(const std::vector<NamedArray>& in, const std::string& prefix, nn::Adam<T>& opt);
const NamedArray& find_array(const std::vector<NamedArray>& in, const std::string& name);

// The algorithm table (src/algo/algorithms.cpp), one row per algorithm: --algo's choices and
// help, the trainer's factory and the memory estimate read it. A new algorithm is one file
// (its Algorithm<T> subclass and make function) plus one row.
template <class T>
using AlgorithmFactory = std::unique_ptr<Algorithm<T>> (*)(const Config&, const ActorCritic<T>&);
struct AlgorithmEntry {
  std::string_view name;         // --algo value
  std::string_view description;  // for --help
  AlgorithmFactory<double> make_double;
  AlgorithmFactory<float> make_float;
  // Memory estimate (algo/sizing.cpp): policy-sized vectors of optimizer state (Adam: 2) and of
  // gradient work space (gradient, search direction, Fisher products ...).
  int pi_optimizer_vectors = 2;
  int pi_gradient_vectors = 1;
};
std::span<const AlgorithmEntry> algorithms();
// The row named `name`; UsageError naming the value and the allowed ones for another name.
const AlgorithmEntry& find_algorithm(std::string_view name);
// "vpg, trpo, ppo": the names in table order.
std::string algorithm_names();
// By cfg.algo; throws UsageError for an unknown name.
template <class T>
std::unique_ptr<Algorithm<T>> make_algorithm(const Config& cfg, const ActorCritic<T>& ac);

// `iters` full-batch Adam steps on mean((V(s) - ret)^2), gradients averaged across ranks.
// Returns the cross-rank mean loss before the first and after the last step.
struct ValueFit {
  double loss_before = 0, loss_after = 0;
};
// fit_value's work space, kept by the algorithm from one update to the next: sized by the first
// call, no allocation in later ones with the same batch size.
template <class T>
struct ValueFitWork {
  VectorX<T> grad;
  MatrixX<T> dy;
  // clip_vloss back-propagates its own per-sample dV through the value net's layout; this net
  // (with its own workspace) is built once instead of copying ac.v's every update.
  std::unique_ptr<nn::Mlp<T>> mlp;
};
// With cfg.clip_vloss the loss is mean(max((V - ret)^2, (V_clip - ret)^2)) with
// V_clip = v_old + clip(V - v_old, -clip_ratio, clip_ratio) (v_old: the rollout's values).
// Gradients are clipped to cfg.max_grad_norm when it is > 0.
template <class T>
ValueFit fit_value(ActorCritic<T>& ac, nn::Adam<T>& opt, const RolloutBuffer<T>& b, const Config& cfg,
                   const mpi::Comm& comm, ValueFitWork<T>& work);

// One (mini)batch's value loss, its gradient left in work.grad (not averaged across ranks):
// mean((V - ret)^2), or with cfg.clip_vloss the clipped loss around v_old (the rollout's values).
template <class T>
double value_loss_grad(ActorCritic<T>& ac, const Eigen::Ref<const MatrixX<T>>& obs,
                       const Eigen::Ref<const VectorX<T>>& ret, const Eigen::Ref<const VectorX<T>>& v_old,
                       const Config& cfg, ValueFitWork<T>& work);

// Scales g so that its norm is at most max_norm (no-op for max_norm <= 0). Applied after the
// allreduce, so every rank clips identically.
template <class T>
void clip_grad_norm(VectorX<T>& g, double max_norm);

// Adds the entropy bonus -ent_coef * mean(H) to a policy gradient at the policy's cached forward.
// w and g are work space (grown to the largest batch, then reused without allocation).
template <class T>
void add_entropy_bonus(nn::Policy<T>& pi, double ent_coef, VectorX<T>& grad, VectorX<T>& w, VectorX<T>& g);

}  // namespace rlmpi::algo
