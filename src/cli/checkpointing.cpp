#include "checkpointing.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <string_view>
#include <variant>

#include "rlmpi/core/bytes.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/io/file_writer.hpp"

namespace rlmpi::cli {

// What a checkpoint must agree on with the run that resumes it.
std::vector<std::pair<std::string, std::string>> identity(const Options& cfg, const mpi::Comm& world) {
  std::string hid;
  for (int h : cfg.hid) {
    if (!hid.empty()) hid += ',';
    hid += std::to_string(h);
  }
  return {{"algo", cfg.algo},
          {"env", cfg.env},
          {"hid", hid},
          {"activation", cfg.activation},
          {"precision", cfg.precision},
          {"ppo-variant", cfg.ppo_variant},
          {"ranks", std::to_string(world.size())},
          {"envs-per-rank", std::to_string(cfg.envs_per_rank)},
          {"steps-per-epoch", std::to_string(cfg.steps_per_epoch)},
          {"epoch-end", cfg.epoch_end},
          {"scale-actions", cfg.scale_actions ? "1" : "0"},
          {"time-feature", cfg.time_feature ? "1" : "0"},
          {"seed", std::to_string(cfg.seed)}};
}

void save_checkpoint(const algo::Trainer& trainer, const std::string& path, const Options& cfg,
                     const mpi::Comm& world) {
  const std::vector<char> image = checkpoint_image(trainer, path, cfg, world);
  if (world.is_root()) io::write_file_atomically(path, image);
}

std::vector<char> checkpoint_image(const algo::Trainer& trainer, const std::string& path, const Options& cfg,
                                   const mpi::Comm& world) {
  const io::Checkpoint c = checkpoint_contents(trainer, cfg, world);
  if (!world.is_root()) return {};
  return io::checkpoint_image(path, c);
}

io::Checkpoint checkpoint_contents(const algo::Trainer& trainer, const Options& cfg, const mpi::Comm& world) {
  const algo::TrainerState st = trainer.state();
  std::vector<std::string> blobs = world.gather_bytes(st.rank_blob);
  if (!world.is_root()) return {};
  io::Checkpoint c;
  for (const auto& [k, v] : identity(cfg, world)) c.meta.emplace_back("id." + k, v);
  c.meta.emplace_back("epoch", static_cast<std::int64_t>(st.epoch));
  c.meta.emplace_back("total_steps", static_cast<std::int64_t>(st.total_steps));
  c.meta.emplace_back("elapsed_seconds", st.elapsed_seconds);
  c.meta.emplace_back("isa", nn::to_string(trainer.isa()));  // informative: a resume may use another set
  for (const auto& a : st.arrays) c.arrays.emplace_back(a.name, a.data);
  c.rank_blobs = std::move(blobs);
  return c;
}

void keep_checkpoint_history(const std::string& dir, const std::string& checkpoint, int last_epoch, int keep) {
  if (keep <= 0) return;
  namespace fs = std::filesystem;
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-epoch%06d.h5", last_epoch);
  const fs::path kept = fs::path(dir) / name;
  std::error_code ec;
  fs::remove(kept, ec);  // a rolled-back run's own file of this epoch
  fs::create_hard_link(checkpoint, kept, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(checkpoint, kept, fs::copy_options::overwrite_existing, ec);
  }
  if (ec) {
    std::fprintf(stderr, "rlmpi: warning: --keep-checkpoints: cannot keep %s: %s (checkpoint.h5 is intact)\n",
                 kept.c_str(), ec.message().c_str());
    fs::remove(kept, ec);
  }
  std::vector<std::pair<long, fs::path>> history;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() == 25 && f.starts_with("checkpoint-epoch") && f.ends_with(".h5") &&
        f.find_first_not_of("0123456789", 16) == 22)  // checkpoint-epoch + 6 digits + .h5
      history.emplace_back(std::stol(f.substr(16, 6)), e.path());
  }
  std::sort(history.begin(), history.end());
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < history.size(); ++i) {
    fs::remove(history[i].second, ec);
    if (ec)
      std::fprintf(stderr, "rlmpi: warning: --keep-checkpoints: cannot remove %s: %s\n", history[i].second.c_str(),
                   ec.message().c_str());
  }
}

