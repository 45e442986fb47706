#pragma once
// The per-epoch columns (Spinning Up's logger names): one row per column with what the console,
// the run file's /epochs attributes and the README's table need. Adding a column is one row here
// plus the value in Trainer::run_epoch (algo/trainer.cpp). Columns not in the table are the
// environments' info terms ("info.<name>", see info_column_description).
#include <span>
#include <string>
#include <string_view>

namespace rlmpi::algo {

struct ColumnInfo {
  const char* name;         // in the run file (/epochs/<name>) and EpochResult::stats
  const char* short_name;   // console header
  const char* description;  // /epochs/<name> attribute "description"
  const char* units;        // attribute "units" ("" for none)
  bool printed;             // shown in the per-epoch table
  bool integer;             // a count: printed without decimals, int64 in the run file
};

std::span<const ColumnInfo> column_table();
// The row of `name`, or nullptr (info.* columns and unknown names).
const ColumnInfo* find_column(std::string_view name);
// The description of an environment's info column "info.<term>".
std::string info_column_description(std::string_view name);

}  // namespace rlmpi::algo
