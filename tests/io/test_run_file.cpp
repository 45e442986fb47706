#include <doctest/doctest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "rlmpi/core/error.hpp"
#include "rlmpi/io/hdf5.hpp"
#include "rlmpi/io/run_file.hpp"
#include "temp_dir.hpp"

using namespace rlmpi::io;
using rlmpi::UsageError;
using Row = std::vector<std::pair<std::string, double>>;

namespace {

const Attributes kAttrs{{"algo", std::string("ppo")}, {"env", std::string("CartPole-v1")},
                        {"seed", std::int64_t{42}}, {"gamma", 0.99}, {"host", std::string("n\u00f6de \"1\"")}};

Row row_for(long long e) {
  return {{"Epoch", double(e)}, {"AverageEpRet", 10.0 * double(e) + 0.5}, {"Time", 0.125 * double(e)}};
}

// Epoch e: e + 1 episodes.
void append_epoch_with_episodes(RunFile& rf, long long e) {
  std::vector<double> ret;
  std::vector<long long> len;
  std::vector<int> rank;
  for (long long i = 0; i <= e; ++i) {
    ret.push_back(double(e) - double(i) / 4);
    len.push_back(100 * e + i);
    rank.push_back(int(i % 2));
  }
  rf.append_episodes(ret, len, rank, e);
  Row r = row_for(e);
  rf.append_epoch(r);
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace

using rlmpi::test::read_bytes;

TEST_CASE("round trip: attributes, epochs with units, episodes") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    RunFile rf = RunFile::create(path, kAttrs);
    rf.set_units("Time", "s");
    for (long long e = 0; e < 3; ++e) append_epoch_with_episodes(rf, e);
    rf.commit();
    CHECK(rf.epochs() == 3);
    CHECK(rf.episodes() == 6);
    CHECK(rf.columns() == std::vector<std::string>{"Epoch", "AverageEpRet", "Time"});
  }
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  RunData d = read_run_file(path);
  REQUIRE(d.attributes.size() == kAttrs.size() + 2);
  for (std::size_t i = 0; i < kAttrs.size(); ++i) CHECK(d.attributes[i] == kAttrs[i]);
  CHECK(std::get<std::string>(d.attribute("config_json")) ==
        R"({"algo":"ppo","env":"CartPole-v1","seed":42,"gamma":0.99,"host":"n)" "\u00f6" R"(de \"1\""})");
  CHECK(std::get<std::string>(d.attribute("rlmpi_file_format")) == kRunFileFormat);
  REQUIRE(d.epochs.size() == 3);
  CHECK(d.epochs[0].name == "Epoch");
  CHECK(d.column("Epoch").values == std::vector<double>{0, 1, 2});
  CHECK(d.column("AverageEpRet").values == std::vector<double>{0.5, 10.5, 20.5});
  CHECK(d.column("Time").unit == "s");
  CHECK(d.column("Epoch").unit.empty());
  CHECK(d.episode_return == std::vector<double>{0, 1, 0.75, 2, 1.75, 1.5});
  CHECK(d.episode_length == std::vector<long long>{0, 100, 101, 200, 201, 202});
  CHECK(d.episode_rank == std::vector<int>{0, 0, 1, 0, 1, 0});
  CHECK(d.episode_epoch == std::vector<long long>{0, 1, 1, 2, 2, 2});
  CHECK_THROWS_AS(d.column("nope"), std::out_of_range);
}

TEST_CASE("a caller-supplied config_json is stored verbatim") {
  rlmpi::test::TempDir dir;
  Attributes attrs{{"seed", std::int64_t{1}}, {"config_json", std::string(R"({"seed":1,"hid":[64,64]})")}};
  RunFile::create(dir.file("r.h5"), attrs);
  RunData d = read_run_file(dir.file("r.h5"));
  CHECK(std::get<std::string>(d.attribute("config_json")) == R"({"seed":1,"hid":[64,64]})");
  CHECK_THROWS_AS(RunFile::create(dir.file("s.h5"), {{"config_json", 1.0}}), std::invalid_argument);
  CHECK_THROWS_AS(RunFile::create(dir.file("t.h5"), {{"a", 1.0}, {"a", 2.0}}), std::invalid_argument);
}

