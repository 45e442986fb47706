#pragma once
// Multilayer perceptron with hand-written backprop and forward-mode (J v) products.
//
// An Mlp is a layout plus a workspace: the parameters live outside, in one flat contiguous
// vector, so that an optimizer step, an MPI allreduce/broadcast, a checkpoint or TRPO's
// theta + alpha * step is one operation on one vector (a policy appends its log_std to it).
//
// Flat layout, layer l = 0..L-1 mapping in_l = sizes[l] to out_l = sizes[l+1]:
//   [ W_0 | b_0 | W_1 | b_1 | ... ]
//   W_l: out_l x in_l, row-major (the torch.nn.Linear.weight layout), y = W x + b.
//   b_l: out_l.
// Row-major out x in matches PyTorch state dicts. Speed does not depend on the choice: the
// kernels read W^T where they need it from a copy made once per pass, and the large operands
// are the N x dim batches, not W.
//
// Batches are N x dim, one sample per row. Hidden layers use the activation, the output layer
// is the identity.
//
// Workspace: forward/backward/jvp keep buffers for the largest batch seen. The first call with a
// larger N allocates; later calls with the same or a smaller N do not allocate at all.
#include <Eigen/Core>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "rlmpi/core/rng.hpp"
#include "rlmpi/core/types.hpp"
#include "rlmpi/nn/abi.hpp"
#include "rlmpi/nn/activation.hpp"
#include "rlmpi/nn/aligned_buffer.hpp"
#include "rlmpi/nn/gemm.hpp"

namespace rlmpi::nn {
inline namespace RLMPI_NN_ABI {

namespace detail {
// Argument checks of the nn API: a failure is a programming error, not bad user input.
inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

// A non-owning reference to a callable void(Index i0, Index m, const T* in, T* out) that maps
// rows [i0, i0 + m) of a batch from `in` to `out` (Mlp::forward_backward, Policy::
// forward_grad_logp). A std::function holding a capturing lambda may allocate.
template <class T>
class RowFn {
 public:
  template <class F>  // implicit: built from the lambda at the call, which outlives the call
  RowFn(F&& f)
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Index i0, Index m, const T* y, T* dy) {
          (*static_cast<std::remove_reference_t<F>*>(o))(i0, m, y, dy);
        }) {}
  void operator()(Index i0, Index m, const T* y, T* dy) const { call_(obj_, i0, m, y, dy); }

 private:
  void* obj_;
  void (*call_)(void*, Index, Index, const T*, T*);
};
}  // namespace detail

// A read-only view of N x dim rows stored contiguously in a workspace.
template <class T>
using ConstMatrixMap = Eigen::Map<const MatrixX<T>>;
template <class T>
using ConstVectorMap = Eigen::Map<const VectorX<T>>;

// Weight initialisation.
//   Default:    PyTorch nn.Linear: weights and biases ~ U(-1/sqrt(in), 1/sqrt(in)).
//   Orthogonal: Baselines/CleanRL: orthogonal weights (gain sqrt(2) on hidden layers,
//               `output_gain` on the output layer), zero biases.
enum class Init { Default, Orthogonal };

// "default" or "orthogonal"; anything else throws rlmpi::UsageError.
Init parse_init(const std::string& name);
std::string to_string(Init init);

template <class T>
class Mlp {
 public:
  Mlp() = default;
  // sizes = {in, hidden..., out}; at least {in, out}, all positive (std::invalid_argument).
  // The batched passes run the kernels of `isa` (isa.hpp; std::invalid_argument if this CPU
  // cannot run them).
  Mlp(std::vector<int> sizes, Activation act, Isa isa = best_isa());

  Index num_params() const { return num_params_; }
  int in_dim() const { return sizes_.front(); }
  int out_dim() const { return sizes_.back(); }
  int num_layers() const { return static_cast<int>(sizes_.size()) - 1; }
  const std::vector<int>& sizes() const { return sizes_; }
  Activation activation() const { return act_; }
  Isa isa() const { return gemm_.isa(); }
  const detail::Kernels<T>& kernels() const { return gemm_.kernels(); }  // of isa()
  // Offsets of W_l and b_l in the flat vector.
  Index weight_offset(int layer) const { return w_off_[layer]; }
  Index bias_offset(int layer) const { return b_off_[layer]; }

