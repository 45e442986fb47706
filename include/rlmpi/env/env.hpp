#pragma once
// The environment interface, in the style of Gymnasium: reset(seed) gives the first
// observation; step(action) gives observation, reward and separate `terminated` (the task
// ended: failure or goal, GAE bootstraps with 0) and `truncated` (time limit, GAE bootstraps
// with V(s')) flags. Environments know nothing of MPI, HDF5 or networks.
//
// Hot-path calls write into caller-owned buffers and never allocate.
// Discrete actions are passed as one double holding the integer index (buffers store actions
// as numbers); anything that is not an integer in range is an InvalidAction error.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "rlmpi/core/rng.hpp"

namespace rlmpi::env {

// Thrown for an action outside the action space (out-of-range index, NaN, wrong size).
class InvalidAction : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct Space {
  enum class Kind { Discrete, Box };
  Kind kind = Kind::Box;
  int n = 0;                  // Discrete: number of actions
  std::vector<double> low;    // Box: bounds, one per dimension (+-inf allowed)
  std::vector<double> high;

  static Space discrete(int n);
  static Space box(std::vector<double> low, std::vector<double> high);
  bool is_discrete() const { return kind == Kind::Discrete; }
  // Dimension of one element as stored in a buffer (1 for Discrete).
  int dim() const { return is_discrete() ? 1 : static_cast<int>(low.size()); }
  // "Discrete(2)" or "Box(-2.0, 2.0, (1,))" / "Box([-1.2 -0.07], [0.6 0.07], (2,))".
  std::string to_string() const;
};

// --scale-actions: the policy acts in [-1, 1] per dimension and the environment receives
// mid + half_range * u (a dimension with an infinite bound passes through unchanged). Empty for
// Discrete spaces.
struct ActionScale {
  std::vector<double> mid, half_range;
  static ActionScale of(const Space& action_space);
  bool empty() const { return mid.empty(); }
  void apply(std::span<double> action) const {
    for (std::size_t i = 0; i < mid.size() && i < action.size(); ++i) action[i] = mid[i] + half_range[i] * action[i];
  }
};

struct StepResult {
  double reward = 0;
  bool terminated = false;
  bool truncated = false;
};

// One named number an env reports about its last step: Gymnasium's numeric `info` entries,
// e.g. {"reward_forward", 1.3} or {"x_position", 0.2}. `name` is a string literal owned by the
// env's code (valid for the whole program).
struct InfoTerm {
  const char* name = "";
  double value = 0;
};

// Everything needed to continue an episode exactly (checkpoints): the physical state, hidden
// flags and counters, the time-limit counter and the env's RNG state.
struct Snapshot {
  std::vector<double> state;   // the same numbers as state()
  std::vector<double> extra;   // env-specific hidden variables (flags, counters), may be empty
  std::int64_t elapsed_steps = 0;
  Rng::State rng{};
};

class Env {
 public:
  virtual ~Env() = default;

  virtual const std::string& id() const = 0;
  virtual const Space& observation_space() const = 0;
  virtual const Space& action_space() const = 0;
  // Gymnasium's TimeLimit: the step whose count reaches this gets truncated = true.
  virtual int max_episode_steps() const = 0;

  // Reseeds the env's RNG with `seed`, draws the initial state, writes the first observation.
  virtual void reset(std::uint64_t seed, std::span<double> obs) = 0;
  // Draws the next initial state from the env's RNG stream (no reseed).
  virtual void reset(std::span<double> obs) = 0;
  // Advances one step. obs receives the next observation.
  virtual StepResult step(std::span<const double> action, std::span<double> obs) = 0;

  // The full physical state, the numbers Gymnasium keeps in env.unwrapped.state.
  virtual std::vector<double> state() const = 0;
  // Sets the physical state (as after a reset to it: elapsed steps and hidden flags restart).
  virtual void set_state(std::span<const double> state) = 0;
  // Observation of the current state.
  virtual void observe(std::span<double> obs) const = 0;

  virtual Snapshot snapshot() const = 0;
  virtual void restore(const Snapshot& s) = 0;

  // Named per-step numbers of the last step (reward terms such as reward_forward / reward_ctrl,
  // and diagnostics such as x_velocity), with Gymnasium's key names. Allocation-free: the span
  // points into the env, and each env reports the same names in the same order on every call,
  // so a trainer can accumulate per-epoch means by index and read the names once. Values are
  // overwritten by every step() and zeroed by reset()/set_state(). Empty by default.
  virtual std::span<const InfoTerm> info() const { return {}; }
  // True when the last step() ended the episode because the simulation became numerically
  // unstable (non-finite or huge state): that step returned terminated = true and reward 0,
  // and the env was put back to its model's reference state. Cleared by the next step/reset.
  virtual bool diverged() const { return false; }

  int obs_dim() const { return observation_space().dim(); }
  int act_dim() const { return action_space().dim(); }

  // Convenience wrappers for tests and tools (they allocate).
  std::vector<double> reset(std::uint64_t seed);
  struct Transition {
    std::vector<double> obs;
    double reward = 0;
    bool terminated = false;
    bool truncated = false;
  };
  Transition step(std::span<const double> action);
};

// One line per registered environment, as `rlmpi envs` prints it.
struct EnvInfo {
  std::string id;
  std::string observation_space;
  std::string action_space;
  int max_episode_steps = 0;
};

// Builds a fresh environment with its default parameters. Called once per env copy on every
// rank (and by `envs` and `eval`): it must return a new object each time, whose id() is the
// id it was registered under.
using EnvFactory = std::function<std::unique_ptr<Env>()>;

// Thrown by register_env for a malformed, duplicate or factory-less registration: a mistake in
// the program that registers, reported before any training starts.
class RegistrationError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Adds an environment id, after the built-in ones, for this process: call it on every rank
// before training (e.g. first thing in main). Ids follow Gymnasium: an optional "namespace/",
// a name of letters, digits and "_:.-" starting with a letter or digit, an optional "-v<N>"
// (e.g. "PointMass-v0", "lab/Arm-v2"); at most 100 characters. A malformed id, an id already
// registered (built-in or not) or an empty factory throws RegistrationError.
void register_env(std::string id, EnvFactory make);

// Creates an environment by Gymnasium id. Unknown id: rlmpi::UsageError whose message names
// the id and lists every valid one. A registered factory that returns nothing or an env whose
// id() differs from the registered id: rlmpi::UsageError naming both.
std::unique_ptr<Env> make_env(const std::string& id);
// All ids, built-in first then registered ones in registration order, with their spaces and
// time limits.
std::vector<EnvInfo> list_envs();

}  // namespace rlmpi::env