TEST_CASE("schema as stored: types, chunking, unlimited 1-D datasets") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    RunFile rf = RunFile::create(path, kAttrs);
    append_epoch_with_episodes(rf, 0);
    rf.commit();
  }
  h5::ErrorSilencer quiet;
  h5::File f(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open"));
  struct Expect {
    const char* path;
    hid_t type;
    hsize_t chunk;
  };
  for (const Expect& x : {Expect{"epochs/Epoch", H5T_IEEE_F64LE, 1024}, Expect{"epochs/Time", H5T_IEEE_F64LE, 1024},
                          Expect{"episodes/return", H5T_IEEE_F64LE, 4096}, Expect{"episodes/length", H5T_STD_I64LE, 4096},
                          Expect{"episodes/rank", H5T_STD_I32LE, 4096}, Expect{"episodes/epoch", H5T_STD_I64LE, 4096}}) {
    CAPTURE(x.path);
    h5::Dataset d = h5::open_dataset(f.get(), x.path);
    h5::Datatype t(H5Dget_type(d.get()));
    CHECK(H5Tequal(t.get(), x.type) > 0);
    h5::Dataspace s(H5Dget_space(d.get()));
    hsize_t dims[1], maxdims[1];
    REQUIRE(H5Sget_simple_extent_ndims(s.get()) == 1);
    H5Sget_simple_extent_dims(s.get(), dims, maxdims);
    CHECK(maxdims[0] == H5S_UNLIMITED);
    h5::PropList dcpl(H5Dget_create_plist(d.get()));
    hsize_t chunk[1] = {0};
    CHECK(H5Pget_chunk(dcpl.get(), 1, chunk) == 1);
    CHECK(chunk[0] == x.chunk);
  }
}

TEST_CASE("only committed rows reach the file, destroying without commit keeps the last commit") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    RunFile rf = RunFile::create(path, kAttrs);
    CHECK(read_run_file(path).epochs.empty());  // the file exists and is readable at once
    append_epoch_with_episodes(rf, 0);
    rf.commit();
    append_epoch_with_episodes(rf, 1);
    CHECK(read_run_file(path).column("Epoch").values.size() == 1);
  }
  RunData d = read_run_file(path);
  CHECK(d.column("Epoch").values == std::vector<double>{0});
  CHECK(d.episode_epoch == std::vector<long long>{0});
}

TEST_CASE("open_for_resume truncates, and re-appending gives the straight run's data") {
  rlmpi::test::TempDir dir;
  const std::string straight = dir.file("straight.h5"), resumed = dir.file("resumed.h5");
  {
    RunFile rf = RunFile::create(straight, kAttrs);
    rf.set_units("Time", "s");
    for (long long e = 0; e < 6; ++e) {
      append_epoch_with_episodes(rf, e);
      rf.commit();
    }
  }
  {
    RunFile rf = RunFile::create(resumed, kAttrs);
    rf.set_units("Time", "s");
    for (long long e = 0; e < 5; ++e) {  // checkpoint after epoch 3 (3 rows), then 2 more epochs
      append_epoch_with_episodes(rf, e);
      rf.commit();
    }
  }
  {
    RunFile rf = RunFile::open_for_resume(resumed, 3);
    CHECK(rf.epochs() == 3);
    CHECK(rf.episodes() == 1 + 2 + 3);
    CHECK(rf.columns() == std::vector<std::string>{"Epoch", "AverageEpRet", "Time"});
    RunData now = read_run_file(resumed);  // truncation is committed at once
    CHECK(now.column("Epoch").values == std::vector<double>{0, 1, 2});
    CHECK(now.episode_epoch.size() == 6);
    for (long long e = 3; e < 6; ++e) {
      append_epoch_with_episodes(rf, e);
      rf.commit();
    }
  }
  CHECK(read_run_file(resumed) == read_run_file(straight));
  { RunFile rf = RunFile::open_for_resume(resumed, 6); }  // resume at the end: nothing dropped
  CHECK(read_run_file(resumed) == read_run_file(straight));
  { RunFile rf = RunFile::open_for_resume(resumed, 0); }
  RunData zero = read_run_file(resumed);
  CHECK(zero.column("Epoch").values.empty());
  CHECK(zero.episode_return.empty());
  CHECK_THROWS_WITH_AS(RunFile::open_for_resume(straight, 7), doctest::Contains("holds 6 epochs"), UsageError);
  CHECK_THROWS_WITH_AS(RunFile::open_for_resume(dir.file("nope.h5"), 0), doctest::Contains("does not exist"),
                       UsageError);
}

TEST_CASE("resuming a file with no epoch rows yet") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("run.h5");
  RunFile::create(path, kAttrs);
  RunFile rf = RunFile::open_for_resume(path, 0);
  CHECK(rf.epochs() == 0);
  append_epoch_with_episodes(rf, 0);
  rf.commit();
  CHECK(read_run_file(path).column("AverageEpRet").values == std::vector<double>{0.5});
}

