#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "io/temp_dir.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/io/checkpoint.hpp"

using namespace rlmpi;
using rlmpi::test::TempDir;

namespace {
io::Checkpoint sample() {
  io::Checkpoint c;
  c.meta = {{"algo", std::string("ppo")}, {"epoch", std::int64_t{3}}, {"elapsed", 1.25}};
  c.arrays = {{"pi_params", {1.0, -2.5, 1e-300, 0.1}}, {"empty", {}}};
  std::string blob = "raw\0bytes", odd(13, '\x7f');
  blob.push_back('\0');
  c.rank_blobs = {blob, odd, ""};
  return c;
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
  CHECK(r.array("pi_params") == c.array("pi_params"));
  CHECK(r.array("empty").empty());
  CHECK(r.rank_blobs == c.rank_blobs);
  // Overwriting replaces the whole file.
  io::Checkpoint c2 = c;
  c2.arrays[0].second = {7.0};
  io::write_checkpoint(path, c2);
  CHECK(io::read_checkpoint(path).array("pi_params") == std::vector<double>{7.0});
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
