#pragma once
// Running mean and variance of a vector quantity (observations, discounted returns), as
// Gymnasium's RunningMeanStd, but merged exactly across ranks once per epoch: each rank
// accumulates its epoch's samples locally (count, mean, M2 by Welford), and at the epoch end
// every rank gathers all ranks' accumulators and merges them in rank order with Chan et al.'s
// parallel formula, so all ranks hold the same bits. Within an epoch the statistics are frozen
// (normalisation uses the values merged at the previous epoch end); they start at mean 0,
// variance 1, count 0.
#include <vector>

#include "rlmpi/core/types.hpp"
#include "rlmpi/mpi/comm.hpp"

namespace rlmpi::algo {

class RunningNormalizer {
 public:
  explicit RunningNormalizer(int dim = 0);

  // Adds one sample to this rank's epoch accumulator (no allocation).
  void observe(const double* x);
  // Merges every rank's accumulator into the running statistics and clears the accumulators.
  void merge(const mpi::Comm& comm);

  // out = clip((x - mean) / sqrt(var + 1e-8), -clip, clip)
  void normalize(const double* x, double* out, double clip = 10.0) const;
  // x / sqrt(var + 1e-8) (reward scaling: no centring, no clipping)
  double scale(double x) const;

  int dim() const { return static_cast<int>(mean_.size()); }
  const Eigen::VectorXd& mean() const { return mean_; }
  const Eigen::VectorXd& var() const { return var_; }
  double count() const { return count_; }
  // [count, mean..., var...] for checkpoints, taken between epochs (the local accumulator is
  // empty then); set_state checks the size and clears the local accumulator.
  std::vector<double> state() const;
  void set_state(const std::vector<double>& s);

 private:
  Eigen::VectorXd mean_, var_;
  double count_ = 0;
  // this epoch's local samples (Welford)
  Eigen::VectorXd local_mean_, local_m2_;
  double local_n_ = 0;
};

}  // namespace rlmpi::algo
