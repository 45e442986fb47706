#pragma once
// A finished or running run's configuration as options: `rlmpi config RUN` prints it as an INI
// file, and `--config RUN/run.h5` (or a run directory) starts a new run with it.
#include <string>
#include <utility>
#include <vector>

#include "rlmpi/io/attributes.hpp"

namespace rlmpi::cli {

// The run file `path` names: path itself when it is an HDF5 file, path/run.h5 when path is a
// directory holding one; "" otherwise (then path is an ordinary --config file).
std::string run_file_of(const std::string& path);

// An attribute as option text: integers without a decimal point, doubles shortest and exact.
std::string attribute_text(const io::AttrValue& v);

// The options stored in a run file (its config.* attributes) as (name, text), in stored order.
// Throws UsageError when the file is not a readable rlmpi run file.
std::vector<std::pair<std::string, std::string>> stored_run_options(const std::string& run_file);

// INI text that reproduces the run of `run_file`: every stored option except out (a new run
// goes to a new directory), resume (command-line only) and, when steps-per-rank set the batch,
// the derived steps-per-epoch.
// Read back with --config it gives the same configuration (the command line still wins).
std::string reproduce_ini(const std::string& run_file);

}  // namespace rlmpi::cli
