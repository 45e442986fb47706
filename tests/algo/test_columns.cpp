// The column table (src/algo/columns.cpp) against the README's per-epoch statistics table: the
// documentation names every column the table defines, and the table is well formed.
#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "rlmpi/algo/columns.hpp"
#include "support/test_paths.hpp"

using rlmpi::algo::column_table;

TEST_CASE("columns: every column has a unique name, a short name and a description, and the README names it") {
  std::ifstream in(rlmpi::test::source_dir() + "/README.md");
  REQUIRE(in.good());
  std::stringstream all;
  all << in.rdbuf();
  const std::string readme = all.str();
  const auto start = readme.find("### Per-epoch statistics");
  REQUIRE(start != std::string::npos);
  const std::string section = readme.substr(start, readme.find("\n## ", start) - start);
  std::set<std::string> names;
  for (const auto& c : column_table()) {
    const std::string name = c.name;
    CAPTURE(name);
    CHECK(names.insert(c.name).second);
    CHECK(*c.short_name != '\0');
    CHECK(std::string(c.description).size() > 10);
    // As a whole word in the section (e.g. "Time" must not be found only inside "TimeRollout").
    bool found = false;
    for (auto pos = section.find(c.name); pos != std::string::npos; pos = section.find(c.name, pos + 1)) {
      const auto end = pos + std::string(c.name).size();
      const auto word = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; };
      if ((pos == 0 || !word(section[pos - 1])) && (end >= section.size() || !word(section[end]))) found = true;
    }
    CHECK_MESSAGE(found, "README's 'Per-epoch statistics' does not name the column");
  }
}
