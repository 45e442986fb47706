#include "rlmpi/algo/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <type_traits>

#include "rlmpi/algo/normalizer.hpp"
#include "rlmpi/algo/sizing.hpp"
#include "rlmpi/core/bytes.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/env/time_feature.hpp"

namespace rlmpi::algo {
namespace {

double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Everything that can be wrong with the run's input, checked identically on every rank before
// the first collective call.
std::vector<std::unique_ptr<env::Env>> make_envs(const Config& cfg, const mpi::Comm& comm) {
  if (cfg.steps_per_rank > 0 && cfg.steps_per_rank % cfg.envs_per_rank != 0)
    throw UsageError("invalid value '" + std::to_string(cfg.steps_per_rank) + "' for --steps-per-rank (allowed: " +
                     "a multiple of --envs-per-rank " + std::to_string(cfg.envs_per_rank) + ")");
  if (cfg.epoch_end != "continue" && cfg.epoch_end != "reset")
    throw UsageError("invalid value '" + cfg.epoch_end + "' for --epoch-end (allowed: continue, reset)");
  const long long per = static_cast<long long>(comm.size()) * cfg.envs_per_rank;
  if (cfg.steps_per_epoch % per != 0)
    throw UsageError("invalid value '" + std::to_string(cfg.steps_per_epoch) + "' for --steps-per-epoch (allowed: " +
                     "a multiple of ranks x envs-per-rank = " + std::to_string(comm.size()) + " x " +
                     std::to_string(cfg.envs_per_rank) + " = " + std::to_string(per) + ")");
  std::vector<std::unique_ptr<env::Env>> envs;
  for (int e = 0; e < cfg.envs_per_rank; ++e) envs.push_back(env::make_env(cfg.env));
  (void)nn::parse_activation(cfg.activation);
  (void)find_algorithm(cfg.algo);  // UsageError naming the allowed ones
  if (cfg.time_feature) {
    if (envs.front()->observation_space().is_discrete() || envs.front()->max_episode_steps() < 1)
      throw UsageError("--time-feature needs a Box observation space and a time limit (" + cfg.env + " has " +
                       envs.front()->observation_space().to_string() + " and time limit " +
                       std::to_string(envs.front()->max_episode_steps()) + ")");
    for (auto& e : envs) e = env::with_time_feature(std::move(e), true);
  }
  if (cfg.scale_actions && envs.front()->action_space().is_discrete())
    throw UsageError("--scale-actions needs a Box action space (" + cfg.env + " has " +
                     envs.front()->action_space().to_string() + ")");
  if (!cfg.skip_memory_check) check_memory_fit(cfg, comm, *envs.front());  // last: collective, one verdict
  return envs;
}

std::string column_name(const std::string& extra) {
  if (extra == "clip_frac") return "ClipFrac";
  if (extra == "stop_iter") return "StopIter";
  if (extra == "beta") return "Beta";
  if (extra == "backtrack_iters") return "BacktrackIters";
  throw std::logic_error("unknown extra column " + extra);
}

double extra_value(const UpdateStats& u, const std::string& extra) {
  if (extra == "clip_frac") return u.clip_frac;
  if (extra == "stop_iter") return u.stop_iter;
  if (extra == "beta") return u.beta;
  return u.backtrack_iters;
}

constexpr std::uint32_t kBlobMagic = 0x524c5253;  // "RLRS"
constexpr std::uint32_t kBlobVersion = 2;

}  // namespace

double EpochResult::get(const std::string& name) const {
  for (const auto& [k, v] : stats)
    if (k == name) return v;
  throw std::out_of_range("no statistic named " + name);
}

// Everything the trainer does, for networks of scalar T.
class Trainer::Impl {
 public:
  virtual ~Impl() = default;
  virtual EpochResult run_epoch() = 0;
  virtual void set_stop_check(std::function<bool()> stop) = 0;
  virtual int epoch() const = 0;
  virtual nn::Isa isa() const = 0;
  virtual const Config& config() const = 0;
  virtual Eigen::VectorXd pi_params() const = 0;
  virtual Eigen::VectorXd v_params() const = 0;
  virtual TrainerState state() const = 0;
  virtual void restore(const TrainerState& s) = 0;
  virtual std::vector<std::string> columns() const = 0;
  virtual void add_io_seconds(double s) = 0;
  virtual std::vector<NamedArray> normalizer_stats() const = 0;
};

namespace {

template <class T>
class TrainerImpl final : public Trainer::Impl {
  using Vec = VectorX<T>;
  using Mat = MatrixX<T>;

