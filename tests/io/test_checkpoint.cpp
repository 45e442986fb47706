#include <doctest/doctest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>

#include "io/temp_dir.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/io/checkpoint.hpp"
#include "rlmpi/io/hdf5.hpp"

using namespace rlmpi;
using rlmpi::test::TempDir;
namespace h5 = rlmpi::io::h5;

namespace {
io::Checkpoint sample() {
  io::Checkpoint c;
  c.meta = {{"algo", std::string("ppo")}, {"epoch", std::int64_t{3}}, {"elapsed", 1.25},
            {"note", std::string("checksummed-text")}};
  c.arrays = {{"pi_params", {1.0, -2.5, 1e-300, 0.1}}, {"empty", {}}};
  std::string blob = "raw\0bytes", odd(13, '\x7f');
  blob.push_back('\0');
  c.rank_blobs = {blob, odd, ""};
  return c;
}

// read_checkpoint's UsageError message, or "(read)" if it succeeds.
std::string read_error(const std::string& path) {
  try {
    io::read_checkpoint(path);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(read)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The HDF5 C API on a file, to inspect or change it behind the writer's back.
void with_file(const std::string& path, bool write, const std::function<void(hid_t)>& f) {
  h5::ErrorSilencer quiet;
  h5::File file(h5::check(H5Fopen(path.c_str(), write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT), "open " + path));
  f(file.get());
}

bool has_fletcher32(const std::string& path, const std::string& dataset) {
  bool found = false;
  with_file(path, false, [&](hid_t f) {
    h5::Dataset d(H5Dopen2(f, dataset.c_str(), H5P_DEFAULT));
    h5::PropList dcpl(H5Dget_create_plist(d.get()));
    for (int i = 0; i < H5Pget_nfilters(dcpl.get()); ++i) {
      unsigned flags = 0, config = 0;
      std::size_t n = 0;
      if (H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &n, nullptr, 0, nullptr, &config) ==
          H5Z_FILTER_FLETCHER32)
        found = true;
    }
  });
  return found;
}

// File offset of a 1-D dataset's first data byte (its first chunk, or its contiguous storage).
haddr_t data_offset(const std::string& path, const std::string& dataset) {
  haddr_t off = HADDR_UNDEF;
  with_file(path, false, [&](hid_t f) {
    h5::Dataset d(H5Dopen2(f, dataset.c_str(), H5P_DEFAULT));
    h5::PropList dcpl(H5Dget_create_plist(d.get()));
    if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) {
      off = H5Dget_offset(d.get());
      return;
    }
    const hsize_t coord[1] = {0};
    unsigned mask = 0;
    hsize_t size = 0;
    REQUIRE(H5Dget_chunk_info_by_coord(d.get(), coord, &mask, &off, &size) >= 0);
  });
  REQUIRE(off != HADDR_UNDEF);
  return off;
}

void xor_byte(const std::string& path, std::uint64_t offset, unsigned char mask) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  const auto b = static_cast<unsigned char>(f.get());
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(b ^ mask));
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Replaces a root attribute (as h5py or a stray tool would).
void set_root_attribute(const std::string& path, const std::string& name, const io::AttrValue& v) {
  with_file(path, true, [&](hid_t f) {
    if (H5Aexists(f, name.c_str()) > 0) REQUIRE(H5Adelete(f, name.c_str()) >= 0);
    h5::write_attribute(f, name, v);
  });
}
}  // namespace

TEST_CASE("checkpoint round trip keeps every bit and byte") {
  TempDir dir;
  const std::string path = dir.file("checkpoint.h5");
  const io::Checkpoint c = sample();
  io::write_checkpoint(path, c);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  const io::Checkpoint r = io::read_checkpoint(path);
  CHECK(std::get<std::string>(r.attribute("algo")) == "ppo");
  CHECK(std::get<std::int64_t>(r.attribute("epoch")) == 3);
  CHECK(std::get<double>(r.attribute("elapsed")) == 1.25);
  CHECK(r.meta.size() == c.meta.size());  // the format and checksum attributes are not metadata
  CHECK(r.array("pi_params") == c.array("pi_params"));
  CHECK(r.array("empty").empty());
  CHECK(r.rank_blobs == c.rank_blobs);
  // Overwriting replaces the whole file.
  io::Checkpoint c2 = c;
  c2.arrays[0].second = {7.0};
  io::write_checkpoint(path, c2);
  CHECK(io::read_checkpoint(path).array("pi_params") == std::vector<double>{7.0});
}

TEST_CASE("every checkpoint dataset carries a Fletcher32 checksum, the rest a crc32 attribute") {
  TempDir dir;
  const std::string path = dir.file("checkpoint.h5");
  io::write_checkpoint(path, sample());
  for (const char* d : {"/arrays/pi_params", "/arrays/empty", "/ranks/0", "/ranks/1", "/ranks/2"})
    CHECK_MESSAGE(has_fletcher32(path, d), std::string(d));
  with_file(path, false, [](hid_t f) {
    const io::AttrValue crc = h5::read_attribute(f, "checksum_crc32");
    REQUIRE(std::holds_alternative<std::int64_t>(crc));
    CHECK(std::get<std::int64_t>(crc) >= 0);
    CHECK(std::get<std::int64_t>(crc) <= 0xffffffffLL);
  });
}

