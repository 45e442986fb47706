#include "rlmpi/io/run_file.hpp"

#include "rlmpi/io/file_writer.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "rlmpi/core/error.hpp"
#include "rlmpi/io/hdf5.hpp"
#include "rlmpi/io/json.hpp"

namespace rlmpi::io {

namespace {

constexpr long long kEpochChunk = 1024;
constexpr long long kEpisodeChunk = 4096;
constexpr const char* kFormatAttr = "rlmpi_file_format";

bool path_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

void check_column_name(const std::string& name) {
  if (name.empty() || name == "." || name.find('/') != std::string::npos)
    throw std::invalid_argument("run file: invalid column name '" + name + "'");
}

// Open handles on the parts of a run file, validated.
struct Layout {
  h5::Group epochs_group, episodes_group;
  std::vector<std::string> columns;
  std::vector<h5::Dataset> column_sets;
  std::vector<bool> column_integer;  // int64 in the file (run files before 0.2 have float64 only)
  h5::Dataset ret, len, rank, epoch;
  long long n_epochs = 0, n_episodes = 0;
};

std::string fmt_bad(const std::string& what) { return "not a valid rlmpi run file: " + what; }

Layout open_layout(h5::Id file) {
  Layout l;
  if (H5Aexists(file, kFormatAttr) <= 0)
    throw h5::Error(fmt_bad(std::string("no '") + kFormatAttr + "' attribute"));
  auto format = h5::read_attribute(file, kFormatAttr);
  if (!std::holds_alternative<std::string>(format) || std::get<std::string>(format) != kRunFileFormat)
    throw h5::Error(fmt_bad(std::string("unsupported ") + kFormatAttr));
  for (const char* g : {"epochs", "episodes"})
    if (!h5::exists(file, g)) throw h5::Error(fmt_bad(std::string("missing group /") + g));
  l.epochs_group = h5::open_group(file, "epochs");
  l.episodes_group = h5::open_group(file, "episodes");
  l.columns = h5::child_names(l.epochs_group.get());
  for (std::size_t i = 0; i < l.columns.size(); ++i) {
    l.column_sets.push_back(h5::open_dataset(l.epochs_group.get(), l.columns[i]));
    const bool integer = h5::has_type<long long>(l.column_sets.back().get(), "/epochs/" + l.columns[i]);
    if (!integer) h5::require_type<double>(l.column_sets.back().get(), "/epochs/" + l.columns[i]);
    l.column_integer.push_back(integer);
    long long n = h5::length(l.column_sets.back().get());
    if (i == 0) l.n_epochs = n;
    if (n != l.n_epochs) throw h5::Error(fmt_bad("/epochs datasets differ in length"));
  }
  auto open_ep = [&](const char* name) {
    if (!h5::exists(l.episodes_group.get(), name))
      throw h5::Error(fmt_bad(std::string("missing /episodes/") + name));
    return h5::open_dataset(l.episodes_group.get(), name);
  };
  l.ret = open_ep("return");
  l.len = open_ep("length");
  l.rank = open_ep("rank");
  l.epoch = open_ep("epoch");
  h5::require_type<double>(l.ret.get(), "/episodes/return");
  h5::require_type<long long>(l.len.get(), "/episodes/length");
  h5::require_type<int>(l.rank.get(), "/episodes/rank");
  h5::require_type<long long>(l.epoch.get(), "/episodes/epoch");
  l.n_episodes = h5::length(l.ret.get());
  for (h5::Id d : {l.len.get(), l.rank.get(), l.epoch.get()})
    if (h5::length(d) != l.n_episodes) throw h5::Error(fmt_bad("/episodes datasets differ in length"));
  return l;
}

}  // namespace

struct RunFile::Impl {
  std::string path;
  h5::File file;
  Layout layout;
  struct PendingAttribute {
    std::string column, attr, text;
  };
  std::vector<PendingAttribute> pending;  // for columns not yet created
  long long last_episode_epoch = -1;
};

RunFile::RunFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RunFile::RunFile(RunFile&&) noexcept = default;
RunFile& RunFile::operator=(RunFile&&) noexcept = default;
RunFile::~RunFile() = default;

RunFile RunFile::create(const std::string& path, const Attributes& attrs) {
  h5::ErrorSilencer quiet;
  if (path_exists(path)) throw UsageError("run file '" + path + "' already exists (refusing to overwrite it)");
  bool has_config_json = false;
  std::vector<std::string> seen;
  for (const auto& [name, value] : attrs) {
    if (name.empty() || name == kFormatAttr || std::find(seen.begin(), seen.end(), name) != seen.end())
      throw std::invalid_argument("run file: invalid or duplicate attribute name '" + name + "'");
    seen.push_back(name);
    if (name == "config_json") {
      if (!std::holds_alternative<std::string>(value))
        throw std::invalid_argument("run file: attribute 'config_json' must be a string");
      has_config_json = true;
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  h5::PropList fcpl(h5::check(H5Pcreate(H5P_FILE_CREATE), "cannot create property list"));
  // Keep the caller's order for root attributes and groups (h5py lists them in that order).
  const unsigned order = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
  h5::check_status(H5Pset_attr_creation_order(fcpl.get(), order), "cannot set attribute order");
  h5::check_status(H5Pset_link_creation_order(fcpl.get(), order), "cannot set link order");
  h5::PropList fapl = h5::memory_fapl();
  impl->file = h5::File(h5::check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get()),
                                  "cannot create run file '" + path + "'"));
  const h5::Id root = impl->file.get();
  for (const auto& [name, value] : attrs) h5::write_attribute(root, name, value);
  if (!has_config_json) h5::write_attribute(root, "config_json", to_json(attrs));
  h5::write_attribute(root, kFormatAttr, std::string(kRunFileFormat));

  Layout& l = impl->layout;
  l.epochs_group = h5::create_group(root, "epochs");
  l.episodes_group = h5::create_group(root, "episodes");
  const h5::Id eg = l.episodes_group.get();
  l.ret = h5::create_extendable<double>(eg, "return", kEpisodeChunk);
  l.len = h5::create_extendable<long long>(eg, "length", kEpisodeChunk);
  l.rank = h5::create_extendable<int>(eg, "rank", kEpisodeChunk);
  l.epoch = h5::create_extendable<long long>(eg, "epoch", kEpisodeChunk);
  h5::write_attribute(l.ret.get(), "description", std::string("undiscounted return of the episode"));
  h5::write_attribute(l.len.get(), "units", std::string("steps"));
  h5::write_attribute(l.rank.get(), "description", std::string("MPI rank that ran the episode"));
  h5::write_attribute(l.epoch.get(), "description",
                      std::string("0-based row in /epochs of the epoch the episode finished in"));

  RunFile rf(std::move(impl));
  try {
    rf.commit();  // the file exists (and is readable) from the start of the run
  } catch (const std::runtime_error& e) {
    throw UsageError("cannot write run file '" + path + "': " + e.what());
  }
  return rf;
}

RunFile RunFile::open_for_resume(const std::string& path, long long epochs) {
  h5::ErrorSilencer quiet;
  if (epochs < 0) throw std::invalid_argument("run file: negative epoch count");
  if (!path_exists(path)) throw UsageError("cannot resume: run file '" + path + "' does not exist");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  try {
    h5::PropList fapl = h5::memory_fapl();
    impl->file = h5::File(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()), "HDF5 cannot open it"));
    impl->layout = open_layout(impl->file.get());
  } catch (const h5::Error& e) {
    throw UsageError("cannot resume run file '" + path + "': " + e.what());
  }
  Layout& l = impl->layout;
  if (l.n_epochs < epochs)
    throw UsageError("cannot resume run file '" + path + "': it holds " + std::to_string(l.n_epochs) +
                     " epochs but the checkpoint is at epoch " + std::to_string(epochs));
  for (auto& d : l.column_sets) h5::resize(d.get(), epochs);
  l.n_epochs = epochs;
  // Episodes are stored in epoch order, so the rows to keep are a prefix.
  std::vector<long long> ep = h5::read_all<long long>(l.epoch.get());
  auto keep = static_cast<long long>(std::lower_bound(ep.begin(), ep.end(), epochs) - ep.begin());
  for (h5::Id d : {l.ret.get(), l.len.get(), l.rank.get(), l.epoch.get()}) h5::resize(d, keep);
  l.n_episodes = keep;
  impl->last_episode_epoch = keep > 0 ? ep[static_cast<std::size_t>(keep - 1)] : -1;
  // Evaluations are in epoch order too: keep those of checkpointed epochs.
  const h5::Id f = impl->file.get();
  if (h5::exists(f, "eval")) {
    const h5::Group g = h5::open_group(f, "eval");
    const std::vector<long long> ev = h5::read_all<long long>(h5::open_dataset(g.get(), "epoch").get());
    const auto rows = static_cast<long long>(std::lower_bound(ev.begin(), ev.end(), epochs) - ev.begin());
    for (const auto& name : h5::child_names(g.get())) h5::resize(h5::open_dataset(g.get(), name).get(), rows);
  }
  RunFile rf(std::move(impl));
  rf.commit();  // readers see the truncated file from now on
  return rf;
}

