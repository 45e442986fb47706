#pragma once
// Presets: tuned option files shipped with rlmpi, configs/<algo>/<env>.ini, loaded by name
// (--preset ppo/Hopper-v4). And the [algo] sections every option file may have.
#include <string>
#include <vector>

namespace rlmpi::cli {

// Where presets are looked up, in order: $RLMPI_CONFIG_DIR, <bin>/../share/rlmpi/configs next
// to the program, the configured install prefix, the source tree.
std::vector<std::string> preset_search_dirs();

// The file of preset `name` ("<algo>/<env>"). Throws UsageError naming the preset and the
// ones available when there is no such preset.
std::string find_preset(const std::string& name);

// Every preset name found, sorted.
std::vector<std::string> list_presets();

// INI text with algorithm sections resolved for `algo`: lines before any section apply to every
// algorithm; a [vpg], [trpo] or [ppo] section applies only when training that algorithm and its
// values replace the file's general ones; other algorithms' sections are dropped. Any other
// section name throws UsageError naming the file. Comments and blank lines are dropped; other
// lines are kept for the option parser to check.
std::string resolve_sections(const std::string& text, const std::string& algo, const std::string& path);

// Resolved INI text without the lines that set any of `keys`.
std::string drop_keys(const std::string& resolved_text, const std::vector<std::string>& keys);

// The value of `key` set before any section of an INI text ("" when absent): the algorithm an
// option file asks for, needed before its sections can be resolved.
std::string general_value(const std::string& text, const std::string& key);

}  // namespace rlmpi::cli