TEST_CASE("a flipped data byte is caught by HDF5's Fletcher32 filter and names the dataset") {
  TempDir dir;
  const std::string good = dir.file("good.h5");
  io::write_checkpoint(good, sample());
  // The lowest mantissa byte of pi_params[1]: the value stays finite, only a checksum can tell.
  std::filesystem::copy_file(good, dir.file("params.h5"));
  xor_byte(dir.file("params.h5"), data_offset(good, "/arrays/pi_params") + 8, 0x01);
  const std::string e1 = read_error(dir.file("params.h5"));
  CHECK_MESSAGE(contains(e1, "is corrupt or unreadable"), e1);
  CHECK_MESSAGE(contains(e1, "'/arrays/pi_params'"), e1);
  CHECK_MESSAGE(contains(e1, "Fletcher32"), e1);
  // A rank's private state.
  std::filesystem::copy_file(good, dir.file("rank.h5"));
  xor_byte(dir.file("rank.h5"), data_offset(good, "/ranks/1") + 3, 0x10);
  const std::string e2 = read_error(dir.file("rank.h5"));
  CHECK_MESSAGE(contains(e2, "'/ranks/1'"), e2);
  CHECK_MESSAGE(contains(e2, "Fletcher32"), e2);
}

TEST_CASE("changed attributes and datasets are caught by checksum_crc32") {
  TempDir dir;
  const std::string good = dir.file("good.h5");
  io::write_checkpoint(good, sample());
  auto copy = [&](const std::string& name) {
    std::filesystem::copy_file(good, dir.file(name));
    return dir.file(name);
  };
  // A plausible value, rewritten through the HDF5 API.
  const std::string epoch = copy("epoch.h5");
  set_root_attribute(epoch, "epoch", std::int64_t{4});
  // A flipped byte of a string attribute in the raw file.
  const std::string note = copy("note.h5");
  {
    const std::string bytes = file_bytes(note);
    const auto at = bytes.find("checksummed-text");
    REQUIRE(at != std::string::npos);
    xor_byte(note, at + 2, 0x01);
  }
  // A dataset removed.
  const std::string removed = copy("removed.h5");
  with_file(removed, true, [](hid_t f) { REQUIRE(H5Ldelete(f, "/arrays/empty", H5P_DEFAULT) >= 0); });
  for (const std::string& path : {epoch, note, removed}) {
    const std::string e = read_error(path);
    CHECK_MESSAGE(contains(e, "is corrupt or unreadable"), e);
    CHECK_MESSAGE(contains(e, "checksum_crc32"), e);
  }
  // The checksum attribute itself of the wrong type.
  const std::string typed = copy("typed.h5");
  set_root_attribute(typed, "checksum_crc32", std::string("0"));
  const std::string e = read_error(typed);
  CHECK_MESSAGE(contains(e, "attribute 'checksum_crc32' is a string, expected an integer"), e);
}