void RunFile::set_column_attribute(const std::string& column, const std::string& attr, const std::string& text) {
  h5::ErrorSilencer quiet;
  Layout& l = impl_->layout;
  auto it = std::find(l.columns.begin(), l.columns.end(), column);
  if (it != l.columns.end()) {
    h5::Id d = l.column_sets[static_cast<std::size_t>(it - l.columns.begin())].get();
    if (H5Aexists(d, attr.c_str()) > 0)
      h5::check_status(H5Adelete(d, attr.c_str()), "cannot replace " + attr + " of " + column);
    h5::write_attribute(d, attr, text);
  } else if (!l.columns.empty()) {
    throw std::invalid_argument("run file: " + attr + " for unknown column '" + column + "'");
  } else {
    impl_->pending.push_back({column, attr, text});
  }
}

void RunFile::declare_columns(const std::vector<std::string>& names, const std::vector<bool>& integer) {
  h5::ErrorSilencer quiet;
  Layout& l = impl_->layout;
  if (!l.columns.empty()) return;
  if (names.empty()) throw std::invalid_argument("run file: no columns to declare");
  if (!integer.empty() && integer.size() != names.size())
    throw std::invalid_argument("run file: declare_columns needs one integer flag per column");
  for (std::size_t i = 0; i < names.size(); ++i) {
    check_column_name(names[i]);
    for (std::size_t j = 0; j < i; ++j)
      if (names[j] == names[i]) throw std::invalid_argument("run file: column '" + names[i] + "' declared twice");
  }
  for (const auto& p : impl_->pending)
    if (std::find(names.begin(), names.end(), p.column) == names.end())
      throw std::invalid_argument("run file: " + p.attr + " for unknown column '" + p.column + "'");
  for (std::size_t i = 0; i < names.size(); ++i) {
    const bool is_int = !integer.empty() && integer[i];
    l.columns.push_back(names[i]);
    l.column_integer.push_back(is_int);
    l.column_sets.push_back(is_int ? h5::create_extendable<long long>(l.epochs_group.get(), names[i], kEpochChunk)
                                   : h5::create_extendable<double>(l.epochs_group.get(), names[i], kEpochChunk));
  }
  auto pending = std::move(impl_->pending);
  impl_->pending.clear();
  for (const auto& p : pending) set_column_attribute(p.column, p.attr, p.text);
}

