#pragma once
// The one byte format of rlmpi's blobs: the per-rank state inside a checkpoint and the messages
// ranks exchange (checkpoint parts, the policy that `eval` shares). Host byte order: a blob is
// read on the kind of machine that wrote it. A value is its object bytes (trivially copyable
// numbers only); a vector is a uint64 count then the elements; a string a uint64 length then
// the characters.
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace rlmpi {

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <class T>
  void put_vector(std::span<const T> v) {
    static_assert(std::is_trivially_copyable_v<T>);
    put(static_cast<std::uint64_t>(v.size()));
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put_vector(std::span<const T>(v));
  }
  void put_string(std::string_view s) {
    put(static_cast<std::uint64_t>(s.size()));
    out_.append(s);
  }
  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what a ByteWriter wrote; every read is bounds-checked and a short or malformed blob
// throws std::invalid_argument("<what> is truncated").
class ByteReader {
 public:
  ByteReader(std::string_view bytes, std::string what) : s_(bytes), what_(std::move(what)) {}

  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T));
    T v;
    std::memcpy(&v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto n = get<std::uint64_t>();
    if (n > (s_.size() - pos_) / sizeof(T)) throw std::invalid_argument(what_ + " is truncated");
    std::vector<T> v(static_cast<std::size_t>(n));
    if (n != 0) std::memcpy(v.data(), s_.data() + pos_, v.size() * sizeof(T));
    pos_ += v.size() * sizeof(T);
    return v;
  }
  std::string get_string() {
    const auto n = get<std::uint64_t>();
    need(n);
    std::string v(s_.substr(pos_, static_cast<std::size_t>(n)));
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  void need(std::uint64_t n) const {
    if (n > s_.size() - pos_) throw std::invalid_argument(what_ + " is truncated");
  }
  std::string_view s_;
  std::string what_;
  std::size_t pos_ = 0;
};

}  // namespace rlmpi
