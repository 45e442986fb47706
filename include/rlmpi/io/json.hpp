#pragma once
// A minimal JSON writer (enough for the run file's `config_json` attribute).
//   json_string("a\"b")  -> "\"a\\\"b\""   (UTF-8 passes through; control characters are \u-escaped)
//   json_number(0.1)     -> "0.1"          (shortest text that reads back as the same double)
//   json_number(NaN/inf) -> "null"         (JSON has no NaN or infinity)
#include <cstdint>
#include <string>
#include <string_view>

#include "rlmpi/io/attributes.hpp"

namespace rlmpi::io {

std::string json_string(std::string_view s);
std::string json_number(double v);
std::string json_number(std::int64_t v);
std::string json_value(const AttrValue& v);

// Builds one JSON object, members in insertion order: {"a":1,"b":"x"}.
class JsonObject {
 public:
  JsonObject& add(std::string_view key, const AttrValue& value);
  JsonObject& add(std::string_view key, const char* value) { return add(key, AttrValue(std::string(value))); }
  JsonObject& add_bool(std::string_view key, bool value);
  JsonObject& add_null(std::string_view key);
  // `json` must already be valid JSON (a nested object or array); it is inserted verbatim.
  JsonObject& add_raw(std::string_view key, std::string_view json);
  std::string str() const { return text_ + "}"; }

 private:
  void key(std::string_view k);
  std::string text_ = "{";
};

// {"name": value, ...} of every attribute, in order.
std::string to_json(const Attributes& attrs);

}  // namespace rlmpi::io
