#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rlmpi/io/file_writer.hpp"
#include "temp_dir.hpp"

using namespace rlmpi::io;

namespace {
std::string slurp(const std::string& path) {
  const std::vector<char> b = rlmpi::test::read_bytes(path);
  return {b.begin(), b.end()};
}
}  // namespace

TEST_CASE("write_file_atomically replaces the file whole and leaves no temporary behind") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("f.bin");
  const std::string first(100000, 'a'), second = "short";
  write_file_atomically(path, first);
  CHECK(slurp(path) == first);
  write_file_atomically(path, second);
  CHECK(slurp(path) == second);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  // A directory that does not exist: the error names the file, nothing is left.
  const std::string bad = dir.file("no-such-dir/f.bin");
  try {
    write_file_atomically(bad, second);
    FAIL("expected an exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("cannot create '" + bad + ".tmp'") == 0);
  }
}

TEST_CASE("BackgroundWriter runs jobs in submission order, off the caller's thread") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("order.bin");
  std::vector<int> order;  // touched only by the writer's thread until wait() returns
  std::atomic<bool> other_thread{true};
  const auto caller = std::this_thread::get_id();
  {
    BackgroundWriter w;
    for (int i = 0; i < 50; ++i)
      w.submit([&, i] {
        if (std::this_thread::get_id() == caller) other_thread = false;
        write_file_atomically(path, std::to_string(i));
        order.push_back(i);
      });
    w.wait();
    REQUIRE(order.size() == 50);
    for (int i = 0; i < 50; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
    CHECK(slurp(path) == "49");  // the last job's file is the one on disk
    CHECK(other_thread);
    // The destructor runs what is still queued.
    w.submit([&] { order.push_back(50); });
  }
  CHECK(order.size() == 51);
}

TEST_CASE("BackgroundWriter: a failed job drops the jobs after it and wait() reports it once") {
  BackgroundWriter w;
  std::vector<int> ran;
  w.submit([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the next submits queue behind it
    ran.push_back(1);
  });
  w.submit([] { throw std::runtime_error("cannot write 'x': No space left on device"); });
  w.submit([&] { ran.push_back(3); });  // e.g. printing the row of the file that failed
  CHECK_THROWS_WITH_AS(w.wait(), "cannot write 'x': No space left on device", std::runtime_error);
  CHECK(ran == std::vector<int>{1});
  // Reported once; the writer is usable again.
  w.wait();
  w.submit([&] { ran.push_back(4); });
  w.wait();
  CHECK(ran == std::vector<int>{1, 4});
}
