// MuJoCo locomotion envs: registry, spaces, reset noise, snapshots, validation, divergence,
// model lookup and loading errors, and a deliberately altered model that the golden replay
// must reject.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "mujoco_golden.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/env/env.hpp"
#include "rlmpi/env/locomotion.hpp"
#include "support/test_paths.hpp"

namespace fs = std::filesystem;
using rlmpi::env::GymVersion;
using rlmpi::env::make_env;

namespace {

const char* const kIds[] = {"HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Swimmer-v5",
                            "Ant-v5",         "HalfCheetah-v4", "Hopper-v4", "Walker2d-v4",
                            "Swimmer-v4",     "Ant-v4"};

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh directory under the system temp dir, removed with its content at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("rlmpi_mj_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

// Sets an environment variable for the scope, restoring the previous value.
struct ScopedEnv {
  std::string name;
  bool had = false;
  std::string old;
  ScopedEnv(const char* n, const std::string& value) : name(n) {
    if (const char* v = std::getenv(n)) {
      had = true;
      old = v;
    }
    ::setenv(n, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had)
      ::setenv(name.c_str(), old.c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const auto i = s.find(from);
  REQUIRE_MESSAGE(i != std::string::npos, "'" << from << "' not in model");
  return s.replace(i, from.size(), to);
}

}  // namespace

TEST_CASE("mujoco: the ten ids are registered with Gymnasium's spaces and time limit") {
  const struct {
    const char* id;
    int obs, act;
  } expected[] = {{"HalfCheetah-v5", 17, 6}, {"Hopper-v5", 11, 3}, {"Walker2d-v5", 17, 6},
                  {"Swimmer-v5", 8, 2},      {"Ant-v5", 105, 8},   {"HalfCheetah-v4", 17, 6},
                  {"Hopper-v4", 11, 3},      {"Walker2d-v4", 17, 6}, {"Swimmer-v4", 8, 2},
                  {"Ant-v4", 27, 8}};
  const auto infos = rlmpi::env::list_envs();
  for (const auto& e : expected) {
    CAPTURE(e.id);
    const auto env = make_env(e.id);
    CHECK(env->id() == e.id);
    CHECK(env->obs_dim() == e.obs);
    CHECK(env->act_dim() == e.act);
    CHECK(env->max_episode_steps() == 1000);
    CHECK(env->action_space().to_string() ==
          "Box(-1.0, 1.0, (" + std::to_string(e.act) + ",))");
    CHECK(env->observation_space().to_string() ==
          "Box(-inf, inf, (" + std::to_string(e.obs) + ",))");
    bool listed = false;
    for (const auto& i : infos) listed = listed || i.id == e.id;
    CHECK(listed);
  }
}

TEST_CASE("mujoco: reset draws the documented noise, deterministic per seed") {
  for (const char* id : kIds) {
    CAPTURE(id);
    auto a = make_env(id), b = make_env(id);
    const auto oa = a->reset(7), ob = b->reset(7);
    CHECK(oa == ob);
    CHECK(a->state() == b->state());
    const auto oc = b->reset(8);
    CHECK(oa != oc);
    for (double x : oa) CHECK(std::isfinite(x));
  }
  // Hopper: every qpos/qvel entry within +-0.005 of qpos0 / 0.
  rlmpi::env::Hopper h;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    h.reset(seed);
    const auto s = h.state();
    const double qpos0[6] = {0, 1.25, 0, 0, 0, 0};
    for (int i = 0; i < 12; ++i) {
      const double base = i < 6 ? qpos0[i] : 0.0;
      CHECK(std::fabs(s[static_cast<std::size_t>(i)] - base) <= 0.005);
    }
  }
  // Ant: the noisy quaternion is normalised by mj_forward; qvel is Gaussian (scale 0.1).
  rlmpi::env::Ant ant;
  double sum2 = 0;
  int n = 0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    ant.reset(seed);
    const auto s = ant.state();
    const double qn = std::sqrt(s[3] * s[3] + s[4] * s[4] + s[5] * s[5] + s[6] * s[6]);
    CHECK(qn == doctest::Approx(1.0).epsilon(1e-12));
    for (int i = 15; i < 29; ++i, ++n) sum2 += s[static_cast<std::size_t>(i)] * s[static_cast<std::size_t>(i)];
  }
  CHECK(std::sqrt(sum2 / n) == doctest::Approx(0.1).epsilon(0.05));
}

TEST_CASE("mujoco: snapshot/restore continues bit for bit, also in a fresh env") {
  for (const char* id : kIds) {
    CAPTURE(id);
    auto env = make_env(id);
    rlmpi::Rng rng(3);
    std::vector<double> obs(static_cast<std::size_t>(env->obs_dim()));
    std::vector<double> act(static_cast<std::size_t>(env->act_dim()));
    env->reset(11, obs);
    auto random_step = [&](rlmpi::env::Env& e) {
      for (double& a : act) a = rng.uniform(-1.0, 1.0);
      const auto r = e.step(act, obs);
      if (r.terminated || r.truncated) e.reset(obs);
      return r;
    };
    for (int t = 0; t < 15; ++t) random_step(*env);
    const auto snap = env->snapshot();
    const auto rng_state = rng.state();

    std::vector<std::vector<double>> seq1, seq2;
    auto record = [&](rlmpi::env::Env& e, std::vector<std::vector<double>>& seq) {
      for (int t = 0; t < 40; ++t) {
        const auto r = random_step(e);
        std::vector<double> row = obs;
        row.push_back(r.reward);
        row.push_back(r.terminated);
        for (const auto& i : e.info()) row.push_back(i.value);
        const auto s = e.state();
        row.insert(row.end(), s.begin(), s.end());
        seq.push_back(std::move(row));
      }
    };
    record(*env, seq1);
    auto fresh = make_env(id);
    fresh->restore(snap);
    rng.set_state(rng_state);
    record(*fresh, seq2);
    CHECK(seq1 == seq2);
  }
}

TEST_CASE("mujoco: invalid actions are rejected, out-of-range ones are passed to MuJoCo") {
  auto env = make_env("Hopper-v5");
  env->reset(1);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(env->step(std::vector<double>{0.1, nan, 0.2}), rlmpi::env::InvalidAction);
  CHECK_THROWS_AS(env->step(std::vector<double>{0.1, 0.2}), rlmpi::env::InvalidAction);
  CHECK_THROWS_AS(env->step(std::vector<double>{0.1, 0.2, 0.3, 0.4}), rlmpi::env::InvalidAction);
  // MuJoCo clamps ctrl to [-1, 1]; the control cost uses the raw action.
  auto a = make_env("Hopper-v5"), b = make_env("Hopper-v5");
  a->reset(5);
  b->reset(5);
  const auto ra = a->step(std::vector<double>{1.0, -1.0, 1.0});
  const auto rb = b->step(std::vector<double>{3.0, -2.0, 1.0});
  CHECK(ra.obs == rb.obs);
  const auto ctrl = [](const rlmpi::env::Env& e) {
    for (const auto& i : e.info())
      if (std::string(i.name) == "reward_ctrl") return i.value;
    return 0.0;
  };
  CHECK(ctrl(*a) == doctest::Approx(-1e-3 * 3));
  CHECK(ctrl(*b) == doctest::Approx(-1e-3 * 14));
}

TEST_CASE("mujoco: truncation at 1000 steps, reward terms reported every step") {
  auto env = make_env("Swimmer-v5");
  std::vector<double> obs(8), act(2, 0.3);
  env->reset(2, obs);
  const auto names = env->info();
  REQUIRE(names.size() == 7);
  CHECK(std::string(names[0].name) == "reward_forward");
  CHECK(std::string(names[1].name) == "reward_ctrl");
  for (int t = 1; t <= 1000; ++t) {
    const auto r = env->step(act, obs);
    REQUIRE(!r.terminated);
    REQUIRE(r.truncated == (t == 1000));
    const auto info = env->info();
    REQUIRE(info.data() == names.data());  // same storage, no allocation
    CHECK(r.reward == doctest::Approx(info[0].value + info[1].value));
  }
}

TEST_CASE("mujoco: a blown-up simulation ends the episode, flagged, without NaNs") {
  for (const char* id : {"Hopper-v5", "HalfCheetah-v5", "Ant-v5", "Swimmer-v4"}) {
    CAPTURE(id);
    auto env = make_env(id);
    env->reset(0);
    auto s = env->state();
    const auto nq = s.size() - static_cast<std::size_t>(
                                   dynamic_cast<rlmpi::env::MujocoEnv&>(*env).nv());
    s[nq] = 1e12;  // an absurd velocity: MuJoCo's own check trips
    env->set_state(s);
    const auto t = env->step(std::vector<double>(static_cast<std::size_t>(env->act_dim()), 0.0));
    CHECK(t.terminated);
    CHECK(env->diverged());
    CHECK(t.reward == 0.0);
    for (double x : t.obs) CHECK(std::isfinite(x));
    for (double x : env->state()) CHECK(std::isfinite(x));
    CHECK(dynamic_cast<rlmpi::env::MujocoEnv&>(*env).diverged_steps() == 1);
    env->reset(1);
    CHECK(!env->diverged());
    env->step(std::vector<double>(static_cast<std::size_t>(env->act_dim()), 0.0));
    CHECK(!env->diverged());
  }
  // MuJoCo prints its warnings to stdout and MUJOCO_LOG.TXT by default; we silence them.
  CHECK(!fs::exists("MUJOCO_LOG.TXT"));
}

TEST_CASE("mujoco: models load from the source tree, missing or invalid files are UsageErrors") {
  const std::string path = rlmpi::env::find_model_file("hopper.xml");
  CHECK(fs::exists(path));
  for (const char* f : {"half_cheetah.xml", "hopper.xml", "walker2d_v4.xml", "walker2d_v5.xml",
                        "swimmer.xml", "ant.xml"})
    CHECK(fs::equivalent(rlmpi::env::find_model_file(f),
                         fs::path(rlmpi::test::source_dir()) / "models" / f));

  CHECK_THROWS_AS(rlmpi::env::find_model_file("no_such_model.xml"), rlmpi::UsageError);
  try {
    rlmpi::env::Hopper h(GymVersion::v5, "/nonexistent/dir/hopper.xml");
    FAIL("no error");
  } catch (const rlmpi::UsageError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("/nonexistent/dir/hopper.xml") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
  TempDir tmp;
  const std::string bad = (tmp.path / "broken.xml").string();
  std::ofstream(bad) << read_file(path).substr(0, 400);  // truncated XML
  try {
    rlmpi::env::Hopper h(GymVersion::v5, bad);
    FAIL("no error");
  } catch (const rlmpi::UsageError& e) {
    const std::string msg = e.what();
    MESSAGE(msg);
    CHECK(msg.find(bad) != std::string::npos);
    CHECK(msg.find("cannot load MuJoCo model") != std::string::npos);
    CHECK(msg.size() > bad.size() + 30);  // MuJoCo's own text follows
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("mujoco: model search order ends with the configured install prefix, then the source tree") {
  const auto dirs = rlmpi::env::model_search_dirs();
  const std::string installed = RLMPI_INSTALL_MODEL_DIR;
  const std::string source = (fs::path(rlmpi::test::source_dir()) / "models").string();
  REQUIRE(dirs.size() >= 2);
  CHECK(dirs[dirs.size() - 2] == installed);
  CHECK(dirs.back() == source);
  {
    const ScopedEnv env("RLMPI_MODEL_DIR", "/some/where");
    const auto with_env = rlmpi::env::model_search_dirs();
    CHECK(with_env.front() == "/some/where");
    CHECK(with_env.size() == dirs.size() + 1);
  }
}

TEST_CASE("mujoco: an altered model constant makes the golden replay fail") {
  const auto cases = rlmpi::test::load_mujoco_golden("Hopper-v5");
  REQUIRE(!cases.empty());
  const std::string xml = read_file(rlmpi::env::find_model_file("hopper.xml"));
  TempDir tmp;
  // Leg-joint damping 1 -> 1.1 (the default class), everything else unchanged.
  const std::string altered =
      replace_once(xml, R"(<joint armature="1" damping="1" limited="true"/>)",
                   R"(<joint armature="1" damping="1.1" limited="true"/>)");
  const std::string same = (tmp.path / "hopper_copy.xml").string();
  std::ofstream(same) << xml;
  const std::string changed = (tmp.path / "hopper_damping.xml").string();
  std::ofstream(changed) << altered;

  using rlmpi::test::ReplayMode;
  // Through the constructor parameter: an unmodified copy passes, the altered model fails.
  const auto ok = replay_cases(
      cases, [&] { return std::make_unique<rlmpi::env::Hopper>(GymVersion::v5, same); },
      ReplayMode::OneStep, 0);
  CHECK_MESSAGE(ok.failed_cases == 0, ok.first_failure);
  const auto bad = replay_cases(
      cases, [&] { return std::make_unique<rlmpi::env::Hopper>(GymVersion::v5, changed); },
      ReplayMode::OneStep, 0);
  MESSAGE("damping 1.1: " << bad.summary());
  CHECK(bad.failed_cases == bad.cases);

  // Through RLMPI_MODEL_DIR, which takes precedence over every other model directory.
  const fs::path dir = tmp.path / "models";
  fs::create_directories(dir);
  std::ofstream((dir / "hopper.xml").string()) << altered;
  {
    const ScopedEnv env("RLMPI_MODEL_DIR", dir.string());
    CHECK(fs::equivalent(rlmpi::env::find_model_file("hopper.xml"), dir / "hopper.xml"));
    const auto via_env = replay_cases(
        cases, [] { return make_env("Hopper-v5"); }, ReplayMode::Rollout, 10);
    CHECK(via_env.failed_cases > 0);
    // Files missing there are still found further down the list.
    CHECK(fs::equivalent(rlmpi::env::find_model_file("ant.xml"),
                         fs::path(rlmpi::test::source_dir()) / "models" / "ant.xml"));
  }
}

TEST_CASE("mujoco: a model of another robot is a one-line UsageError naming file, env and sizes") {
  const std::string walker = rlmpi::env::find_model_file("walker2d_v4.xml");
  try {
    rlmpi::env::Hopper h(GymVersion::v4, walker);
    FAIL("no error");
  } catch (const rlmpi::UsageError& e) {
    const std::string msg = e.what();
    MESSAGE(msg);
    CHECK(msg.find("model file '" + walker + "' does not fit Hopper-v4: nq 9, expected 6; nv 9, expected 6; "
                   "nu 6, expected 3 (allowed: a model of the Hopper: nq 6, nv 6, nu 3, root joints slide, "
                   "slide, hinge)") == 0);
    CHECK(msg.find('\n') == std::string::npos);
  }
  // Same sizes, but the root is not (x slide, z slide, angle hinge): rewards would read garbage.
  const std::string xml = read_file(rlmpi::env::find_model_file("hopper.xml"));
  TempDir tmp;
  const std::string hinge_root = (tmp.path / "hopper_hinge_root.xml").string();
  std::ofstream(hinge_root) << replace_once(xml, R"(name="rootx" type="slide")", R"(name="rootx" type="hinge")");
  try {
    rlmpi::env::Hopper h(GymVersion::v5, hinge_root);
    FAIL("no error");
  } catch (const rlmpi::UsageError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("does not fit Hopper-v5: root joints hinge, slide, hinge, expected slide, slide, hinge") !=
          std::string::npos);
  }
  // The Ant reads cfrc_ext of exactly 14 bodies.
  const std::string ant_xml = read_file(rlmpi::env::find_model_file("ant.xml"));
  const std::string extra_body = (tmp.path / "ant_extra_body.xml").string();
  std::ofstream(extra_body) << replace_once(ant_xml, "</worldbody>",
                                            R"(<body name="extra" pos="5 5 0"><geom size="0.1" type="sphere"/></body></worldbody>)");
  try {
    rlmpi::env::Ant a(GymVersion::v5, extra_body);
    FAIL("no error");
  } catch (const rlmpi::UsageError& e) {
    CHECK(std::string(e.what()).find("does not fit Ant-v5: nbody 15, expected 14 (allowed:") != std::string::npos);
  }
}

TEST_CASE("mujoco: every env with every other robot's model under its file name (RLMPI_MODEL_DIR)") {
  // Sizes of the model files: robots with equal sizes (HalfCheetah, Walker2d) cannot be told apart
  // and run (wrongly, but within bounds); every other swap is a UsageError.
  const struct {
    const char* file;
    const char* robot;
  } donors[] = {{"half_cheetah.xml", "HalfCheetah"}, {"hopper.xml", "Hopper"}, {"walker2d_v4.xml", "Walker2d"},
                {"walker2d_v5.xml", "Walker2d"},     {"swimmer.xml", "Swimmer"}, {"ant.xml", "Ant"}};
  const auto shape_class = [](const std::string& robot) {
    return robot == "Walker2d" ? std::string("HalfCheetah") : robot;  // 9 9 6, planar
  };
  for (const auto& d : donors) {
    // Every file name the envs look up holds the donor model.
    TempDir tmp;
    const std::string xml = read_file(rlmpi::env::find_model_file(d.file));
    for (const char* f : {"half_cheetah.xml", "hopper.xml", "walker2d_v4.xml", "walker2d_v5.xml", "swimmer.xml",
                          "ant.xml"})
      std::ofstream((tmp.path / f).string()) << xml;
    const ScopedEnv env("RLMPI_MODEL_DIR", tmp.path.string());
    for (const char* id : kIds) {
      const std::string robot = std::string(id).substr(0, std::string(id).find('-'));
      const bool fits = shape_class(robot) == shape_class(d.robot);
      CAPTURE(id);
      CAPTURE(d.file);
      if (fits) {
        const auto e = make_env(id);
        std::vector<double> obs(static_cast<std::size_t>(e->obs_dim()));
        e->reset(1, obs);
        for (int t = 0; t < 5; ++t)
          e->step(std::vector<double>(static_cast<std::size_t>(e->act_dim()), 0.1), obs);
      } else {
        try {
          make_env(id);
          FAIL("no error");
        } catch (const rlmpi::UsageError& e) {
          const std::string msg = e.what();
          CHECK(msg.find("does not fit " + std::string(id) + ": ") != std::string::npos);
          CHECK(msg.find(tmp.path.string()) != std::string::npos);
          CHECK(msg.find('\n') == std::string::npos);
        }
      }
    }
  }
}