 public:
  TrainerImpl(const Config& cfg, const mpi::Comm& comm, std::vector<std::unique_ptr<env::Env>> envs);

  EpochResult run_epoch() override;
  void set_stop_check(std::function<bool()> stop) override {
    stop_check_ = std::move(stop);
    comm_ = comm_.with_stop_check(&stop_check_);
  }
  int epoch() const override { return epoch_; }
  nn::Isa isa() const override { return ac_.v->mlp().isa(); }
  const Config& config() const override { return cfg_; }
  Eigen::VectorXd pi_params() const override { return ac_.pi_params.template cast<double>(); }
  Eigen::VectorXd v_params() const override { return ac_.v_params.template cast<double>(); }
  TrainerState state() const override;
  void restore(const TrainerState& s) override;
  std::vector<std::string> columns() const override;
  void add_io_seconds(double s) override { io_seconds_ += s; }
  std::vector<NamedArray> normalizer_stats() const override {
    std::vector<NamedArray> out;
    auto vec = [](const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); };
    if (cfg_.normalize_obs) {
      out.push_back({"obs_mean", vec(obs_norm_.mean())});
      out.push_back({"obs_var", vec(obs_norm_.var())});
      out.push_back({"obs_count", {obs_norm_.count()}});
    }
    if (cfg_.normalize_reward) {
      out.push_back({"ret_var", vec(ret_norm_.var())});
      out.push_back({"ret_count", {ret_norm_.count()}});
    }
    return out;
  }

 private:
  // Returns false when the stop check fired (the rollout is incomplete).
  bool collect(std::vector<double>& ep_ret, std::vector<double>& ep_len, std::vector<double>& vvals);
  std::string first_non_finite(const EpochResult& r) const;
  // Raw observation in raw_.row(e) -> what the nets see in `dst` (and the normaliser's sample).
  void prepare_obs(int e, double* dst);

