// The JSON reader used for golden data (tests/support/json.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "support/json.hpp"
#include "support/test_paths.hpp"

namespace json = rlmpi::test::json;

TEST_CASE("json: scalars, nesting, strings and exact numbers") {
  const auto v = json::parse(
      R"( {"a": [1, -2.5, [true, false, null]], "s": "x\"y\\\u00e9\ud83d\ude00\n",
           "o": {"k": 0.1, "e": -1.5e-3, "big": 12345678901234567890}, "neg0": -0.0} )");
  REQUIRE(v.is_object());
  CHECK(v.size() == 4);
  CHECK(v["a"].size() == 3);
  CHECK(v["a"][0].as_int() == 1);
  CHECK(v["a"][1].as_double() == -2.5);
  CHECK(v["a"][2][0].as_bool());
  CHECK_FALSE(v["a"][2][1].as_bool());
  CHECK(v["a"][2][2].is_null());
  CHECK(v["s"].as_string() == "x\"y\\\xc3\xa9\xf0\x9f\x98\x80\n");
  CHECK(v["o"]["k"].as_double() == 0.1);
  CHECK(v["o"]["e"].as_double() == -1.5e-3);
  CHECK(v["o"]["big"].as_double() == 12345678901234567890.0);  // beyond int64: double only
  CHECK_THROWS(v["o"]["big"].as_int());
  CHECK(std::signbit(v["neg0"].as_double()));
  CHECK(v.as_object()[0].first == "a");  // key order kept
  CHECK(v.find("missing") == nullptr);
  CHECK_THROWS_AS(v["missing"], json::TypeError);
  CHECK_THROWS_AS(v["a"].as_string(), json::TypeError);
  CHECK_THROWS_AS(v["a"][3], json::TypeError);
  CHECK_THROWS_AS(v["o"]["k"].as_int(), json::TypeError);
}

TEST_CASE("json: shortest round-trip decimals give the exact double") {
  for (double x : {0.1, 1.0 / 3.0, -0.008932230535969532, 5e-324, 1.7976931348623157e308,
                   0.20943951023931953, 2.2250738585072014e-308}) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    CHECK(json::parse(buf).as_double() == x);
  }
  CHECK(json::parse("[1e400]")[0].as_double() == HUGE_VAL);
  CHECK(std::isnan(json::parse("NaN").as_double()));
  CHECK(json::parse("-Infinity").as_double() == -HUGE_VAL);
  CHECK(json::parse("[1, 2]").as_doubles() == std::vector<double>{1, 2});
  CHECK(json::parse("[[1], [2, 3]]").as_double_rows().size() == 2);
}

TEST_CASE("json: malformed input is a ParseError with its position") {
  for (const char* bad : {"", "[1,]", "{\"a\" 1}", "01", "1.", "-", "[1 2]", "\"abc",
                          "tru", "{\"a\":1,}", "1 2", "\"\\x\"", "\"\\ud800\"", "+1", ".5"})
    CHECK_THROWS_AS(json::parse(bad), json::ParseError);
  CHECK_THROWS_WITH(json::parse("[1,\n 2,]"), doctest::Contains("line 2"));
}

TEST_CASE("json: JSON Lines files, missing file is an error") {
  const std::string path = rlmpi::test::binary_dir() + "/test_json_lines.jsonl";
  {
    std::ofstream f(path);
    f << "{\"case_id\": 0}\n\n{\"case_id\": 1}\n";
  }
  const auto lines = json::parse_jsonl_file(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["case_id"].as_int() == 1);
  std::remove(path.c_str());
  CHECK_THROWS_WITH(json::parse_jsonl_file(path), doctest::Contains("cannot open"));
}
