#pragma once
// A small, strict JSON reader for test data (golden JSONL files). Numbers are parsed exactly
// with std::from_chars (shortest round-trip decimals give back the exact double); integer
// literals are also kept as int64. Python's json extensions NaN, Infinity and -Infinity are
// accepted. Objects keep their key order.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace rlmpi::test::json {

class ParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when a value is used as the wrong type or a key/index is missing.
class TypeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  struct Number {
    double value = 0;
    bool is_int = false;     // the literal was an integer that fits in int64
    std::int64_t int_value = 0;
  };
  using Array = std::vector<Value>;
  using Object = std::vector<std::pair<std::string, Value>>;

  Value() = default;
  explicit Value(bool b) : v_(b) {}
  explicit Value(Number n) : v_(n) {}
  explicit Value(std::string s) : v_(std::move(s)) {}
  explicit Value(const char* s) : v_(std::string(s)) {}  // not the bool constructor
  explicit Value(Array a) : v_(std::move(a)) {}
  explicit Value(Object o) : v_(std::move(o)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::Null; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_number() const { return type() == Type::Number; }
  bool is_string() const { return type() == Type::String; }
  bool is_array() const { return type() == Type::Array; }
  bool is_object() const { return type() == Type::Object; }

  bool as_bool() const;
  double as_double() const;
  // Integer value; throws unless the number is integral and fits.
  std::int64_t as_int() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  // Arrays: element count; objects: member count; anything else 0.
  std::size_t size() const;
  const Value& operator[](std::size_t i) const;
  // Object member; throws TypeError naming the key when missing.
  const Value& operator[](std::string_view key) const;
  const Value* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // Conveniences for numeric data: [x, ...] and [[x, ...], ...]; bools as 0/1 in as_bools.
  std::vector<double> as_doubles() const;
  std::vector<std::vector<double>> as_double_rows() const;
  std::vector<bool> as_bools() const;

 private:
  std::variant<std::monostate, bool, Number, std::string, Array, Object> v_;
};

// Parses one JSON document (surrounding whitespace allowed). ParseError names line and column.
Value parse(std::string_view text);
// Parses a JSON Lines file: one document per non-blank line. Throws std::runtime_error when the
// file cannot be read and ParseError (with file and line) on bad content.
std::vector<Value> parse_jsonl_file(const std::string& path);

}  // namespace rlmpi::test::json