  Config cfg_;
  bool continue_episodes_;  // --epoch-end continue
  double comm_seconds_ = 0;  // time inside MPI calls (comm_ adds to it)
  double io_seconds_ = 0;    // run-file and checkpoint writes since the last epoch (the cli reports them)
  mpi::Comm comm_;
  std::vector<std::unique_ptr<env::Env>> envs_;
  bool discrete_;
  int obs_dim_, act_dim_;
  Index local_steps_;
  ActorCritic<T> ac_;
  std::unique_ptr<Algorithm<T>> algo_;
  RolloutBuffer<T> buf_;
  Rng rng_;
  int epoch_ = 0;
  long long total_steps_ = 0;
  double start_time_;
  // Rollout state carried across steps (one row per env): obs_d_ is what the nets see
  // (normalised with --normalize-obs) in double, obs_ the same in T; raw_ what the
  // environments returned; act_d_ the sampled actions widened for the environments.
  Mat obs_, act_, dist_, next_obs_;
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> obs_d_, next_obs_d_, raw_, act_d_;
  env::ActionScale action_scale_;  // --scale-actions (empty: actions go to the env as sampled)
  Vec logp_;
  std::vector<double> ep_ret_, ep_len_, disc_ret_;
  RunningNormalizer obs_norm_, ret_norm_;
  // Per-step environment info terms (e.g. reward_forward), summed over the epoch.
  std::vector<std::string> info_names_;
  std::vector<double> info_sum_;
  double diverged_ = 0;
  std::vector<double> adv_scratch_;  // float advantages widened for the statistics
  std::function<bool()> stop_check_;
};

template <class T>
TrainerImpl<T>::TrainerImpl(const Config& cfg, const mpi::Comm& comm, std::vector<std::unique_ptr<env::Env>> envs)
    : cfg_(cfg),
      continue_episodes_(cfg.epoch_end == "continue"),
      comm_(comm.timed(&comm_seconds_)),
      envs_(std::move(envs)),
      discrete_(envs_.front()->action_space().is_discrete()),
      obs_dim_(envs_.front()->obs_dim()),
      act_dim_(envs_.front()->act_dim()),
      local_steps_(cfg.steps_per_epoch / (static_cast<Index>(comm.size()) * cfg.envs_per_rank)),
      ac_(make_actor_critic<T>(cfg, obs_dim_, discrete_,
                            discrete_ ? envs_.front()->action_space().n : act_dim_, comm)),
      algo_(make_algorithm(cfg, ac_)),
      buf_(local_steps_, cfg.envs_per_rank, obs_dim_, act_dim_, ac_.pi->dist_dim(), cfg.gamma, cfg.lam),
      // Sampling stream: distinct from the environments' streams that start from the same number.
      rng_(Rng::rank_seed(cfg.seed, comm.rank()) ^ 0x9E3779B97F4A7C15ULL),
      start_time_(now_seconds()),
      obs_norm_(cfg.normalize_obs ? obs_dim_ : 0),
      ret_norm_(cfg.normalize_reward ? 1 : 0) {
  const int n = cfg.envs_per_rank;
  if (cfg.scale_actions) action_scale_ = env::ActionScale::of(envs_.front()->action_space());
  for (const auto& t : envs_.front()->info()) info_names_.emplace_back(t.name);
  info_sum_.assign(info_names_.size(), 0.0);
  raw_.resize(n, obs_dim_);
  disc_ret_.assign(static_cast<std::size_t>(n), 0.0);
  obs_.resize(n, obs_dim_);
  next_obs_.resize(n, obs_dim_);
  obs_d_.resize(n, obs_dim_);
  next_obs_d_.resize(n, obs_dim_);
  act_.resize(n, act_dim_);
  act_d_.resize(n, act_dim_);
  dist_.resize(n, ac_.pi->dist_dim());
  logp_.resize(n);
  ep_ret_.assign(static_cast<std::size_t>(n), 0.0);
  ep_len_.assign(static_cast<std::size_t>(n), 0.0);
  const std::uint64_t base = Rng::rank_seed(cfg.seed, comm.rank());
  for (int e = 0; e < n; ++e) {
    envs_[static_cast<std::size_t>(e)]->reset(base + static_cast<std::uint64_t>(e),
                                              std::span<double>(raw_.row(e).data(), static_cast<std::size_t>(obs_dim_)));
    prepare_obs(e, obs_d_.row(e).data());
  }
  obs_ = obs_d_.cast<T>();
}

template <class T>
void TrainerImpl<T>::prepare_obs(int e, double* dst) {
  const double* raw = raw_.row(e).data();
  if (!cfg_.normalize_obs) {
    std::copy(raw, raw + obs_dim_, dst);
    return;
  }
  obs_norm_.observe(raw);
  obs_norm_.normalize(raw, dst);
}

template <class T>
std::vector<std::string> TrainerImpl<T>::columns() const {
  std::vector<std::string> c = {"Epoch",        "AverageEpRet", "StdEpRet",          "MaxEpRet",   "MinEpRet",
                                "EpLen",        "AverageVVals", "StdVVals",          "MaxVVals",   "MinVVals",
                                "TotalEnvInteracts", "LossPi",  "LossV",             "DeltaLossPi", "DeltaLossV",
                                "Entropy",      "KL"};
  for (const auto& x : algo_->extra_columns()) c.push_back(column_name(x));
  for (const auto& name : info_names_) c.push_back("info." + name);
  if (!info_names_.empty()) c.push_back("Diverged");
  for (const char* name :
       {"Episodes", "Time", "TimeRollout", "TimeUpdate", "TimeComm", "TimeIO", "UpdateGFLOPS", "StepsPerSecond"})
    c.push_back(name);
  return c;
}

template <class T>
TrainerState TrainerImpl<T>::state() const {
  TrainerState st;
  st.epoch = epoch_;
  st.total_steps = total_steps_;
  st.elapsed_seconds = now_seconds() - start_time_;
  st.arrays.push_back({"pi_params", std::vector<double>(ac_.pi_params.data(), ac_.pi_params.data() + ac_.pi_params.size())});
  st.arrays.push_back({"v_params", std::vector<double>(ac_.v_params.data(), ac_.v_params.data() + ac_.v_params.size())});
  for (auto& a : algo_->state()) st.arrays.push_back(std::move(a));
  if (cfg_.normalize_obs) st.arrays.push_back({"obs_norm", obs_norm_.state()});
  if (cfg_.normalize_reward) st.arrays.push_back({"ret_norm", ret_norm_.state()});

  ByteWriter w;
  w.put(kBlobMagic);
  w.put(kBlobVersion);
  for (std::uint64_t x : rng_.state()) w.put(x);
  w.put(static_cast<std::uint64_t>(envs_.size()));
  for (std::size_t e = 0; e < envs_.size(); ++e) {
    const env::Snapshot snap = envs_[e]->snapshot();
    w.put_vector(snap.state);
    w.put_vector(snap.extra);
    w.put(static_cast<std::int64_t>(snap.elapsed_steps));
    for (std::uint64_t x : snap.rng) w.put(x);
    w.put(ep_ret_[e]);
    w.put(ep_len_[e]);
    const auto row = obs_d_.row(static_cast<Index>(e));
    w.put_vector(std::span<const double>(row.data(), static_cast<std::size_t>(row.size())));
    const auto raw = raw_.row(static_cast<Index>(e));
    w.put_vector(std::span<const double>(raw.data(), static_cast<std::size_t>(raw.size())));
    w.put(disc_ret_[e]);
  }
  st.rank_blob = w.take();
  return st;
}

template <class T>
void TrainerImpl<T>::restore(const TrainerState& st) {
  const auto& pi = find_array(st.arrays, "pi_params").data;
  const auto& v = find_array(st.arrays, "v_params").data;
  if (static_cast<Index>(pi.size()) != ac_.pi_params.size() || static_cast<Index>(v.size()) != ac_.v_params.size())
    throw std::invalid_argument("network shape differs from the checkpoint's (pi " + std::to_string(pi.size()) +
                                ", v " + std::to_string(v.size()) + " parameters there, " +
                                std::to_string(ac_.pi_params.size()) + " and " +
                                std::to_string(ac_.v_params.size()) + " here)");
  ByteReader r(st.rank_blob, "rank state");
  if (r.get<std::uint32_t>() != kBlobMagic || r.get<std::uint32_t>() != kBlobVersion)
    throw std::invalid_argument("rank state has an unknown format");
  Rng::State rs;
  for (auto& x : rs) x = r.get<std::uint64_t>();
  if (r.get<std::uint64_t>() != envs_.size())
    throw std::invalid_argument("the checkpoint has a different number of environments per rank");
  std::vector<env::Snapshot> snaps(envs_.size());
  std::vector<double> ret(envs_.size()), len(envs_.size());
  auto obs = obs_d_, raw = raw_;
  std::vector<double> disc(envs_.size());
  for (std::size_t e = 0; e < envs_.size(); ++e) {
    snaps[e].state = r.get_vector<double>();
    snaps[e].extra = r.get_vector<double>();
    snaps[e].elapsed_steps = r.get<std::int64_t>();
    for (auto& x : snaps[e].rng) x = r.get<std::uint64_t>();
    ret[e] = r.get<double>();
    len[e] = r.get<double>();
    const std::vector<double> o = r.get_vector<double>();
    if (static_cast<Index>(o.size()) != obs_d_.cols()) throw std::invalid_argument("observation size differs");
    std::copy(o.begin(), o.end(), obs.row(static_cast<Index>(e)).data());
    const std::vector<double> ro = r.get_vector<double>();
    if (static_cast<Index>(ro.size()) != raw_.cols()) throw std::invalid_argument("observation size differs");
    std::copy(ro.begin(), ro.end(), raw.row(static_cast<Index>(e)).data());
    disc[e] = r.get<double>();
  }
  if (!r.done()) throw std::invalid_argument("rank state has trailing bytes");

  // Everything validated: apply.
  algo_->set_state(st.arrays);
  if (cfg_.normalize_obs) obs_norm_.set_state(find_array(st.arrays, "obs_norm").data);
  if (cfg_.normalize_reward) ret_norm_.set_state(find_array(st.arrays, "ret_norm").data);
  ac_.pi_params = Eigen::Map<const Eigen::VectorXd>(pi.data(), static_cast<Index>(pi.size())).cast<T>();
  ac_.v_params = Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Index>(v.size())).cast<T>();
  rng_.set_state(rs);
  for (std::size_t e = 0; e < envs_.size(); ++e) envs_[e]->restore(snaps[e]);
  ep_ret_ = ret;
  ep_len_ = len;
  obs_d_ = obs;
  obs_ = obs_d_.cast<T>();
  raw_ = raw;
  disc_ret_ = disc;
  epoch_ = static_cast<int>(st.epoch);
  total_steps_ = st.total_steps;
  start_time_ = now_seconds() - st.elapsed_seconds;
}

