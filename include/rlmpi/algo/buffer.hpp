#pragma once
// Per-rank rollout buffer with GAE-lambda (Schulman et al. 2016), as Spinning Up's
// VPGBuffer/PPOBuffer, for `num_envs` environments stepped in lockstep for `steps` steps.
//
// Layout: the row of (env e, step t) is e * steps + t, so each environment's trajectories are
// contiguous and GAE runs over plain slices. finish_path(e, last_val) closes the current
// trajectory of env e:
//   delta_t = r_t + gamma V_{t+1} - V_t  (V after the last step = last_val)
//   adv_t   = sum_k (gamma lambda)^k delta_{t+k}
//   ret_t   = sum_k gamma^k r_{t+k} + gamma^{len-t} last_val   (bootstrapped rewards-to-go)
// last_val is V(s_T) when the trajectory was truncated (time limit, max_ep_len) or cut by the
// epoch end, and 0 when it terminated. T is the networks' scalar (--precision), instantiated
// for double and float.
#include <vector>

#include "rlmpi/core/types.hpp"

namespace rlmpi::algo {

template <class T>
class RolloutBuffer {
 public:
  RolloutBuffer(Index steps, int num_envs, int obs_dim, int act_dim, int dist_dim, double gamma, double lam);

  Index size() const { return steps_ * num_envs_; }
  Index steps() const { return steps_; }
  int num_envs() const { return num_envs_; }

  // Row of env e at step t.
  Index row(int e, Index t) const { return static_cast<Index>(e) * steps_ + t; }

  // Stores one step of env e at its next free row (t = steps stored so far for e).
  // obs, act and dist point at obs_dim, act_dim and dist_dim values.
  void store(int e, const T* obs, const T* act, T rew, T val, T logp, const T* dist);
  void finish_path(int e, T last_val);
  // True when every env has `steps` rows stored.
  bool full() const;
  // Starts a new epoch (keeps the allocation).
  void clear();

  // Normalises advantages with the given (global) mean and std: adv <- (adv - mean) / std.
  // With std == 0 the advantages are only centred.
  void normalize_advantages(T mean, T std);

  MatrixX<T> obs, act, dist;  // size() x obs_dim / act_dim / dist_dim
  VectorX<T> rew, val, logp, adv, ret;

 private:
  Index steps_;
  int num_envs_;
  double gamma_, lam_;
  std::vector<Index> ptr_, path_start_;  // per env, relative to the env's first row
};

extern template class RolloutBuffer<double>;
extern template class RolloutBuffer<float>;

}  // namespace rlmpi::algo
