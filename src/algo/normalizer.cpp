#include "rlmpi/algo/normalizer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace rlmpi::algo {

RunningNormalizer::RunningNormalizer(int dim)
    : mean_(Eigen::VectorXd::Zero(dim)),
      var_(Eigen::VectorXd::Ones(dim)),
      local_mean_(Eigen::VectorXd::Zero(dim)),
      local_m2_(Eigen::VectorXd::Zero(dim)) {}

void RunningNormalizer::observe(const double* x) {
  local_n_ += 1;
  for (Index i = 0; i < mean_.size(); ++i) {
    const double d = x[i] - local_mean_[i];
    local_mean_[i] += d / local_n_;
    local_m2_[i] += d * (x[i] - local_mean_[i]);
  }
}

void RunningNormalizer::merge(const mpi::Comm& comm) {
  const Index d = mean_.size();
  std::vector<double> mine(static_cast<std::size_t>(1 + 2 * d));
  mine[0] = local_n_;
  for (Index i = 0; i < d; ++i) {
    mine[static_cast<std::size_t>(1 + i)] = local_mean_[i];
    mine[static_cast<std::size_t>(1 + d + i)] = local_m2_[i];
  }
  const std::vector<double> all = comm.allgather(std::span<const double>(mine));
  // Chan et al.: combine (n_a, mean_a, M2_a) with (n_b, mean_b, M2_b), in rank order.
  double n = count_;
  Eigen::VectorXd mean = mean_, m2 = var_ * count_;
  for (int r = 0; r < comm.size(); ++r) {
    const double* p = all.data() + static_cast<std::size_t>(r) * mine.size();
    const double nb = p[0];
    if (nb == 0) continue;
    const double total = n + nb;
    for (Index i = 0; i < d; ++i) {
      const double delta = p[1 + i] - mean[i];
      mean[i] += delta * nb / total;
      m2[i] += p[1 + d + i] + delta * delta * n * nb / total;
    }
    n = total;
  }
  if (n > count_) {
    count_ = n;
    mean_ = mean;
    var_ = m2 / n;
  }
  local_n_ = 0;
  local_mean_.setZero();
  local_m2_.setZero();
}

void RunningNormalizer::normalize(const double* x, double* out, double clip) const {
  for (Index i = 0; i < mean_.size(); ++i)
    out[i] = std::clamp((x[i] - mean_[i]) / std::sqrt(var_[i] + 1e-8), -clip, clip);
}

double RunningNormalizer::scale(double x) const { return x / std::sqrt(var_[0] + 1e-8); }

std::vector<double> RunningNormalizer::state() const {
  std::vector<double> s{count_};
  s.insert(s.end(), mean_.data(), mean_.data() + mean_.size());
  s.insert(s.end(), var_.data(), var_.data() + var_.size());
  return s;
}

void RunningNormalizer::set_state(const std::vector<double>& s) {
  const Index d = mean_.size();
  if (static_cast<Index>(s.size()) != 1 + 2 * d)
    throw std::invalid_argument("normalizer state has " + std::to_string(s.size()) + " values, expected " +
                                std::to_string(1 + 2 * d));
  count_ = s[0];
  local_n_ = 0;  // samples seen since construction belong to no checkpointed epoch
  local_mean_.setZero();
  local_m2_.setZero();
  mean_ = Eigen::Map<const Eigen::VectorXd>(s.data() + 1, d);
  var_ = Eigen::Map<const Eigen::VectorXd>(s.data() + 1 + d, d);
}

}  // namespace rlmpi::algo
