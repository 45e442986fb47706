#pragma once
// Base of the MuJoCo locomotion environments (facts: shared/reference/mujoco.md): MJCF lookup,
// the process-wide cache of compiled models, one mjData per env, Gymnasium's step sequence,
// qpos/qvel state, snapshots and divergence handling. A robot only writes its observation,
// reward, health rules and reset noise (locomotion.hpp).
//
// MuJoCo types stay out of this header: libmujoco is a private dependency of rlmpi_core.
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/env/env_base.hpp"

struct mjModel_;
struct mjData_;

namespace rlmpi::env {

// Gymnasium version of a locomotion env (mujoco.md §7): v5 is the default.
enum class GymVersion { v4, v5 };

// Directories searched for MJCF files, in this order: $RLMPI_MODEL_DIR (when set and
// non-empty), <directory of the running executable>/models, <that directory>/../share/rlmpi/models
// (an install prefix), <CMAKE_INSTALL_PREFIX>/share/rlmpi/models (programs linking the installed
// library) and the source tree's models/ (build-tree runs and tests).
std::vector<std::string> model_search_dirs();
// Path of model `file` (e.g. "hopper.xml") in the first search directory holding it.
// rlmpi::UsageError naming the file and every directory searched when none does.
std::string find_model_file(const std::string& file);

// A compiled MuJoCo model (RAII owner of the mjModel). Read-only after loading, so every env
// of the process that uses the same file shares one.
class MujocoModel {
 public:
  ~MujocoModel();
  MujocoModel(const MujocoModel&) = delete;
  MujocoModel& operator=(const MujocoModel&) = delete;

  const mjModel_* get() const { return m_; }
  const std::string& path() const { return path_; }

 private:
  friend std::shared_ptr<const MujocoModel> load_mujoco_model(const std::string& path);
  MujocoModel(mjModel_* m, std::string path) : m_(m), path_(std::move(path)) {}
  mjModel_* m_;
  std::string path_;
};

// Compiles `path` once per process: a thread-safe cache keyed by the canonical path keeps every
// loaded model alive until exit (a handful of small models; a file edited after loading is not
// re-read, so tests write modified models to new paths). A missing or invalid file:
// rlmpi::UsageError "cannot load MuJoCo model '<path>': <MuJoCo's message>".
// The first load also routes MuJoCo's warnings to a silent handler unless the program installed
// its own (MuJoCo would print them to stdout and append to MUJOCO_LOG.TXT in the working
// directory); the envs report instabilities through Env::diverged() instead.
std::shared_ptr<const MujocoModel> load_mujoco_model(const std::string& path);

// What a robot's code indexes in its model, checked right after loading: a model file of
// another robot (e.g. a Walker2d MJCF saved as hopper.xml) is then a UsageError instead of
// reads and writes past the ends of qpos, qvel, ctrl or cfrc_ext. Sizes are exact because the
// observation and action sizes are those of the registered env; the first joints carry the
// root coordinates that rewards and health rules read from qpos[0..2]. No env reads a sensor.
struct ModelShape {
  enum class Root { Planar, Free };  // slide, slide, hinge (x, z or y, angle) | one free joint
  const char* robot;                 // "Hopper": the message names the robot's model
  int nq, nv, nu;
  int nbody;  // -1: any number (no env reads per-body arrays except the Ant)
  Root root;
};

// The sizes of `m` that differ from `shape` ("nq 9, expected 6; nu 6, expected 3"), empty when
// it fits. Exposed for tests; MujocoEnv throws the UsageError below with it.
std::string model_mismatch(const mjModel_* m, const ModelShape& shape);
// When `model` does not have `shape`: rlmpi::UsageError "model file '<path>' does not fit <env id>:
// <mismatch> (allowed: a model of the <robot>: <its sizes>)".
void check_model_shape(const MujocoModel& model, const ModelShape& shape, const std::string& env_id);

class MujocoEnv : public EnvBase {
 public:
  ~MujocoEnv() override;
  MujocoEnv(const MujocoEnv&) = delete;
  MujocoEnv& operator=(const MujocoEnv&) = delete;

  // qpos followed by qvel (nq + nv numbers).
  std::vector<double> state() const override;
  std::span<const InfoTerm> info() const override { return {info_.data(), n_info_}; }
  bool diverged() const override { return diverged_; }

  // Steps that ended in divergence since construction (reset() does not clear it).
  std::int64_t diverged_steps() const { return diverged_steps_; }
  const MujocoModel& model() const { return *model_; }
  GymVersion version() const { return version_; }
  int frame_skip() const { return frame_skip_; }
  // Duration of one env step: opt.timestep * frame_skip, as Gymnasium computes it.
  double dt() const { return dt_; }
  int nq() const { return nq_; }
  int nv() const { return nv_; }

 protected:
  // `info_names`: the InfoTerm names this env reports, in order (at most kMaxInfo). `shape`:
  // what the robot indexes (check_model_shape, before any MuJoCo data is made).
  MujocoEnv(std::string id, GymVersion version, std::shared_ptr<const MujocoModel> model,
            const ModelShape& shape, int frame_skip, int obs_dim,
            std::span<const char* const> info_names);

  // Writes the initial qpos/qvel: `qpos` holds the model's qpos0 and `qvel` zeros on entry;
  // add the robot's noise from rng_ (qpos noise first, then qvel, as Gymnasium draws them).
  virtual void add_reset_noise(std::span<double> qpos, std::span<double> qvel) = 0;
  // Called right before the ctrl/mj_step sequence: remember the progress quantity.
  virtual void before_step() = 0;
  // Called after mj_step x frame_skip and mj_rnePostConstraint on a finite state: reward,
  // termination and info values (set_info) from the new data.
  virtual Outcome after_step(std::span<const double> action) = 0;
  // Called after every set_state-like assignment (reset, set_state, restore, divergence).
  virtual void after_assign() {}
  // Robot-specific hidden variables carried across steps (e.g. the Ant's lagged torso xpos).
  virtual std::size_t robot_extra_size() const { return 0; }
  virtual void write_robot_extra(std::span<double> /*out*/) const {}
  virtual void read_robot_extra(std::span<const double> /*in*/) {}

  void set_info(std::size_t i, double v) { info_[i].value = v; }

  const mjModel_* m_;
  mjData_* d_;

 private:
  void draw_initial_state() final;
  Outcome advance(std::span<const double> action) final;
  void assign_state(std::span<const double> state) final;
  std::vector<double> extra() const final;
  std::size_t extra_size() const final;
  void assign_extra(std::span<const double> extra) final;
  // Gymnasium's set_state: mj_resetData, qpos/qvel, mj_forward.
  void assign(const double* qpos, const double* qvel);
  void clear_info();

  static constexpr std::size_t kMaxInfo = 12;
  std::shared_ptr<const MujocoModel> model_;
  GymVersion version_;
  int frame_skip_;
  double dt_;
  int nq_, nv_, na_;
  std::array<InfoTerm, kMaxInfo> info_{};
  std::size_t n_info_ = 0;
  bool diverged_ = false;
  std::int64_t diverged_steps_ = 0;
  std::vector<double> scratch_;  // nq + nv: the state being assigned (no allocation per reset)
};

}  // namespace rlmpi::env