template <class T>
bool TrainerImpl<T>::collect(std::vector<double>& ep_ret, std::vector<double>& ep_len, std::vector<double>& vvals) {
  buf_.clear();
  auto& pi = *ac_.pi;
  auto& vf = *ac_.v;
  // The parameters stay fixed for the whole rollout: the small-batch forwards check their
  // cached weights once, not at every step.
  struct Hold {
    nn::Policy<T>& pi;
    nn::ValueFunction<T>& vf;
    Hold(nn::Policy<T>& p, nn::ValueFunction<T>& v) : pi(p), vf(v) {
      pi.hold_params(true);
      vf.hold_params(true);
    }
    ~Hold() {
      pi.hold_params(false);
      vf.hold_params(false);
    }
  } hold(pi, vf);
  const int n = cfg_.envs_per_rank;
  const auto od = static_cast<std::size_t>(obs_dim_);
  const auto ad = static_cast<std::size_t>(act_dim_);
  Vec vals(n), boot(n);
  std::vector<char> done(static_cast<std::size_t>(n)), terminated(static_cast<std::size_t>(n)),
      episode_over(static_cast<std::size_t>(n));
  for (Index t = 0; t < local_steps_; ++t) {
    if (stop_check_ && stop_check_()) return false;
    pi.forward(ac_.pi_params, obs_);
    pi.sample(rng_, act_);
    pi.logp(act_, logp_);
    pi.dist_params(dist_);
    vals = vf.forward(ac_.v_params, obs_);
    act_d_ = act_.template cast<double>();
    if (!action_scale_.empty())
      for (int e = 0; e < n; ++e) action_scale_.apply(std::span<double>(act_d_.row(e).data(), ad));
    bool need_boot = false;
    for (int e = 0; e < n; ++e) {
      const auto ue = static_cast<std::size_t>(e);
      const env::StepResult r = envs_[ue]->step(std::span<const double>(act_d_.row(e).data(), ad),
                                                std::span<double>(raw_.row(e).data(), od));
      prepare_obs(e, next_obs_d_.row(e).data());
      const auto terms = envs_[ue]->info();
      for (std::size_t k = 0; k < terms.size() && k < info_sum_.size(); ++k) info_sum_[k] += terms[k].value;
      if (envs_[ue]->diverged()) diverged_ += 1;
      double rew = r.reward;
      if (cfg_.normalize_reward) {  // scale by the running std of the discounted return
        disc_ret_[ue] = disc_ret_[ue] * cfg_.gamma + r.reward;
        ret_norm_.observe(&disc_ret_[ue]);
        rew = ret_norm_.scale(r.reward);
      }
      buf_.store(e, obs_.row(e).data(), act_.row(e).data(), static_cast<T>(rew), vals[e], logp_[e],
                 dist_.row(e).data());
      ep_ret_[ue] += r.reward;
      ep_len_[ue] += 1;
      const bool timeout = r.truncated || ep_len_[ue] >= cfg_.max_ep_len;
      const bool terminal = r.terminated || timeout;
      done[ue] = terminal || t == local_steps_ - 1;
      terminated[ue] = r.terminated;
      episode_over[ue] = terminal;
      need_boot = need_boot || (done[ue] && !r.terminated);
      if (terminal) {
        ep_ret.push_back(ep_ret_[ue]);
        ep_len.push_back(ep_len_[ue]);
      }
    }
    // Bootstrap truncated and epoch-cut trajectories with V(s_T); terminated ones with 0.
    if (need_boot) {
      next_obs_ = next_obs_d_.cast<T>();
      boot = vf.forward(ac_.v_params, next_obs_);
    }
    for (int e = 0; e < n; ++e) {
      const auto ue = static_cast<std::size_t>(e);
      if (!done[ue]) continue;
      buf_.finish_path(e, terminated[ue] ? T(0) : boot[e]);
      // An episode cut by the epoch end (bootstrapped above) goes on in the next epoch with its
      // state, return and length (--epoch-end continue), or is dropped (reset: Spinning Up).
      if (!episode_over[ue] && continue_episodes_) continue;
      envs_[ue]->reset(std::span<double>(raw_.row(e).data(), od));
      prepare_obs(e, next_obs_d_.row(e).data());
      ep_ret_[ue] = 0;
      ep_len_[ue] = 0;
      disc_ret_[ue] = 0;
    }
    obs_d_ = next_obs_d_;
    obs_ = obs_d_.cast<T>();
  }
  vvals.assign(buf_.val.data(), buf_.val.data() + buf_.val.size());
  return true;
}