void RunFile::append_epoch(std::span<const std::pair<std::string, double>> row) {
  h5::ErrorSilencer quiet;
  Layout& l = impl_->layout;
  for (std::size_t i = 0; i < row.size(); ++i) {
    check_column_name(row[i].first);
    for (std::size_t j = 0; j < i; ++j)
      if (row[j].first == row[i].first)
        throw std::invalid_argument("run file: column '" + row[i].first + "' given twice in one epoch row");
  }
  if (l.columns.empty()) {
    if (row.empty()) throw std::invalid_argument("run file: an epoch row needs at least one column");
    std::vector<std::string> names;
    for (const auto& [name, value] : row) names.push_back(name);
    declare_columns(names);
  }
  if (row.size() != l.columns.size())
    throw std::invalid_argument("run file: epoch row has " + std::to_string(row.size()) + " columns, the file has " +
                                std::to_string(l.columns.size()));
  std::vector<double> values(l.columns.size());
  for (const auto& [name, value] : row) {
    auto it = std::find(l.columns.begin(), l.columns.end(), name);
    if (it == l.columns.end())
      throw std::invalid_argument("run file: epoch row has column '" + name + "', which the file does not have");
    const auto i = static_cast<std::size_t>(it - l.columns.begin());
    if (l.column_integer[i] && !(std::isfinite(value) && value == std::trunc(value) && std::abs(value) < 0x1p62))
      throw std::invalid_argument("run file: integer column '" + name + "' given " + std::to_string(value));
    values[i] = value;
  }
  try {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (l.column_integer[i]) {
        const long long v = static_cast<long long>(values[i]);
        h5::append<long long>(l.column_sets[i].get(), std::span<const long long>(&v, 1));
      } else {
        h5::append<double>(l.column_sets[i].get(), std::span<const double>(&values[i], 1));
      }
    }
  } catch (...) {
    const hsize_t n[1] = {hsize_t(l.n_epochs)};
    for (auto& d : l.column_sets) H5Dset_extent(d.get(), n);
    throw;  // all columns keep the same length
  }
  ++l.n_epochs;
}

