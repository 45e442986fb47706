// MJCF lookup and the process-wide cache of compiled MuJoCo models.
#include <mujoco/mujoco.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>

#include "rlmpi/core/error.hpp"
#include "rlmpi/env/mujoco_env.hpp"

#ifndef RLMPI_SOURCE_MODEL_DIR
#define RLMPI_SOURCE_MODEL_DIR ""
#endif
#ifndef RLMPI_INSTALL_MODEL_DIR
#define RLMPI_INSTALL_MODEL_DIR ""
#endif

namespace rlmpi::env {

namespace fs = std::filesystem;

namespace {

void ignore_warning(const char* /*msg*/) {}

}  // namespace

std::vector<std::string> model_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("RLMPI_MODEL_DIR"); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && exe.has_parent_path()) {
    const fs::path bin = exe.parent_path();
    dirs.push_back((bin / "models").string());
    dirs.push_back((bin.parent_path() / "share" / "rlmpi" / "models").string());
  }
  // Libraries linked into other programs cannot locate themselves: the configured prefix.
  if (*RLMPI_INSTALL_MODEL_DIR) dirs.emplace_back(RLMPI_INSTALL_MODEL_DIR);
  if (*RLMPI_SOURCE_MODEL_DIR) dirs.emplace_back(RLMPI_SOURCE_MODEL_DIR);
  return dirs;
}

std::string find_model_file(const std::string& file) {
  const auto dirs = model_search_dirs();
  std::string searched;
  for (const auto& d : dirs) {
    const fs::path p = fs::path(d) / file;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
    searched += (searched.empty() ? "" : ", ") + d;
  }
  throw UsageError("MuJoCo model '" + file + "' not found (searched: " + searched +
                   "; set RLMPI_MODEL_DIR to the directory holding it)");
}

MujocoModel::~MujocoModel() { mj_deleteModel(m_); }

std::shared_ptr<const MujocoModel> load_mujoco_model(const std::string& path) {
  // Process-wide by necessity: make_env(id) is a free function, and compiling a model per env
  // would cost milliseconds and memory per rank. Guarded by a mutex (mj_loadXML itself is not
  // documented as thread-safe either).
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const MujocoModel>> cache;
  const std::lock_guard lock(mutex);

  if (!mju_user_warning) mju_user_warning = &ignore_warning;

  std::error_code ec;
  fs::path key = fs::weakly_canonical(path, ec);
  if (ec) key = path;
  if (auto it = cache.find(key.string()); it != cache.end()) return it->second;

  if (!fs::is_regular_file(path, ec))
    throw UsageError("cannot load MuJoCo model '" + path + "': no such file");
  char err[1000] = "";
  mjModel* m = mj_loadXML(path.c_str(), nullptr, err, sizeof err);
  if (!m) {
    // MuJoCo's message spans lines ("Error ...\nElement ..., line N"): keep it to one.
    std::string msg = *err ? err : "unknown error";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    for (std::size_t i; (i = msg.find('\n')) != std::string::npos;) msg.replace(i, 1, "; ");
    throw UsageError("cannot load MuJoCo model '" + path + "': " + msg);
  }
  // make_shared cannot reach the private constructor.
  std::shared_ptr<const MujocoModel> model(new MujocoModel(m, path));
  cache.emplace(key.string(), model);
  return model;
}

}  // namespace rlmpi::env