TEST_CASE("out-of-range or mistyped contents are refused, naming the attribute or array") {
  TempDir dir;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  struct Case {
    std::function<void(io::Checkpoint&)> change;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {[&](io::Checkpoint& c) { c.arrays[0].second[2] = nan; }, "array 'pi_params' holds a non-finite value (nan at index 2)"},
      {[&](io::Checkpoint& c) { c.arrays[0].second[0] = -inf; }, "array 'pi_params' holds a non-finite value (-inf"},
      {[](io::Checkpoint& c) { c.arrays.push_back({"pi_adam.v", {0.5, -1e-9}}); },
       "array 'pi_adam.v' holds a negative value (-1e-09 at index 1"},
      {[](io::Checkpoint& c) { c.arrays.push_back({"v_adam.t", {-1}}); }, "array 'v_adam.t' is -1"},
      {[](io::Checkpoint& c) { c.arrays.push_back({"v_adam.t", {2.5}}); }, "array 'v_adam.t' is 2.5"},
      {[](io::Checkpoint& c) { c.arrays.push_back({"v_adam.t", {1, 2}}); }, "array 'v_adam.t' has 2 values"},
      {[](io::Checkpoint& c) { c.arrays.push_back({"obs_norm", {-1, 0, 1}}); }, "array 'obs_norm' holds a negative value"},
      {[](io::Checkpoint& c) { c.arrays.push_back({"ret_norm", {3, -5, -1}}); },
       "array 'ret_norm' holds a negative value (-1 at index 2; variances are >= 0)"},
      {[](io::Checkpoint& c) { c.arrays.push_back({"obs_norm", {3, 0}}); }, "array 'obs_norm' has 2 values"},
      {[](io::Checkpoint& c) { c.arrays.push_back({"beta", {-0.5}}); }, "array 'beta' holds a negative value"},
      {[](io::Checkpoint& c) { c.meta.emplace_back("total_steps", std::int64_t{-5}); },
       "attribute 'total_steps' is -5 (allowed: >= 0)"},
      {[](io::Checkpoint& c) { c.meta[1].second = std::string("3"); }, "attribute 'epoch' is a string, expected an integer"},
      {[&](io::Checkpoint& c) { c.meta.emplace_back("elapsed_seconds", inf); }, "attribute 'elapsed_seconds' is inf"},
      {[](io::Checkpoint& c) { c.meta.emplace_back("elapsed_seconds", std::int64_t{2}); },
       "attribute 'elapsed_seconds' is an integer, expected a floating-point number"},
      {[](io::Checkpoint& c) { c.meta.emplace_back("id.hid", std::string("64,x")); }, "attribute 'id.hid' is '64,x'"},
      {[](io::Checkpoint& c) { c.meta.emplace_back("id.hid", std::string("0")); }, "attribute 'id.hid' is '0'"},
      {[](io::Checkpoint& c) { c.meta.emplace_back("id.env", std::string("Cart\nPole")); },
       "attribute 'id.env' is 'Cart\\x0aPole' (allowed: no control characters)"},
      {[](io::Checkpoint& c) { c.meta.emplace_back("id.algo", 1.0); },
       "attribute 'id.algo' is a floating-point number, expected a string"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    io::Checkpoint c = sample();
    cases[i].change(c);
    const std::string path = dir.file("case" + std::to_string(i) + ".h5");
    io::write_checkpoint(path, c);
    const std::string e = read_error(path);
    CHECK_MESSAGE(contains(e, "is corrupt or unreadable: " + cases[i].expect), e);
  }
  // In range: accepted.
  io::Checkpoint ok = sample();
  ok.meta.emplace_back("total_steps", std::int64_t{0});
  ok.meta.emplace_back("elapsed_seconds", 0.0);
  ok.meta.emplace_back("id.hid", std::string("64,1048576"));
  ok.arrays.push_back({"pi_adam.v", {0.0, -0.0, 1e300}});
  ok.arrays.push_back({"pi_adam.t", {9007199254740992.0}});
  ok.arrays.push_back({"obs_norm", {0, -3, 4, 0, 0}});
  io::write_checkpoint(dir.file("ok.h5"), ok);
  CHECK(read_error(dir.file("ok.h5")) == "(read)");
}

TEST_CASE("a checkpoint from before the checksums is read, its ranges are still checked") {
  TempDir dir;
  // The layout of earlier versions: extendable chunked datasets, no filter, no checksum_crc32.
  auto legacy = [&](const std::string& path, double first_param) {
    h5::ErrorSilencer quiet;
    h5::File f(h5::check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create"));
    h5::write_attribute(f.get(), "rlmpi_file_format", std::string(io::kCheckpointFormat));
    h5::write_attribute(f.get(), "epoch", std::int64_t{2});
    h5::Group arrays = h5::create_group(f.get(), "arrays");
    h5::Dataset d = h5::create_extendable<double>(arrays.get(), "pi_params", 4096);
    const std::vector<double> params{first_param, 2.0};
    h5::append<double>(d.get(), params);
    h5::Group ranks = h5::create_group(f.get(), "ranks");
    h5::Dataset r = h5::create_extendable<long long>(ranks.get(), "0", 4096);
    const std::vector<long long> words{0x0102030405060708LL};
    h5::append<long long>(r.get(), words);
    h5::write_attribute(r.get(), "bytes", std::int64_t{8});
  };
  legacy(dir.file("old.h5"), 1.0);
  const io::Checkpoint c = io::read_checkpoint(dir.file("old.h5"));
  CHECK(c.array("pi_params") == std::vector<double>{1.0, 2.0});
  CHECK(c.rank_blobs.size() == 1);
  legacy(dir.file("old-nan.h5"), std::numeric_limits<double>::quiet_NaN());
  CHECK(contains(read_error(dir.file("old-nan.h5")), "array 'pi_params' holds a non-finite value"));
}

TEST_CASE("missing, truncated, random and foreign files are clear errors") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(io::read_checkpoint(dir.file("nope.h5")), doctest::Contains("does not exist"), UsageError);
  const std::string good = dir.file("good.h5");
  io::write_checkpoint(good, sample());
  const auto size = std::filesystem::file_size(good);
  {
    std::filesystem::copy_file(good, dir.file("half.h5"));
    std::filesystem::resize_file(dir.file("half.h5"), size / 2);
  }
  CHECK_THROWS_WITH_AS(io::read_checkpoint(dir.file("half.h5")), doctest::Contains("corrupt"), UsageError);
  {
    std::ofstream out(dir.file("random.h5"), std::ios::binary);
    for (int i = 0; i < 5000; ++i) out.put(static_cast<char>((i * 7919) % 251));
  }
  CHECK_THROWS_WITH_AS(io::read_checkpoint(dir.file("random.h5")), doctest::Contains("corrupt"), UsageError);
  {
    std::ofstream out(dir.file("empty.h5"));
  }
  CHECK_THROWS_AS(io::read_checkpoint(dir.file("empty.h5")), UsageError);
}