// Rank 0: reads and checks the checkpoint; returns it serialized for the broadcast.
io::Checkpoint load_checkpoint(const std::string& path, const Options& cfg, const mpi::Comm& world) {
  // Checksums, types and ranges of everything present are checked by read_checkpoint; here: what
  // a resume needs is present.
  io::Checkpoint c = io::read_checkpoint(path);
  auto corrupt = [&](const std::string& reason) { return UsageError(io::corrupt_checkpoint_message(path, reason)); };
  auto find = [&](const std::string& name) -> const io::AttrValue* {
    for (const auto& [k, v] : c.meta)
      if (k == name) return &v;
    return nullptr;
  };
  for (const auto& [k, v] : identity(cfg, world)) {
    std::string theirs;
    const io::AttrValue* a = find("id." + k);
    if (!a) {
      // Checkpoints from before --precision / --epoch-end / --scale-actions / --time-feature were
      // double / reset / 0 / 0.
      if (k != "precision" && k != "epoch-end" && k != "scale-actions" && k != "time-feature")
        throw corrupt("attribute 'id." + k + "' is missing");
      theirs = k == "precision" ? "double" : k == "epoch-end" ? "reset" : "0";
    } else if (const auto* s = std::get_if<std::string>(a)) {
      theirs = *s;
    } else {
      throw corrupt("attribute 'id." + k + "' is not a string");
    }
    if (theirs != v)
      throw UsageError("cannot resume from '" + path + "': it was written with " + (k == "ranks" ? "" : "--") + k + " " +
                       theirs + ", this run has " + v + " (allowed: the same " + k + " as the checkpoint)");
  }
  // distribute() takes these as they are.
  for (const char* name : {"epoch", "total_steps", "elapsed_seconds"}) {
    const io::AttrValue* a = find(name);
    if (!a) throw corrupt("attribute '" + std::string(name) + "' is missing");
    const bool is_real = std::string_view(name) == "elapsed_seconds";
    if (is_real ? !std::holds_alternative<double>(*a) : !std::holds_alternative<std::int64_t>(*a))
      throw corrupt("attribute '" + std::string(name) + "' is not " + (is_real ? "a floating-point number" : "an integer"));
  }
  if (c.rank_blobs.size() != static_cast<std::size_t>(world.size()))
    throw corrupt("it holds " + std::to_string(c.rank_blobs.size()) + " rank states");
  return c;
}

// Checkpoint -> this rank's TrainerState (collective: root broadcasts the shared part and
// scatters the per-rank parts).
algo::TrainerState distribute(const io::Checkpoint& c, const mpi::Comm& world) {
  std::string shared;
  if (world.is_root()) {
    ByteWriter w;
    // Present with these types: checked by load_checkpoint.
    w.put(std::get<std::int64_t>(c.attribute("epoch")));
    w.put(std::get<std::int64_t>(c.attribute("total_steps")));
    w.put(std::get<double>(c.attribute("elapsed_seconds")));
    for (const auto& [name, data] : c.arrays) {
      w.put_string(name);
      w.put_vector(data);
    }
    shared = w.take();
  }
  world.broadcast(shared);
  algo::TrainerState st;
  ByteReader r(shared, "checkpoint broadcast");
  st.epoch = r.get<std::int64_t>();
  st.total_steps = r.get<std::int64_t>();
  st.elapsed_seconds = r.get<double>();
  while (!r.done()) {
    algo::NamedArray a;
    a.name = r.get_string();
    a.data = r.get_vector<double>();
    st.arrays.push_back(std::move(a));
  }
  st.rank_blob = world.scatter_bytes(world.is_root() ? c.rank_blobs : std::vector<std::string>{});
  return st;
}

}  // namespace rlmpi::cli
