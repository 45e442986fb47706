#pragma once
// Will the run fit in memory? An estimate of the bytes one rank holds during an update, from the
// options and the environment's sizes, compared with the memory limits of the process and its
// node before anything is allocated or written: a --hid or --steps-per-epoch that cannot fit is
// a UsageError (exit 2) naming the option, instead of a std::bad_alloc (or the OOM killer) in
// the middle of the first update.
//
// The estimate counts only buffers that are all allocated at once at the peak of an update (so
// it is a lower bound of the real peak: a run it refuses cannot run):
//   parameters             pi and v
//   optimiser state        Adam m and v (pi: VPG and PPO; v: all)
//   gradients              the algorithm's pi gradient vectors (PPO 2, TRPO 5 incl. its CG
//                          vectors alive during the value fit, VPG 1) and the value fit's one
//   network workspaces     for the batch B (= steps per epoch / ranks): every layer's activations
//                          plus two backprop buffers of the widest layer and the output tangent
//                          (Mlp::reserve), for pi and v; the policy's N x dist buffers
//   rollout buffer         B x (obs + act + dist + 5)
// in the networks' precision (8 bytes for double, 4 for float).
//
// Limits: the address-space and data limits of the process (ulimit -v, ulimit -d: RLIMIT_AS,
// RLIMIT_DATA) less what the process uses already, and the memory of the node (physical memory,
// and the memory cgroup's limit, as set by SLURM's --mem) shared by the ranks on that node.
#include <string>
#include <vector>

#include "rlmpi/core/config.hpp"
#include "rlmpi/mpi/comm.hpp"

namespace rlmpi::env {
class Env;
}

namespace rlmpi::algo {

// What the networks and the buffer are sized from (an environment's spaces).
struct NetShape {
  int obs_dim = 0;
  int act_dim = 0;    // columns of the action buffer: 1 for Discrete
  int pi_out = 0;     // policy network outputs: n actions (Discrete) or act_dim (Box)
  bool discrete = false;
};
NetShape net_shape(const env::Env& e);

// Bytes per part, for one rank with batch steps_per_epoch / ranks (cfg already resolved for
// the ranks). Doubles: sizes beyond 2^63 bytes are representable.
struct MemoryEstimate {
  double params = 0, optimizer = 0, gradients = 0, workspace = 0, buffer = 0;
  double total() const { return params + optimizer + gradients + workspace + buffer; }
};
MemoryEstimate estimate_memory(const Config& cfg, int ranks, const NetShape& shape);

// One limit of this process. A node-wide limit is shared by `ranks_sharing` ranks.
struct MemoryLimit {
  enum class Kind { AddressSpace = 0, Data = 1, Physical = 2, Cgroup = 3 };
  Kind kind = Kind::Physical;
  double bytes = 0;   // the limit
  double in_use = 0;  // already used by this process (AddressSpace, Data), subtracted from bytes
};
// The limits that apply to this process now (unlimited ones are left out). cgroup_root: where
// the cgroup file systems are mounted (tests point it at a fake tree).
std::vector<MemoryLimit> process_memory_limits(const std::string& cgroup_root = "/sys/fs/cgroup");
// The smallest memory limit of the cgroups listed in `self_cgroup` (the text of /proc/self/cgroup)
// and their ancestors: v2 memory.max, v1 memory/memory.limit_in_bytes under cgroup_root. 0: none.
double cgroup_memory_limit(const std::string& self_cgroup, const std::string& cgroup_root);

// The verdict for one rank: the message of the UsageError to throw, empty when the run fits
// all limits. `ranks_on_node`: ranks sharing this node's memory (node-wide limits).
std::string memory_verdict(const Config& cfg, int ranks, const NetShape& shape, int ranks_on_node,
                           const std::vector<MemoryLimit>& limits);

// Every rank: checks the run against its own limits and those of the other ranks (one
// MPI_Comm_split_type and one allgather over comm, reached by every rank) and throws the same
// UsageError on every rank when any rank cannot fit, e.g. "invalid value '300000' for --hid
// (allowed: networks that fit in memory: this run needs at least 86 GiB per rank, more than
// the 3.8 GiB address-space limit (ulimit -v) of rank 0)".
void check_memory_fit(const Config& cfg, const mpi::Comm& comm, const env::Env& env);

// "3.8 GiB", "512 MiB", "86 GiB".
std::string format_bytes(double bytes);

}  // namespace rlmpi::algo
