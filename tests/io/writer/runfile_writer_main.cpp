// Test helper for the crash and live-reader tests: writes a run file epoch by epoch, commits
// after each one and then prints "committed <epochs>" on stdout (unbuffered), so a test that
// kills it knows which epochs must be in the file.
//
//   runfile_writer PATH EPOCHS [--resume N] [--sleep-ms MS] [--episodes K] [--columns C]
//
// Values are a pure function of (epoch, column, episode), checked by the Python tests:
//   /epochs/Epoch = e, /epochs/c<j> = e * 1000 + j + 0.25
//   episode i of epoch e: return = e + i / 8, length = 10 * e + i, rank = i % 4
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rlmpi/io/run_file.hpp"

int main(int argc, char** argv) {
  using namespace rlmpi::io;
  if (argc < 3) {
    std::fprintf(stderr, "usage: runfile_writer PATH EPOCHS [--resume N] [--sleep-ms MS] [--episodes K] [--columns C]\n");
    return 2;
  }
  const std::string path = argv[1];
  const long long epochs = std::atoll(argv[2]);
  long long resume = -1, sleep_ms = 0, episodes = 3, columns = 20;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (opt == "--resume") resume = v;
    else if (opt == "--sleep-ms") sleep_ms = v;
    else if (opt == "--episodes") episodes = v;
    else if (opt == "--columns") columns = v;
  }
  try {
    auto t0 = std::chrono::steady_clock::now();
    double commit_s = 0;
    RunFile rf = resume >= 0 ? RunFile::open_for_resume(path, resume)
                             : RunFile::create(path, {{"algo", std::string("ppo")}, {"seed", std::int64_t{7}},
                                                      {"gamma", 0.99}, {"note", std::string("h\u00e9llo \"x\"")}});
    rf.set_units("Time", "s");
    for (long long e = rf.epochs(); e < epochs; ++e) {
      std::vector<double> ret;
      std::vector<long long> len;
      std::vector<int> rank;
      for (long long i = 0; i < episodes; ++i) {
        ret.push_back(static_cast<double>(e) + static_cast<double>(i) / 8);
        len.push_back(10 * e + i);
        rank.push_back(static_cast<int>(i % 4));
      }
      rf.append_episodes(ret, len, rank, e);
      std::vector<std::pair<std::string, double>> row{{"Epoch", static_cast<double>(e)}, {"Time", 0.0}};
      for (long long j = 0; j < columns; ++j) {
        std::string name = "c";  // (not "c" + ...: GCC 12 gives a false -Wrestrict there)
        name += std::to_string(j);
        row.emplace_back(name, static_cast<double>(e * 1000 + j) + 0.25);
      }
      rf.append_epoch(row);
      auto c0 = std::chrono::steady_clock::now();
      rf.commit();
      commit_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
      std::string msg = "committed ";
      msg += std::to_string(rf.epochs()) + "\n";
      if (::write(1, msg.data(), msg.size()) < 0) return 1;  // unbuffered: the test reads it at once
      if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    }
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "runfile_writer: %lld epochs, %.3f s total, %.3f s in commit\n", rf.epochs(), total,
                 commit_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runfile_writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