TEST_CASE("the column set is fixed by the first row") {
  rlmpi::test::TempDir dir;
  RunFile rf = RunFile::create(dir.file("run.h5"), kAttrs);
  Row first{{"A", 1}, {"B", 2}};
  rf.append_epoch(first);
  Row extra{{"A", 1}, {"B", 2}, {"C", 3}}, missing{{"A", 1}}, renamed{{"A", 1}, {"X", 2}}, twice{{"A", 1}, {"A", 2}};
  CHECK_THROWS_AS(rf.append_epoch(extra), std::invalid_argument);
  CHECK_THROWS_AS(rf.append_epoch(missing), std::invalid_argument);
  CHECK_THROWS_WITH_AS(rf.append_epoch(renamed), doctest::Contains("'X'"), std::invalid_argument);
  CHECK_THROWS_AS(rf.append_epoch(twice), std::invalid_argument);
  CHECK(rf.epochs() == 1);
  Row swapped{{"B", 20}, {"A", 10}};  // same set, other order: matched by name
  rf.append_epoch(swapped);
  rf.commit();
  RunData d = read_run_file(rf.path());
  CHECK(d.column("A").values == std::vector<double>{1, 10});
  CHECK(d.column("B").values == std::vector<double>{2, 20});
  CHECK_THROWS_AS(rf.set_units("C", "s"), std::invalid_argument);
  Row bad_name{{"a/b", 1}};
  RunFile other = RunFile::create(dir.file("other.h5"), kAttrs);
  CHECK_THROWS_AS(other.append_epoch(bad_name), std::invalid_argument);
  other.set_units("Typo", "s");
  CHECK_THROWS_AS(other.append_epoch(first), std::invalid_argument);  // units for a column never given
}

TEST_CASE("integer columns are int64 in the file, survive resume, and refuse fractions and NaN") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    RunFile rf = RunFile::create(path, kAttrs);
    rf.declare_columns({"Epoch", "AverageEpRet", "Steps"}, {true, false, true});
    for (long long e = 0; e < 3; ++e) {
      Row r{{"Epoch", double(e)}, {"AverageEpRet", 0.5 * double(e)}, {"Steps", 4000.0 * double(e + 1)}};
      rf.append_epoch(r);
      rf.commit();
    }
    Row fraction{{"Epoch", 3.5}, {"AverageEpRet", 1}, {"Steps", 1}}, nan{{"Epoch", 3}, {"AverageEpRet", 1},
                                                                          {"Steps", std::nan("")}};
    CHECK_THROWS_WITH_AS(rf.append_epoch(fraction), doctest::Contains("integer column 'Epoch'"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(rf.append_epoch(nan), doctest::Contains("'Steps'"), std::invalid_argument);
    CHECK(rf.epochs() == 3);
    Row nan_ok{{"Epoch", 3}, {"AverageEpRet", std::nan("")}, {"Steps", 16000}};  // NaN where it means "none"
    rf.append_epoch(nan_ok);
    rf.commit();
  }
  {
    h5::ErrorSilencer quiet;
    h5::File f(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open"));
    const h5::Group g = h5::open_group(f.get(), "epochs");
    CHECK(h5::has_type<long long>(h5::open_dataset(g.get(), "Epoch").get(), "Epoch"));
    CHECK(h5::has_type<long long>(h5::open_dataset(g.get(), "Steps").get(), "Steps"));
    CHECK(h5::has_type<double>(h5::open_dataset(g.get(), "AverageEpRet").get(), "AverageEpRet"));
  }
  {
    RunFile rf = RunFile::open_for_resume(path, 2);  // types are kept across a resume
    Row r{{"Epoch", 2}, {"AverageEpRet", 7}, {"Steps", 12000}};
    rf.append_epoch(r);
    rf.commit();
  }
  const RunData d = read_run_file(path);  // read as numbers whatever their file type
  CHECK(d.column("Epoch").values == std::vector<double>{0, 1, 2});
  CHECK(d.column("Steps").values == std::vector<double>{4000, 8000, 12000});
  CHECK(d.column("AverageEpRet").values == std::vector<double>{0, 0.5, 7});
  RunFile other = RunFile::create(dir.file("other.h5"), kAttrs);
  CHECK_THROWS_AS(other.declare_columns({"A", "B"}, {true}), std::invalid_argument);
}

TEST_CASE("append_episodes checks its arguments") {
  rlmpi::test::TempDir dir;
  RunFile rf = RunFile::create(dir.file("run.h5"), kAttrs);
  std::vector<double> ret{1, 2};
  std::vector<long long> len{3, 4}, len1{3};
  std::vector<int> rank{0, 1};
  CHECK_THROWS_AS(rf.append_episodes(ret, len1, rank, 0), std::invalid_argument);
  CHECK_THROWS_AS(rf.append_episodes(ret, len, rank, 1), std::invalid_argument);  // epoch 0 is current
  rf.append_episodes(ret, len, rank, 0);
  Row r = row_for(0);
  rf.append_epoch(r);
  rf.append_episodes(ret, len, rank, 0);  // after its row: still epoch 0
  rf.append_episodes(ret, len, rank, 1);
  CHECK_THROWS_AS(rf.append_episodes(ret, len, rank, 0), std::invalid_argument);  // decreasing
  CHECK(rf.episodes() == 6);
}

TEST_CASE("creating over an existing file, or where it cannot be written, is a UsageError") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("run.h5");
  RunFile::create(path, kAttrs);
  const auto before = read_bytes(path);
  CHECK_THROWS_WITH_AS(RunFile::create(path, kAttrs), doctest::Contains("already exists"), UsageError);
  CHECK(read_bytes(path) == before);
  write_bytes(dir.file("plain.txt"), {'x'});
  CHECK_THROWS_AS(RunFile::create(dir.file("plain.txt"), kAttrs), UsageError);
  CHECK_THROWS_WITH_AS(RunFile::create(dir.file("no/such/dir/run.h5"), kAttrs),
                       doctest::Contains("No such file or directory"), UsageError);
}

