#include "rlmpi/algo/buffer.hpp"

#include <algorithm>
#include <stdexcept>

namespace rlmpi::algo {

template <class T>
RolloutBuffer<T>::RolloutBuffer(Index steps, int num_envs, int obs_dim, int act_dim, int dist_dim, double gamma,
                             double lam)
    : obs(steps * num_envs, obs_dim),
      act(steps * num_envs, act_dim),
      dist(steps * num_envs, dist_dim),
      rew(steps * num_envs),
      val(steps * num_envs),
      logp(steps * num_envs),
      adv(steps * num_envs),
      ret(steps * num_envs),
      steps_(steps),
      num_envs_(num_envs),
      gamma_(gamma),
      lam_(lam),
      ptr_(static_cast<std::size_t>(num_envs), 0),
      path_start_(static_cast<std::size_t>(num_envs), 0) {
  if (steps <= 0 || num_envs <= 0) throw std::invalid_argument("RolloutBuffer: steps and num_envs must be > 0");
}

template <class T>
void RolloutBuffer<T>::store(int e, const T* o, const T* a, T r, T v, T lp, const T* d) {
  Index& p = ptr_[static_cast<std::size_t>(e)];
  if (p >= steps_) throw std::logic_error("RolloutBuffer::store: buffer of this env is full");
  const Index i = row(e, p);
  std::copy(o, o + obs.cols(), obs.row(i).data());
  std::copy(a, a + act.cols(), act.row(i).data());
  std::copy(d, d + dist.cols(), dist.row(i).data());
  rew[i] = r;
  val[i] = v;
  logp[i] = lp;
  ++p;
}

template <class T>
void RolloutBuffer<T>::finish_path(int e, T last_val) {
  const auto ue = static_cast<std::size_t>(e);
  const Index begin = row(e, path_start_[ue]);
  const Index end = row(e, ptr_[ue]);
  const T g = static_cast<T>(gamma_);
  const T gl = static_cast<T>(gamma_ * lam_);
  // Reverse discounted cumulative sums, as scipy.signal.lfilter in Spinning Up.
  T next_val = last_val, run_adv = 0, run_ret = last_val;
  for (Index i = end - 1; i >= begin; --i) {
    const T delta = rew[i] + g * next_val - val[i];
    run_adv = delta + gl * run_adv;
    run_ret = rew[i] + g * run_ret;
    adv[i] = run_adv;
    ret[i] = run_ret;
    next_val = val[i];
  }
  path_start_[ue] = ptr_[ue];
}

template <class T>
bool RolloutBuffer<T>::full() const {
  for (Index p : ptr_)
    if (p != steps_) return false;
  return true;
}

template <class T>
void RolloutBuffer<T>::clear() {
  std::fill(ptr_.begin(), ptr_.end(), 0);
  std::fill(path_start_.begin(), path_start_.end(), 0);
}

template <class T>
void RolloutBuffer<T>::normalize_advantages(T mean, T std) {
  adv.array() -= mean;
  if (std > 0) adv /= std;
}

template class RolloutBuffer<double>;
template class RolloutBuffer<float>;

}  // namespace rlmpi::algo