// Divergence: parameters, losses and statistics must stay finite. Returns the first that is not.
// Episode statistics are NaN by design in an epoch where no episode finished.
template <class T>
std::string TrainerImpl<T>::first_non_finite(const EpochResult& r) const {
  if (!ac_.pi_params.allFinite()) return "pi_params";
  if (!ac_.v_params.allFinite()) return "v_params";
  const bool no_episodes = r.get("Episodes") == 0;
  for (const auto& [name, v] : r.stats) {
    const bool episode_stat = name.find("EpRet") != std::string::npos || name == "EpLen";
    const bool env_info = name.starts_with("info.");  // the environment's own diagnostics
    if (!std::isfinite(v) && !(no_episodes && episode_stat) && !env_info) return name;
  }
  for (const auto& a : normalizer_stats())
    for (double x : a.data)
      if (!std::isfinite(x)) return "normalizer." + a.name;
  return {};
}

template <class T>
EpochResult TrainerImpl<T>::run_epoch() {
  const double t0 = now_seconds();
  comm_seconds_ = 0;
  std::vector<double> ep_ret, ep_len, vvals;
  std::fill(info_sum_.begin(), info_sum_.end(), 0.0);
  diverged_ = 0;
  const bool complete = collect(ep_ret, ep_len, vvals);
  // Every rank learns whether any rank was asked to stop (a signal reaches ranks at slightly
  // different steps); then all abandon the epoch together.
  if (comm_.allreduce_max(complete ? 0.0 : 1.0) > 0) {
    EpochResult stopped;
    stopped.stopped = true;
    return stopped;
  }
  // Statistics of this epoch's samples join the running ones (frozen during the epoch).
  if (cfg_.normalize_obs) obs_norm_.merge(comm_);
  if (cfg_.normalize_reward) ret_norm_.merge(comm_);
  if (cfg_.anneal_lr) algo_->set_lr_scale(1.0 - static_cast<double>(epoch_) / cfg_.epochs);
  const double t1 = now_seconds();
  const double comm_rollout = comm_seconds_;

  std::span<const double> adv_local;
  if constexpr (std::is_same_v<T, double>) {
    adv_local = std::span<const double>(buf_.adv.data(), static_cast<std::size_t>(buf_.adv.size()));
  } else {
    adv_scratch_.assign(buf_.adv.data(), buf_.adv.data() + buf_.adv.size());
    adv_local = adv_scratch_;
  }
  const mpi::SampleStats adv = comm_.stats(adv_local);
  if (cfg_.norm_adv == "batch") buf_.normalize_advantages(static_cast<T>(adv.mean), static_cast<T>(adv.std));
  UpdateContext ctx{comm_, rng_, /*rollout_at_params=*/true};  // collect() ran at these parameters
  const double flops0 = ac_.pi->mlp().gemm_flops() + ac_.v->mlp().gemm_flops();
  UpdateStats u;
  try {
    u = algo_->update(ac_, buf_, ctx);
  } catch (const mpi::StopRequested&) {  // thrown on every rank at the same average()
    EpochResult stopped;
    stopped.stopped = true;
    return stopped;
  }
  const double t2 = now_seconds();
  const double update_flops = ac_.pi->mlp().gemm_flops() + ac_.v->mlp().gemm_flops() - flops0;
  const double comm_update = comm_seconds_ - comm_rollout;

  const std::span<const double> samples[3] = {ep_ret, ep_len, vvals};
  const auto st = comm_.stats(std::span<const std::span<const double>>(samples, 3));
  total_steps_ += static_cast<long long>(local_steps_) * comm_.size() * cfg_.envs_per_rank;

  EpochResult r;
  auto add = [&](const char* name, double v) { r.stats.emplace_back(name, v); };
  add("Epoch", epoch_);
  add("AverageEpRet", st[0].mean);
  add("StdEpRet", st[0].std);
  add("MaxEpRet", st[0].max);
  add("MinEpRet", st[0].min);
  add("EpLen", st[1].mean);
  add("AverageVVals", st[2].mean);
  add("StdVVals", st[2].std);
  add("MaxVVals", st[2].max);
  add("MinVVals", st[2].min);
  add("TotalEnvInteracts", static_cast<double>(total_steps_));
  add("LossPi", u.loss_pi);
  add("LossV", u.loss_v);
  add("DeltaLossPi", u.delta_loss_pi);
  add("DeltaLossV", u.delta_loss_v);
  add("Entropy", u.entropy);
  add("KL", u.kl);
  for (const auto& x : algo_->extra_columns()) r.stats.emplace_back(column_name(x), extra_value(u, x));
  if (!info_names_.empty()) {  // per-step means of the env's info terms, and divergences (sum)
    std::vector<double> sums = info_sum_;
    sums.push_back(diverged_);
    comm_.sum(std::span<double>(sums));
    const double steps = static_cast<double>(local_steps_) * comm_.size() * cfg_.envs_per_rank;
    for (std::size_t k = 0; k < info_names_.size(); ++k) r.stats.emplace_back("info." + info_names_[k], sums[k] / steps);
    add("Diverged", sums.back());
  }
  add("Episodes", static_cast<double>(st[0].count));
  add("Time", t2 - start_time_);
  // Wall-time shares of the epoch: rollout and update without their MPI calls, the MPI calls
  // (including the wait for the slowest rank), and the previous epoch's run-file/checkpoint
  // writes. This rank's figures (rank 0's go to the run file).
  add("TimeRollout", t1 - t0 - comm_rollout);
  add("TimeUpdate", t2 - t1 - comm_update);
  add("TimeComm", comm_rollout + comm_update);
  add("TimeIO", io_seconds_);
  io_seconds_ = 0;
  // This rank's GEMM rate in the update without its MPI calls (compare with bench_roofline).
  add("UpdateGFLOPS", update_flops / 1e9 / std::max(1e-9, t2 - t1 - comm_update));
  add("StepsPerSecond", static_cast<double>(local_steps_) * comm_.size() * cfg_.envs_per_rank / (t2 - t0));

  // Every finished episode, gathered on rank 0 with its rank.
  std::vector<double> ranks(ep_ret.size(), static_cast<double>(comm_.rank()));
  r.episode_return = comm_.gather(ep_ret);
  r.episode_length = comm_.gather(ep_len);
  r.episode_rank = comm_.gather(ranks);
  r.non_finite = first_non_finite(r);
  ++epoch_;
  return r;
}

}  // namespace