TEST_CASE("corrupt, truncated or foreign files give a clear UsageError") {
  rlmpi::test::TempDir dir;
  const std::string good = dir.file("good.h5");
  {
    RunFile rf = RunFile::create(good, kAttrs);
    for (long long e = 0; e < 20; ++e) append_epoch_with_episodes(rf, e);
    rf.commit();
  }
  const std::vector<char> bytes = read_bytes(good);
  std::mt19937 gen(1);
  std::vector<char> noise(bytes.size());
  for (auto& c : noise) c = char(gen());

  const std::string random_path = dir.file("random.h5"), half = dir.file("half.h5"), empty = dir.file("empty.h5");
  write_bytes(random_path, noise);
  write_bytes(half, std::vector<char>(bytes.begin(), bytes.begin() + std::ptrdiff_t(bytes.size() / 2)));
  write_bytes(empty, {});
  for (const std::string& p : {random_path, half, empty}) {
    CAPTURE(p);
    const std::string read_msg = "cannot read run file '" + p + "': ", resume_msg = "cannot resume run file '" + p + "'";
    CHECK_THROWS_WITH_AS(read_run_file(p), doctest::Contains(read_msg.c_str()), UsageError);
    CHECK_THROWS_WITH_AS(RunFile::open_for_resume(p, 0), doctest::Contains(resume_msg.c_str()), UsageError);
  }
  CHECK_THROWS_WITH_AS(read_run_file(half), doctest::Contains("truncated file"), UsageError);
  CHECK_THROWS_WITH_AS(read_run_file(random_path), doctest::Contains("signature"), UsageError);

  const std::string foreign = dir.file("foreign.h5");  // valid HDF5, but not a run file
  H5Fclose(H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  CHECK_THROWS_WITH_AS(read_run_file(foreign), doctest::Contains("not a valid rlmpi run file"), UsageError);
  CHECK_THROWS_WITH_AS(read_run_file(dir.file("absent.h5")), doctest::Contains("does not exist"), UsageError);
}

TEST_CASE("set_vector writes and replaces a state vector outside /epochs and /episodes") {
  rlmpi::test::TempDir dir;
  const std::string path = dir.file("run.h5");
  RunFile rf = RunFile::create(path, kAttrs);
  const std::vector<double> a{1.0, 2.0, 3.0}, b{-4.5, 0.25};
  rf.set_vector("normalizer", "obs_mean", a);
  rf.set_vector("normalizer", "obs_mean", b);  // replaced, also when shorter
  rf.set_vector("normalizer", "obs_count", std::vector<double>{7});
  CHECK_THROWS_AS(rf.set_vector("epochs", "x", a), std::invalid_argument);
  CHECK_THROWS_AS(rf.set_vector("normalizer", "a/b", a), std::invalid_argument);
  rf.commit();
  {
    const h5::File f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, h5::unlocked_read_fapl().get()));
    const h5::Group g = h5::open_group(f.get(), "normalizer");
    CHECK(h5::read_all<double>(h5::open_dataset(g.get(), "obs_mean").get()) == b);
    CHECK(h5::read_all<double>(h5::open_dataset(g.get(), "obs_count").get()) == std::vector<double>{7});
  }
  CHECK(read_run_file(path).epochs.empty());  // the run-file reader is unaffected
}
