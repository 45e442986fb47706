#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "rlmpi/io/json.hpp"

using namespace rlmpi::io;

TEST_CASE("json_string escapes quotes, backslashes and control characters") {
  CHECK(json_string("plain") == "\"plain\"");
  CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_string("l1\nl2\t\r\b\f") == "\"l1\\nl2\\t\\r\\b\\f\"");
  CHECK(json_string(std::string_view("\x01\x1f", 2)) == "\"\\u0001\\u001f\"");
  CHECK(json_string("h\u00e9llo") == "\"h\u00e9llo\"");  // UTF-8 passes through
  CHECK(json_string("") == "\"\"");
}

TEST_CASE("json_number: shortest round trip, integers, NaN and inf as null") {
  CHECK(json_number(0.1) == "0.1");
  CHECK(json_number(3.0) == "3");
  CHECK(json_number(-2.5e-7) == "-2.5e-07");
  CHECK(json_number(1.0 / 3.0) == "0.3333333333333333");
  CHECK(std::stod(json_number(1.0 / 3.0)) == 1.0 / 3.0);
  CHECK(json_number(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(json_number(std::numeric_limits<double>::infinity()) == "null");
  CHECK(json_number(-std::numeric_limits<double>::infinity()) == "null");
  CHECK(json_number(std::int64_t{-9007199254740993}) == "-9007199254740993");
}

TEST_CASE("JsonObject and to_json keep member order") {
  JsonObject o;
  o.add("b", 1.5).add("a", "x").add_bool("t", true).add_null("n").add_raw("hid", "[64,64]");
  CHECK(o.str() == R"({"b":1.5,"a":"x","t":true,"n":null,"hid":[64,64]})");
  CHECK(JsonObject().str() == "{}");
  Attributes attrs{{"env", std::string("CartPole-v1")}, {"seed", std::int64_t{3}}, {"gamma", 0.99}};
  CHECK(to_json(attrs) == R"({"env":"CartPole-v1","seed":3,"gamma":0.99})");
}