Trainer::Trainer(const Config& given, const mpi::Comm& comm) {
  const Config cfg = resolve_for_ranks(given, comm.size());
  auto envs = make_envs(cfg, comm);  // validates before any collective call
  if (cfg.precision == "float") impl_ = std::make_unique<TrainerImpl<float>>(cfg, comm, std::move(envs));
  else if (cfg.precision == "double") impl_ = std::make_unique<TrainerImpl<double>>(cfg, comm, std::move(envs));
  else throw UsageError("invalid value '" + cfg.precision + "' for --precision (allowed: double, float)");
}
Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;

EpochResult Trainer::run_epoch() { return impl_->run_epoch(); }
void Trainer::set_stop_check(std::function<bool()> stop) { impl_->set_stop_check(std::move(stop)); }
int Trainer::epoch() const { return impl_->epoch(); }
nn::Isa Trainer::isa() const { return impl_->isa(); }
const Config& Trainer::config() const { return impl_->config(); }
Eigen::VectorXd Trainer::pi_params() const { return impl_->pi_params(); }
Eigen::VectorXd Trainer::v_params() const { return impl_->v_params(); }
TrainerState Trainer::state() const { return impl_->state(); }
void Trainer::restore(const TrainerState& s) { impl_->restore(s); }
std::vector<std::string> Trainer::columns() const { return impl_->columns(); }
void Trainer::add_io_seconds(double s) { impl_->add_io_seconds(s); }
std::vector<NamedArray> Trainer::normalizer_stats() const { return impl_->normalizer_stats(); }

}  // namespace rlmpi::algo
