#pragma once
// Command-line and INI parsing of cli::Options (--config FILE; the command line wins), with
// validation: bad input throws UsageError with a one-line message naming the option, the value
// and what is allowed.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/core/config.hpp"

namespace rlmpi::cli {

using rlmpi::Config;

enum class Command { Train, Envs, Eval, Config, Help, Version };

// One invocation of the program: the training configuration (the base, all the trainer sees)
// plus how this run is driven.
struct Options : Config {
  Command command = Command::Train;

  // run directory and resume
  std::string out;  // run directory (empty: runs/<algo>-<env>-s<seed>-<timestamp>)
  std::string resume;         // "" (fresh run), "auto" (resume if --out holds a checkpoint), or a checkpoint / run dir
  bool force = false;         // overwrite an existing run in --out
  bool allow_change = false;  // on resume: accept options that change the learning problem (recorded in /changes)
  int checkpoint_every = 1;   // epochs between checkpoints (and always after the last epoch)
  int keep_checkpoints = 0;   // also keep the newest N checkpoints as checkpoint-epoch<E>.h5 (0: none)
  bool quiet = false;
  double stall_timeout = 0;   // seconds before a rank that stopped answering aborts the job (0: off)

  // evaluation during training
  int eval_every = 0;                  // epochs between deterministic evaluations (0: off)
  std::optional<double> target_return;  // stop once an evaluation's mean return reaches this
  std::optional<double> time_limit;     // seconds of wall time: stop (checkpointed, exit 3) before it

  // where the options came from
  std::vector<std::string> given;  // options set on the command line or in --config
  std::string command_line;        // argv joined (recorded in the run file)
  std::string config_file;

  // eval and config: the run (rlmpi eval RUN, rlmpi config RUN)
  std::string run_path;
  int eval_episodes = 10;  // rlmpi eval --episodes, and --eval-episodes during training
  std::string eval_file;   // rlmpi eval --save FILE (default: eval-<UTC time>.h5 beside the checkpoint)
  bool deterministic = false;
};

// Every option as (name, value) text in a stable order, for logs and the run file's config.*
// attributes (command-line-only options left out).
std::vector<std::pair<std::string, std::string>> option_values(const Options& o);

// The text of a --config file (throws rlmpi::UsageError: missing, unreadable, not a regular
// file (a FIFO, device or directory), larger than 1 MiB). A run file (run.h5, or a run directory
// holding one) gives the INI text of its stored configuration: a new run reproduces it.
std::string read_config_file(const std::string& path);

// How parse_command_line gets a --config file's text: under MPI, rank 0 reads it and broadcasts
// it, so every rank parses the same bytes (see main.cpp).
using ConfigReader = std::function<std::string(const std::string& path)>;

// Parses argv (argv[0] is the program). Throws rlmpi::UsageError on bad input. In a --config
// file switches take a value (true/false/1/0/yes/no/on/off) and force, resume, help, version
// and config are refused (command-line only); the command line wins over the file.
Options parse_command_line(int argc, const char* const* argv, const ConfigReader& read_config = read_config_file);

// An option whose value a resumed run changes (--allow-change), as text.
struct OptionChange {
  std::string option, old_value, new_value;
};

// The configuration of a resumed run: options not given (cfg.given) take the run's stored
// values (`stored`: option name -> text, the run file's config.* attributes); given ones that
// differ are refused, unless they only change how the run is driven (epochs, checkpoints,
// output) or --allow-change is set and they are not part of the checkpoint's identity; those
// are returned in `changes`. Throws rlmpi::UsageError.
Options merge_with_run(const Options& cfg, const std::vector<std::pair<std::string, std::string>>& stored,
                      std::vector<OptionChange>& changes);

// The --help text.
std::string help_text();

}  // namespace rlmpi::cli
