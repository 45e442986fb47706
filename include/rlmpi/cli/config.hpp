#pragma once
// Command-line and INI parsing of rlmpi::Config (--config FILE; the command line wins), with
// validation: bad input throws UsageError with a one-line message naming the option, the value
// and what is allowed.
#include <string>

#include "rlmpi/core/config.hpp"

namespace rlmpi::cli {

using rlmpi::Command;
using rlmpi::Config;

// Parses argv (argv[0] is the program). Throws rlmpi::UsageError on bad input.
Config parse_command_line(int argc, const char* const* argv);

// The --help text.
std::string help_text();

}  // namespace rlmpi::cli