  // Fills params (size num_params()) from rng. Draw order: layer by layer; Default draws W_l in
  // its row-major order with rng.uniform(-bound, bound), then b_l the same way. Orthogonal
  // fills an out x in matrix row-major with rng.normal() (transposed to tall if out < in),
  // takes Q of its Householder QR with column signs fixed by sign(diag R) (torch's
  // orthogonal_), scales by the gain; biases 0. output_gain only affects Orthogonal.
  void init(Eigen::Ref<VectorX<T>> params, Rng& rng, Init scheme = Init::Default,
            T output_gain = T(1)) const;

  // Sizes the workspace for batches of up to n rows (forward does it on demand).
  void reserve(Index n);
  Index capacity() const { return cap_; }
  Index batch() const { return n_; }

  // Batches of at most this many rows (the rollout) skip the row blocks: the wide layers read
  // W^T from a cache that is refreshed only when W's bytes change (parameters change once per
  // update, the rollout calls forward thousands of times in between), the narrow ones run the
  // skinny kernels; a row's result does not depend on its batch. Equal to the block path up to
  // rounding (~1e-16 rel. in double).
  static constexpr Index kSmallBatch = 8;
  // Larger batches go through all layers in blocks of this many rows (forward, backward, jvp):
  // a block's activations and deltas pass from layer to layer in L1/L2 instead of streaming
  // N x 64 matrices through memory. A multiple of the kernels' row tiles (6 and 4). Results do
  // not depend on it: rows never mix in forward and jvp, and the gradient's sums over rows run
  // in row order across blocks (gemm.hpp: outer, column_sums).
  static constexpr Index kBlockRows = 96;

  // y = f(x) for the N x in batch x; caches x and the activations for backward and jvp. The
  // returned view (N x out) stays valid until the next forward or reserve. N <= kSmallBatch
  // uses the matrix-vector path.
  ConstMatrixMap<T> forward(const T* params, const Eigen::Ref<const MatrixX<T>>& x);

  // hold_params(true) promises that the parameters the small batches are given do not change
  // until hold_params(false): their cached W^T is then checked against the parameters once per
  // parameter pointer instead of on every call (a rollout: a 16 KB compare per 64 x 64 layer
  // per step, 5 % of a fast epoch). Without a hold every call checks (in-place changes are seen).
  void hold_params(bool held) {
    held_ = held;
    held_params_ = nullptr;
  }

  // At the batch of the last forward: grad <- d/dparams sum_i <dy_i, y_i> (overwrites the
  // num_params() entries at grad); if dx is given, *dx <- d/dx (resized to N x in; that resize
  // allocates if its size changes). dy must be N x out.
  void backward(const T* params, const Eigen::Ref<const MatrixX<T>>& dy, T* grad,
                MatrixX<T>* dx = nullptr);

  // forward and backward of a loss whose gradient d loss / d y_i depends on row i only (a value
  // loss, a policy surrogate), in one pass over the rows: each block of kBlockRows rows goes
  // forward, then dy_of(i0, m, y, dy) gets the block's outputs y (m x out, rows [i0, i0 + m) of
  // the batch, stride out) and writes d loss / d y for them into dy (same shape), then the block
  // goes backward while its activations are still in L1/L2 instead of memory. grad <- the
  // parameter gradient (overwrites): bit for bit what forward() then backward() with the same dy
  // give. Returns the outputs of all N rows (valid until the next pass); leaves no batch cached
  // for backward or jvp (batch() == 0).
  ConstMatrixMap<T> forward_backward(const T* params, const Eigen::Ref<const MatrixX<T>>& x,
                                     detail::RowFn<T> dy_of, T* grad);

  // Forward-mode directional derivative J v (N x out) at the batch of the last forward, for a
  // parameter direction v in the flat layout (the input is held fixed). Valid until the next
  // jvp, forward or reserve.
  ConstMatrixMap<T> jvp(const T* params, const T* v);

  // GEMM floating-point operations of this network's batched passes so far (the small-batch
  // rollout path is not counted): divided by their time, the update's achieved GFLOP/s.
  double gemm_flops() const { return gemm_.flops(); }