void RunFile::append_episodes(std::span<const double> ret, std::span<const long long> len,
                              std::span<const int> rank, long long epoch) {
  h5::ErrorSilencer quiet;
  Layout& l = impl_->layout;
  if (len.size() != ret.size() || rank.size() != ret.size())
    throw std::invalid_argument("run file: append_episodes needs spans of equal length");
  if (epoch < l.n_epochs - 1 || epoch > l.n_epochs || epoch < impl_->last_episode_epoch)
    throw std::invalid_argument("run file: episodes for epoch " + std::to_string(epoch) + " appended when " +
                                std::to_string(l.n_epochs) + " epoch rows exist (expected the current epoch)");
  if (ret.empty()) return;
  const std::vector<long long> epoch_col(ret.size(), epoch);
  try {
    h5::append<double>(l.ret.get(), ret);
    h5::append<long long>(l.len.get(), len);
    h5::append<int>(l.rank.get(), rank);
    h5::append<long long>(l.epoch.get(), epoch_col);
  } catch (...) {
    const hsize_t n[1] = {hsize_t(l.n_episodes)};
    for (h5::Id d : {l.ret.get(), l.len.get(), l.rank.get(), l.epoch.get()}) H5Dset_extent(d, n);
    throw;
  }
  l.n_episodes += static_cast<long long>(ret.size());
  impl_->last_episode_epoch = epoch;
}

void RunFile::set_vector(const std::string& group, const std::string& name, std::span<const double> values) {
  check_column_name(group);
  check_column_name(name);
  if (group == "epochs" || group == "episodes")
    throw std::invalid_argument("run file: set_vector cannot write into /" + group);
  h5::ErrorSilencer quiet;
  const h5::Id f = impl_->file.get();
  const h5::Group g = h5::exists(f, group) ? h5::open_group(f, group) : h5::create_group(f, group);
  const h5::Dataset d = h5::exists(g.get(), name)
                            ? h5::open_dataset(g.get(), name)
                            : h5::create_extendable<double>(g.get(), name, std::max<long long>(1, static_cast<long long>(values.size())));
  h5::resize(d.get(), 0);
  h5::append<double>(d.get(), values);
}

std::optional<AttrValue> RunFile::attribute(const std::string& name) const {
  h5::ErrorSilencer quiet;
  const h5::Id f = impl_->file.get();
  if (H5Aexists(f, name.c_str()) <= 0) return std::nullopt;
  return h5::read_attribute(f, name);
}

void RunFile::set_attribute(const std::string& name, const AttrValue& value) {
  if (name.empty() || name == kFormatAttr) throw std::invalid_argument("run file: invalid attribute name '" + name + "'");
  h5::ErrorSilencer quiet;
  const h5::Id f = impl_->file.get();
  if (H5Aexists(f, name.c_str()) > 0) h5::check_status(H5Adelete(f, name.c_str()), "cannot replace attribute " + name);
  h5::write_attribute(f, name, value);
}

void RunFile::append_eval(const EvalRow& row) {
  h5::ErrorSilencer quiet;
  const h5::Id f = impl_->file.get();
  const bool existed = h5::exists(f, "eval");
  const h5::Group g = existed ? h5::open_group(f, "eval") : h5::create_group(f, "eval");
  auto put_int = [&](const char* name, long long v, const char* what) {
    const h5::Dataset d = existed ? h5::open_dataset(g.get(), name) : h5::create_extendable<long long>(g.get(), name, 64);
    if (!existed) h5::write_attribute(d.get(), "description", std::string(what));
    h5::append<long long>(d.get(), std::span<const long long>(&v, 1));
  };
  auto put_real = [&](const char* name, double v, const char* what) {
    const h5::Dataset d = existed ? h5::open_dataset(g.get(), name) : h5::create_extendable<double>(g.get(), name, 64);
    if (!existed) h5::write_attribute(d.get(), "description", std::string(what));
    h5::append<double>(d.get(), std::span<const double>(&v, 1));
  };
  put_int("epoch", row.epoch, "0-based row in /epochs after which the policy was evaluated");
  put_int("env_steps", row.env_steps, "environment steps of training so far (TotalEnvInteracts)");
  put_int("episodes", row.episodes, "evaluation episodes (deterministic policy, the same start states every time)");
  put_real("return_mean", row.return_mean, "mean undiscounted return of the evaluation episodes");
  put_real("return_std", row.return_std, "standard deviation of the evaluation returns");
  put_real("return_min", row.return_min, "smallest evaluation return");
  put_real("return_max", row.return_max, "largest evaluation return");
  put_real("length_mean", row.length_mean, "mean length of the evaluation episodes (steps)");
}

