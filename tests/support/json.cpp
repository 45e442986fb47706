#include "support/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

namespace rlmpi::test::json {

namespace {

const char* type_name(Value::Type t) {
  switch (t) {
    case Value::Type::Null: return "null";
    case Value::Type::Bool: return "bool";
    case Value::Type::Number: return "number";
    case Value::Type::String: return "string";
    case Value::Type::Array: return "array";
    case Value::Type::Object: return "object";
  }
  return "?";
}

[[noreturn]] void wrong_type(Value::Type want, Value::Type got) {
  throw TypeError(std::string("json: expected ") + type_name(want) + ", got " + type_name(got));
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Value document() {
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 512;

  [[noreturn]] void fail(const std::string& what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw ParseError("json: line " + std::to_string(line) + ", column " + std::to_string(col) +
                     ": " + what);
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }

  void skip_ws() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                         s_[pos_] == '\r'))
      ++pos_;
  }

  bool consume_word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    switch (peek()) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return Value(string());
      case 't':
        if (consume_word("true")) return Value(true);
        break;
      case 'f':
        if (consume_word("false")) return Value(false);
        break;
      case 'n':
        if (consume_word("null")) return Value();
        break;
      case 'N':
        if (consume_word("NaN")) return Value(Value::Number{std::nan(""), false, 0});
        break;
      case 'I':
        if (consume_word("Infinity"))
          return Value(Value::Number{std::numeric_limits<double>::infinity(), false, 0});
        break;
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return number();
    }
    fail(at_end() ? "unexpected end of input" : "unexpected character");
  }

  Value object(int depth) {
    expect('{');
    Value::Object members;
    skip_ws();
    if (peek() == '}') {
      ++pos_;
      return Value(std::move(members));
    }
    for (;;) {
      skip_ws();
      if (peek() != '"') fail("expected a string key");
      std::string key = string();
      skip_ws();
      expect(':');
      skip_ws();
      members.emplace_back(std::move(key), value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return Value(std::move(members));
    }
  }

  Value array(int depth) {
    expect('[');
    Value::Array items;
    skip_ws();
    if (peek() == ']') {
      ++pos_;
      return Value(std::move(items));
    }
    for (;;) {
      skip_ws();
      items.push_back(value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return Value(std::move(items));
    }
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    std::uint32_t v = 0;
    auto r = std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, v, 16);
    if (r.ec != std::errc() || r.ptr != s_.data() + pos_ + 4) fail("bad \\u escape");
    pos_ += 4;
    return v;
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (at_end()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) fail("unterminated escape");
      switch (const char e = s_[pos_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // high surrogate: needs a low one
            if (!consume_word("\\u")) fail("lone surrogate in \\u escape");
            const std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("bad surrogate pair in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("lone surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: fail(std::string("bad escape '\\") + e + "'");
      }
    }
  }

  Value number() {
    const std::size_t start = pos_;
    if (peek() == '-') {
      ++pos_;
      if (consume_word("Infinity"))
        return Value(Value::Number{-std::numeric_limits<double>::infinity(), false, 0});
    }
    auto digits = [&] {
      const std::size_t d0 = pos_;
      while (!at_end() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - d0;
    };
    // JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    if (peek() == '0') {
      ++pos_;
    } else if (digits() == 0) {
      fail("bad number");
    }
    bool integral = true;
    if (peek() == '.') {
      ++pos_;
      integral = false;
      if (digits() == 0) fail("bad number: digits expected after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      integral = false;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (digits() == 0) fail("bad number: digits expected in the exponent");
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    Value::Number n;
    // from_chars does not accept a leading '+', which JSON never has; '-' is fine.
    auto r = std::from_chars(first, last, n.value);
    if (r.ptr != last) fail("bad number");
    if (r.ec == std::errc::result_out_of_range) {
      // Overflow: +-inf like strtod; underflow: the (signed) zero/denormal strtod gives.
      n.value = std::strtod(std::string(first, last).c_str(), nullptr);
    } else if (r.ec != std::errc()) {
      fail("bad number");
    }
    if (integral) {
      std::int64_t iv = 0;
      auto ri = std::from_chars(first, last, iv);
      if (ri.ec == std::errc() && ri.ptr == last) {
        n.is_int = true;
        n.int_value = iv;
      }
    }
    return Value(n);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

bool Value::as_bool() const {
  if (!is_bool()) wrong_type(Type::Bool, type());
  return std::get<bool>(v_);
}

double Value::as_double() const {
  if (!is_number()) wrong_type(Type::Number, type());
  return std::get<Number>(v_).value;
}

std::int64_t Value::as_int() const {
  if (!is_number()) wrong_type(Type::Number, type());
  const Number& n = std::get<Number>(v_);
  if (n.is_int) return n.int_value;
  // 3.0 or 1e3 written as a float: accept when exactly integral and in range.
  if (std::trunc(n.value) == n.value && std::fabs(n.value) < 9.2e18)
    return static_cast<std::int64_t>(n.value);
  throw TypeError("json: number is not an integer");
}

const std::string& Value::as_string() const {
  if (!is_string()) wrong_type(Type::String, type());
  return std::get<std::string>(v_);
}

const Value::Array& Value::as_array() const {
  if (!is_array()) wrong_type(Type::Array, type());
  return std::get<Array>(v_);
}

const Value::Object& Value::as_object() const {
  if (!is_object()) wrong_type(Type::Object, type());
  return std::get<Object>(v_);
}

std::size_t Value::size() const {
  if (is_array()) return std::get<Array>(v_).size();
  if (is_object()) return std::get<Object>(v_).size();
  return 0;
}

const Value& Value::operator[](std::size_t i) const {
  const Array& a = as_array();
  if (i >= a.size())
    throw TypeError("json: index " + std::to_string(i) + " out of range (size " +
                    std::to_string(a.size()) + ")");
  return a[i];
}

const Value* Value::find(std::string_view key) const {
  for (const auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}

const Value& Value::operator[](std::string_view key) const {
  if (const Value* v = find(key)) return *v;
  throw TypeError("json: missing key '" + std::string(key) + "'");
}

std::vector<double> Value::as_doubles() const {
  const Array& a = as_array();
  std::vector<double> out;
  out.reserve(a.size());
  for (const Value& v : a) out.push_back(v.as_double());
  return out;
}

std::vector<std::vector<double>> Value::as_double_rows() const {
  const Array& a = as_array();
  std::vector<std::vector<double>> out;
  out.reserve(a.size());
  for (const Value& v : a) out.push_back(v.as_doubles());
  return out;
}

std::vector<bool> Value::as_bools() const {
  const Array& a = as_array();
  std::vector<bool> out;
  out.reserve(a.size());
  for (const Value& v : a) out.push_back(v.as_bool());
  return out;
}

Value parse(std::string_view text) { return Parser(text).document(); }

std::vector<Value> parse_jsonl_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open JSON Lines file '" + path + "'");
  std::vector<Value> out;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(parse(line));
    } catch (const ParseError& e) {
      throw ParseError(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
  if (in.bad()) throw std::runtime_error("error reading '" + path + "'");
  return out;
}

}  // namespace rlmpi::test::json
