// MujocoEnv: Gymnasium's MujocoEnv step/reset/set_state sequence on MuJoCo 2.2.2
// (mujoco.md §1.1), snapshots and divergence handling.
#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "rlmpi/core/error.hpp"
#include "rlmpi/env/mujoco_env.hpp"

namespace rlmpi::env {

namespace {

Space unbounded_box(int dim) {
  const double inf = std::numeric_limits<double>::infinity();
  return Space::box(std::vector<double>(static_cast<std::size_t>(dim), -inf),
                    std::vector<double>(static_cast<std::size_t>(dim), inf));
}

// Gymnasium: Box(low=ctrlrange[:, 0], high=ctrlrange[:, 1], dtype=float32).
Space ctrl_box(const mjModel* m) {
  std::vector<double> lo, hi;
  for (int i = 0; i < m->nu; ++i) {
    lo.push_back(detail::r32(m->actuator_ctrlrange[2 * i]));
    hi.push_back(detail::r32(m->actuator_ctrlrange[2 * i + 1]));
  }
  return Space::box(std::move(lo), std::move(hi));
}

const mjModel* checked(const std::shared_ptr<const MujocoModel>& model) {
  if (!model) throw std::invalid_argument("MujocoEnv: null model");
  return model->get();
}

const char* root_text(ModelShape::Root r) {
  return r == ModelShape::Root::Planar ? "slide, slide, hinge" : "free";
}

// The first joints and their qpos addresses, as ModelShape::Root describes them.
bool has_root(const mjModel* m, ModelShape::Root r) {
  if (r == ModelShape::Root::Free)
    return m->njnt >= 1 && m->jnt_type[0] == mjJNT_FREE && m->jnt_qposadr[0] == 0;
  const int types[3] = {mjJNT_SLIDE, mjJNT_SLIDE, mjJNT_HINGE};
  if (m->njnt < 3) return false;
  for (int j = 0; j < 3; ++j)
    if (m->jnt_type[j] != types[j] || m->jnt_qposadr[j] != j) return false;
  return true;
}

std::string root_of(const mjModel* m) {
  static const char* const names[] = {"free", "ball", "slide", "hinge"};
  std::string s;
  for (int j = 0; j < m->njnt && j < 3; ++j) {
    const int t = m->jnt_type[j];
    s += (j ? ", " : "") + std::string(t >= 0 && t < 4 ? names[t] : "?");
    if (t == mjJNT_FREE) break;
  }
  return s.empty() ? "none" : s;
}

}  // namespace

std::string model_mismatch(const mjModel* m, const ModelShape& shape) {
  std::string out;
  auto size = [&](const char* name, int got, int want) {
    if (want < 0 || got == want) return;
    out += (out.empty() ? "" : "; ") + std::string(name) + " " + std::to_string(got) + ", expected " +
           std::to_string(want);
  };
  size("nq", m->nq, shape.nq);
  size("nv", m->nv, shape.nv);
  size("nu", m->nu, shape.nu);
  size("nbody", m->nbody, shape.nbody);
  if (!has_root(m, shape.root))
    out += (out.empty() ? "" : "; ") + std::string("root joints ") + root_of(m) + ", expected " +
           root_text(shape.root);
  return out;
}

void check_model_shape(const MujocoModel& model, const ModelShape& shape, const std::string& env_id) {
  const std::string diff = model_mismatch(model.get(), shape);
  if (diff.empty()) return;
  std::string want = "nq " + std::to_string(shape.nq) + ", nv " + std::to_string(shape.nv) + ", nu " +
                     std::to_string(shape.nu);
  if (shape.nbody >= 0) want += ", nbody " + std::to_string(shape.nbody);
  want += ", root joints " + std::string(root_text(shape.root));
  throw UsageError("model file '" + model.path() + "' does not fit " + env_id + ": " + diff +
                   " (allowed: a model of the " + shape.robot + ": " + want + ")");
}

MujocoEnv::MujocoEnv(std::string id, GymVersion version, std::shared_ptr<const MujocoModel> model,
                     const ModelShape& shape, int frame_skip, int obs_dim,
                     std::span<const char* const> info_names)
    : EnvBase(std::move(id), unbounded_box(obs_dim), ctrl_box(checked(model)), 1000,
              checked(model)->nq + checked(model)->nv),
      m_(model->get()),
      d_(nullptr),
      model_(std::move(model)),
      version_(version),
      frame_skip_(frame_skip),
      dt_(m_->opt.timestep * frame_skip),
      nq_(m_->nq),
      nv_(m_->nv),
      na_(m_->na) {
  // Before any MuJoCo data exists: the robot code below would index past the arrays.
  check_model_shape(*model_, shape, this->id());
  if (info_names.size() > kMaxInfo) throw std::logic_error("MujocoEnv: too many info terms");
  for (const char* n : info_names) info_[n_info_++].name = n;
  d_ = mj_makeData(m_);
  if (!d_) throw std::runtime_error(this->id() + ": mj_makeData failed");
  scratch_.resize(static_cast<std::size_t>(nq_ + nv_));
  // A valid state before the first reset: the model's reference configuration.
  mj_forward(m_, d_);
}

MujocoEnv::~MujocoEnv() { mj_deleteData(d_); }

void MujocoEnv::clear_info() {
  for (std::size_t i = 0; i < n_info_; ++i) info_[i].value = 0;
}

void MujocoEnv::assign(const double* qpos, const double* qvel) {
  mj_resetData(m_, d_);
  for (int i = 0; i < nq_; ++i) d_->qpos[i] = qpos[i];
  for (int i = 0; i < nv_; ++i) d_->qvel[i] = qvel[i];
  // Also normalises a free joint's quaternion in d->qpos (the Ant's reset noise), as Gymnasium.
  mj_forward(m_, d_);
  diverged_ = false;
  clear_info();
  after_assign();
}

void MujocoEnv::draw_initial_state() {
  double* qpos = scratch_.data();
  double* qvel = qpos + nq_;
  for (int i = 0; i < nq_; ++i) qpos[i] = m_->qpos0[i];
  for (int i = 0; i < nv_; ++i) qvel[i] = 0;
  add_reset_noise({qpos, static_cast<std::size_t>(nq_)}, {qvel, static_cast<std::size_t>(nv_)});
  assign(qpos, qvel);
}

void MujocoEnv::assign_state(std::span<const double> state) {
  // Kept in scratch_ for assign_extra (restore), which needs the exact qpos bits.
  std::copy(state.begin(), state.end(), scratch_.begin());
  assign(scratch_.data(), scratch_.data() + nq_);
}

std::vector<double> MujocoEnv::state() const {
  std::vector<double> s(static_cast<std::size_t>(nq_ + nv_));
  for (int i = 0; i < nq_; ++i) s[static_cast<std::size_t>(i)] = d_->qpos[i];
  for (int i = 0; i < nv_; ++i) s[static_cast<std::size_t>(nq_ + i)] = d_->qvel[i];
  return s;
}

MujocoEnv::Outcome MujocoEnv::advance(std::span<const double> action) {
  before_step();
  // Unclipped: MuJoCo clamps ctrl to ctrlrange inside mj_step (ctrllimited), while the robots'
  // control costs use the raw action, as Gymnasium does.
  for (int i = 0; i < m_->nu; ++i) d_->ctrl[i] = action[static_cast<std::size_t>(i)];
  // MuJoCo's own instability checks (NaN or |x| > 1e10 in qpos/qvel/qacc) count warnings and
  // reset the data mid-step; zero the counters to see whether this step tripped them.
  for (int w : {mjWARN_BADQPOS, mjWARN_BADQVEL, mjWARN_BADQACC}) d_->warning[w].number = 0;
  for (int k = 0; k < frame_skip_; ++k) mj_step(m_, d_);
  mj_rnePostConstraint(m_, d_);  // cacc, cfrc_int, cfrc_ext, as Gymnasium after the loop

  bool bad = false;
  for (int w : {mjWARN_BADQPOS, mjWARN_BADQVEL, mjWARN_BADQACC})
    bad = bad || d_->warning[w].number > 0;
  for (int i = 0; i < nq_ && !bad; ++i) bad = !std::isfinite(d_->qpos[i]);
  for (int i = 0; i < nv_ && !bad; ++i) bad = !std::isfinite(d_->qvel[i]);
  if (bad) {
    // The physics blew up: end the episode without passing garbage to the learner, and put
    // the env back to the model's reference state so the terminal observation is finite.
    double* qpos = scratch_.data();
    for (int i = 0; i < nq_; ++i) qpos[i] = m_->qpos0[i];
    for (int i = 0; i < nv_; ++i) qpos[nq_ + i] = 0;
    assign(qpos, qpos + nq_);
    diverged_ = true;
    ++diverged_steps_;
    return {0.0, true};
  }
  diverged_ = false;
  return after_step(action);
}

// extra layout: time, qacc_warmstart (nv), act (na), info values, diverged flag, robot extra.
std::size_t MujocoEnv::extra_size() const {
  return 1 + static_cast<std::size_t>(nv_ + na_) + n_info_ + 1 + robot_extra_size();
}

std::vector<double> MujocoEnv::extra() const {
  std::vector<double> e;
  e.reserve(extra_size());
  e.push_back(d_->time);
  for (int i = 0; i < nv_; ++i) e.push_back(d_->qacc_warmstart[i]);
  for (int i = 0; i < na_; ++i) e.push_back(d_->act[i]);
  for (std::size_t i = 0; i < n_info_; ++i) e.push_back(info_[i].value);
  e.push_back(diverged_ ? 1.0 : 0.0);
  const std::size_t base = e.size();
  e.resize(base + robot_extra_size());
  write_robot_extra(std::span<double>(e).subspan(base));
  return e;
}

void MujocoEnv::assign_extra(std::span<const double> e) {
  // assign_state already ran (mj_resetData + mj_forward); restore what carries across steps.
  // mj_forward renormalised a free joint's quaternion in d->qpos, which is not bit-idempotent:
  // put back the snapshot's own bits so that the continuation is exact.
  for (int i = 0; i < nq_; ++i) d_->qpos[i] = scratch_[static_cast<std::size_t>(i)];
  std::size_t k = 0;
  d_->time = e[k++];
  for (int i = 0; i < nv_; ++i) d_->qacc_warmstart[i] = e[k++];
  for (int i = 0; i < na_; ++i) d_->act[i] = e[k++];
  for (std::size_t i = 0; i < n_info_; ++i) info_[i].value = e[k++];
  diverged_ = e[k++] != 0;
  read_robot_extra(e.subspan(k));
}

}  // namespace rlmpi::env
