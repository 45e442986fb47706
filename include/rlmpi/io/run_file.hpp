#pragma once
// The run file: one self-describing HDF5 file per training run, written by rank 0 only.
//
// Schema (all datasets 1-D, chunked, extendable; creation order is kept for h5py):
//   /                  attributes given to create() (+ `config_json`, + `rlmpi_file_format`)
//   /epochs/<Name>     float64 [epochs]   one per statistic, all the same length; optional `units`
//   /episodes/return   float64 [episodes] undiscounted return of each finished episode
//   /episodes/length   int64   [episodes] steps of the episode          (units: "steps")
//   /episodes/rank     int32   [episodes] MPI rank that ran it
//   /episodes/epoch    int64   [episodes] 0-based row in /epochs of the epoch it finished in
//   /<group>/<name>    float64 [n]        set_vector(): the latest value of a state vector,
//                                         e.g. /normalizer/obs_mean (replaced at each call)
//   /eval/<name>       [evaluations]      append_eval(): evaluations during training
//                                         (--eval-every): epoch, env_steps, episodes (int64),
//                                         return_mean/std/min/max, length_mean (float64)
//   /changes/epoch     int64   [changes]  append_change(): options changed when the run was
//   /changes/{option,old,new}  UTF-8 [changes]   resumed (--allow-change); epoch = the first
//                                         epoch trained with the new value
//
// Durability and live reading: the writer keeps the whole file in memory (HDF5 "core" driver)
// and commit() replaces the file on disk atomically: the complete image goes to "<path>.tmp",
// is fsync'ed, renamed over <path>, and the directory is fsync'ed. The file at <path> is
// therefore always a complete, closed HDF5 file holding exactly the last commit, whatever
// moment the writer is killed at, and it is never locked: a plain h5py.File(path, "r") works on
// a running, finished or killed run. A reader sees the snapshot it opened; reopen to see new
// epochs. Cost: each commit writes the whole file (a few MB for long runs).
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rlmpi/io/attributes.hpp"

namespace rlmpi::io {

inline constexpr const char* kRunFileFormat = "rlmpi-run-1";  // value of /@rlmpi_file_format

class RunFile {
 public:
  // Creates <path> (committing the attributes at once). Throws rlmpi::UsageError if <path>
  // exists or cannot be written. `config_json` is written as given if `attrs` holds a string
  // of that name, otherwise it is the JSON object of all `attrs` (see json.hpp).
  static RunFile create(const std::string& path, const Attributes& attrs);
  // Continues an existing run file after `epochs` checkpointed epochs: /epochs is cut to
  // `epochs` rows and /episodes to the rows with epoch < `epochs`, and that is committed at
  // once, so a resumed run re-appends exactly what an uninterrupted run would have written.
  // Throws rlmpi::UsageError if the file is not a readable run file or has fewer epochs.
  static RunFile open_for_resume(const std::string& path, long long epochs);

  RunFile(RunFile&&) noexcept;
  RunFile& operator=(RunFile&&) noexcept;
  ~RunFile();  // does not commit: uncommitted rows are dropped, the file keeps the last commit

  // Attaches a text attribute (e.g. "units", "description") to /epochs/<column>, now or when the
  // column is created.
  void set_column_attribute(const std::string& column, const std::string& attr, const std::string& text);
  void set_units(const std::string& column, const std::string& unit) { set_column_attribute(column, "units", unit); }
  // Creates the /epochs datasets, empty, before the first row, so that a reader finds every
  // column even in a run stopped before its first epoch. The names fix the column set as the
  // first append_epoch() would; no-op once columns exist. `integer[i]` (default: none) makes
  // column i int64 in the file (counts: epoch, steps, iterations); the rest are float64. A
  // value written to an integer column must be a finite whole number (std::invalid_argument).
  void declare_columns(const std::vector<std::string>& names, const std::vector<bool>& integer = {});
  // One row: one value per statistic. The first row ever fixes the column set (and the
  // dataset order); later rows must name the same columns, in any order, else
  // std::invalid_argument. A name must be non-empty, not ".", and contain no '/'.
  void append_epoch(std::span<const std::pair<std::string, double>> row);
  // Episodes that finished in epoch `epoch`: the 0-based /epochs row of that epoch, i.e.
  // epochs() if called before that epoch's append_epoch, epochs() - 1 if after. The three
  // spans must have the same length. Violations throw std::invalid_argument.
  void append_episodes(std::span<const double> ret, std::span<const long long> len, std::span<const int> rank,
                       long long epoch);
  // Creates or replaces /<group>/<name> with `values` (not /epochs or /episodes): state that
  // has one current value, such as the observation normaliser's statistics.
  void set_vector(const std::string& group, const std::string& name, std::span<const double> values);
  // A root attribute, if present.
  std::optional<AttrValue> attribute(const std::string& name) const;
  // Creates or replaces a root attribute (e.g. config.epochs when a resume extends the run).
  void set_attribute(const std::string& name, const AttrValue& value);
  // Appends a row to /eval. A resume (open_for_resume) drops the rows of epochs not checkpointed.
  struct EvalRow {
    long long epoch = 0;      // 0-based /epochs row after which the policy was evaluated
    long long env_steps = 0;  // TotalEnvInteracts then
    long long episodes = 0;
    double return_mean = 0, return_std = 0, return_min = 0, return_max = 0, length_mean = 0;
  };
  void append_eval(const EvalRow& row);
  // The largest /eval return_mean so far; -infinity when there is none.
  double best_eval_return() const;
  // Appends a row to /changes.
  void append_change(long long epoch, const std::string& option, const std::string& old_value,
                     const std::string& new_value);
  // Makes everything appended so far durable and visible to readers (atomic replace + fsync).
  void commit();
  // The image commit() writes, for write_file_atomically(path(), ...) (file_writer.hpp) on
  // another thread: what was appended so far is then durable once that write returns.
  std::vector<char> snapshot();

  long long epochs() const;    // rows appended so far (committed or not)
  long long episodes() const;  // episode rows appended so far
  const std::vector<std::string>& columns() const;  // /epochs names in dataset order
  const std::string& path() const;

 private:
  struct Impl;
  explicit RunFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Everything in a run file, as read back (tests, eval, tools).
struct RunData {
  struct Column {
    std::string name;
    std::string unit;  // empty when the dataset has no "units" attribute
    std::vector<double> values;
    bool operator==(const Column&) const = default;
  };
  Attributes attributes;       // root attributes in creation order (incl. config_json)
  std::vector<Column> epochs;  // in dataset order
  std::vector<double> episode_return;
  std::vector<long long> episode_length;
  std::vector<int> episode_rank;
  std::vector<long long> episode_epoch;

  const Column& column(std::string_view name) const;  // throws std::out_of_range
  const AttrValue& attribute(std::string_view name) const;  // throws std::out_of_range
  bool operator==(const RunData&) const = default;  // exact (NaN != NaN)
};

// Reads a run file (from disk, without locking it). Throws rlmpi::UsageError naming the path
// and the reason if it is missing, not HDF5, truncated, or not an rlmpi run file.
RunData read_run_file(const std::string& path);

}  // namespace rlmpi::io