 private:
  T* act_buf(int i) { return h_[static_cast<std::size_t>(i)].data(); }
  // z (m x out of layer l) = epi(h W_l^T + b) for m rows h (m x in) (b null: no bias; epi None
  // or the activation); add (epi None only): z += h W_l^T + b instead. wt: W_l^T, as
  // transpose_weights leaves it (read by the wide and narrow-input layers).
  void layer_forward(int l, const T* w, const T* wt, const T* b, Index m, const T* h, T* z, bool add,
                     detail::Epilogue epi);
  detail::Epilogue activation_epilogue() const {
    return act_ == Activation::Tanh ? detail::Epilogue::Tanh : detail::Epilogue::Relu;
  }
  detail::Epilogue derivative_epilogue() const {
    return act_ == Activation::Tanh ? detail::Epilogue::TanhGrad : detail::Epilogue::ReluGrad;
  }
  // W_l^T (in x out, row-major) of every layer that reads it, from the flat vector p, into copy
  // `set` (0: the parameters, 1: jvp's direction, 2: forward_small's cache); transposed(l, set)
  // is layer l's copy.
  void transpose_weights(const T* p, int set);
  void transpose_layer(int l, const T* w, T* wt) const;  // wt <- W_l^T, W_l read at w
  // Set 2 holds W_l^T of the wide and narrow-input layers as of W's bytes in wsnap_;
  // re-transposes a layer whose W at params differs (memcmp: a 64 x 64 W costs a 16 KB compare,
  // less than its transpose; a rollout step then transposes nothing).
  void refresh_small_cache(const T* params);
  const T* transposed(int l, int set) const { return wt_.data() + set * wt_set_ + wt_off_[l]; }
  void forward_small(const T* params, Index n);
  // All layers on m rows: hs_[l] points at the rows' input to layer l (stride sizes_[l]); layer l
  // writes its output at hs_[l + 1].
  void forward_block(const T* params, Index m);
  // Backprop of m rows with output gradient d (stride ld) and their layer inputs at hs_[l]:
  // adds to the bias and weight sums (grad, dwt_) and writes dx (stride in) if not null.
  void backward_block(const T* params, Index m, const T* d, Index ld, T* grad, T* dx);
  void begin_grad(T* grad);   // zeroes the sums backward_block adds to
  void finish_grad(T* grad);  // the transposed weight sums (dwt_) into grad
  void activate(T* z, Index count) const;
  // d <- d * f'(pre) expressed through the activation's output h.
  void activation_backward(const T* h, T* d, Index count) const;

  std::vector<int> sizes_;
  Activation act_ = Activation::Tanh;
  std::vector<Index> w_off_, b_off_;
  std::vector<Index> wt_off_, dwt_off_;  // layer l's block in wt_ (each set) and in dwt_
  Index wt_set_ = 0;                     // size of one set of transposed weights
  Index num_params_ = 0;
  int max_width_ = 0;

  // Workspace (raw storage; an n x w block is laid out row-major with stride w).
  Index cap_ = 0;  // rows the buffers hold
  Index n_ = 0;    // rows of the cached batch
  using Buffer = detail::AlignedBuffer<T>;  // 64-byte aligned: rows of 64 floats on cache lines
  std::vector<Buffer> h_;  // h_[0] input copy, h_[l] activations, h_[L] output
  Buffer ping_, pong_;     // backward deltas / jvp tangents of one block of rows
  Buffer dyb_;             // forward_backward: d loss / d output of one block of rows
  std::vector<T*> hs_;     // per layer, the current block's input rows (forward_block, backward_block)
  Buffer jv_;              // jvp output
  Buffer wt_;              // W_l^T (in x out) for the kernels that read it, three sets
  Buffer wsnap_;           // the wide layers' W as last transposed into set 2 (refresh_small_cache)
  bool snap_valid_ = false;
  bool held_ = false;                // hold_params
  const T* held_params_ = nullptr;   // the parameters set 2 was checked against during the hold
  Buffer dwt_;             // weight gradients accumulated transposed (mlp.cpp: grad_transposed)
  detail::GemmWorkspace<T> gemm_;
};

extern template class Mlp<double>;
extern template class Mlp<float>;

}  // namespace RLMPI_NN_ABI
}  // namespace rlmpi::nn
