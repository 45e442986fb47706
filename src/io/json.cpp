#include "rlmpi/io/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace rlmpi::io {

std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {  // other control characters must be escaped
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;  // includes UTF-8 multibyte sequences, which JSON allows verbatim
        }
    }
  }
  out += '"';
  return out;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  // Shortest representation that round-trips; its forms (1e-05, 0.1, 3) are all valid JSON.
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

std::string json_number(std::int64_t v) { return std::to_string(v); }

std::string json_value(const AttrValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return json_string(*s);
  if (const auto* d = std::get_if<double>(&v)) return json_number(*d);
  return json_number(std::get<std::int64_t>(v));
}

void JsonObject::key(std::string_view k) {
  if (text_.size() > 1) text_ += ',';
  text_ += json_string(k);
  text_ += ':';
}

JsonObject& JsonObject::add(std::string_view k, const AttrValue& value) {
  key(k);
  text_ += json_value(value);
  return *this;
}

JsonObject& JsonObject::add_bool(std::string_view k, bool value) {
  key(k);
  text_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::add_null(std::string_view k) {
  key(k);
  text_ += "null";
  return *this;
}

JsonObject& JsonObject::add_raw(std::string_view k, std::string_view json) {
  key(k);
  text_ += json;
  return *this;
}

std::string to_json(const Attributes& attrs) {
  JsonObject o;
  for (const auto& [name, value] : attrs) o.add(name, value);
  return o.str();
}

}  // namespace rlmpi::io
