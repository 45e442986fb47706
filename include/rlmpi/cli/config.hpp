#pragma once
// Command-line and INI parsing of rlmpi::Config (--config FILE; the command line wins), with
// validation: bad input throws UsageError with a one-line message naming the option, the value
// and what is allowed.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/core/config.hpp"

namespace rlmpi::cli {

using rlmpi::Command;
using rlmpi::Config;

// The text of a --config file (throws rlmpi::UsageError: missing, unreadable, not a regular
// file (a FIFO, device or directory), larger than 1 MiB).
std::string read_config_file(const std::string& path);

// How parse_command_line gets a --config file's text: under MPI, rank 0 reads it and broadcasts
// it, so every rank parses the same bytes (see main.cpp).
using ConfigReader = std::function<std::string(const std::string& path)>;

// Parses argv (argv[0] is the program). Throws rlmpi::UsageError on bad input. In a --config
// file switches take a value (true/false/1/0/yes/no/on/off) and force, resume, help, version
// and config are refused (command-line only); the command line wins over the file.
Config parse_command_line(int argc, const char* const* argv, const ConfigReader& read_config = read_config_file);

// An option whose value a resumed run changes (--allow-change), as text.
struct OptionChange {
  std::string option, old_value, new_value;
};

// The configuration of a resumed run: options not given (cfg.given) take the run's stored
// values (`stored`: option name -> text, the run file's config.* attributes); given ones that
// differ are refused, unless they only change how the run is driven (epochs, checkpoints,
// output) or --allow-change is set and they are not part of the checkpoint's identity; those
// are returned in `changes`. Throws rlmpi::UsageError.
Config merge_with_run(const Config& cfg, const std::vector<std::pair<std::string, std::string>>& stored,
                      std::vector<OptionChange>& changes);

// The --help text.
std::string help_text();

}  // namespace rlmpi::cli