double RunFile::best_eval_return() const {
  h5::ErrorSilencer quiet;
  const h5::Id f = impl_->file.get();
  double best = -std::numeric_limits<double>::infinity();
  if (!h5::exists(f, "eval")) return best;
  const h5::Group g = h5::open_group(f, "eval");
  for (double v : h5::read_all<double>(h5::open_dataset(g.get(), "return_mean").get())) best = std::max(best, v);
  return best;
}

void RunFile::append_change(long long epoch, const std::string& option, const std::string& old_value,
                            const std::string& new_value) {
  h5::ErrorSilencer quiet;
  const h5::Id f = impl_->file.get();
  const bool existed = h5::exists(f, "changes");
  const h5::Group g = existed ? h5::open_group(f, "changes") : h5::create_group(f, "changes");
  // The table is tiny: the three string columns are rewritten whole.
  const char* names[3] = {"option", "old", "new"};
  const std::string row[3] = {option, old_value, new_value};
  for (int c = 0; c < 3; ++c) {
    std::vector<std::string> col;
    if (existed) col = h5::read_strings(h5::open_dataset(g.get(), names[c]).get());
    col.push_back(row[c]);
    h5::write_strings(g.get(), names[c], col);
  }
  const h5::Dataset e = existed ? h5::open_dataset(g.get(), "epoch") : h5::create_extendable<long long>(g.get(), "epoch", 64);
  h5::append<long long>(e.get(), std::span<const long long>(&epoch, 1));
}

void RunFile::commit() { write_file_atomically(impl_->path, snapshot()); }

std::vector<char> RunFile::snapshot() {
  h5::ErrorSilencer quiet;
  return h5::file_image(impl_->file.get(), "cannot commit run file '" + impl_->path + "'");
}

long long RunFile::epochs() const { return impl_->layout.n_epochs; }
long long RunFile::episodes() const { return impl_->layout.n_episodes; }
const std::vector<std::string>& RunFile::columns() const { return impl_->layout.columns; }
const std::string& RunFile::path() const { return impl_->path; }

const RunData::Column& RunData::column(std::string_view name) const {
  for (const auto& c : epochs)
    if (c.name == name) return c;
  throw std::out_of_range("run file has no column /epochs/" + std::string(name));
}

const AttrValue& RunData::attribute(std::string_view name) const {
  for (const auto& [n, v] : attributes)
    if (n == name) return v;
  throw std::out_of_range("run file has no attribute '" + std::string(name) + "'");
}

RunData read_run_file(const std::string& path) {
  h5::ErrorSilencer quiet;
  if (!path_exists(path)) throw UsageError("run file '" + path + "' does not exist");
  RunData out;
  try {
    // No lock: the writer never modifies the file in place (see commit()).
    h5::PropList fapl = h5::unlocked_read_fapl();
    h5::File file(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), "HDF5 cannot open it"));
    Layout l = open_layout(file.get());
    out.attributes = h5::read_attributes(file.get());
    for (std::size_t i = 0; i < l.columns.size(); ++i) {
      RunData::Column c{l.columns[i], "", h5::read_all<double>(l.column_sets[i].get())};
      if (H5Aexists(l.column_sets[i].get(), "units") > 0) {
        auto u = h5::read_attribute(l.column_sets[i].get(), "units");
        if (auto* s = std::get_if<std::string>(&u)) c.unit = *s;
      }
      out.epochs.push_back(std::move(c));
    }
    out.episode_return = h5::read_all<double>(l.ret.get());
    out.episode_length = h5::read_all<long long>(l.len.get());
    out.episode_rank = h5::read_all<int>(l.rank.get());
    out.episode_epoch = h5::read_all<long long>(l.epoch.get());
  } catch (const h5::Error& e) {
    throw UsageError("cannot read run file '" + path + "': " + e.what());
  }
  return out;
}

}  // namespace rlmpi::io
