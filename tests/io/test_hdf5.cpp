#include <doctest/doctest.h>
#include <hdf5.h>

#include <vector>

#include "rlmpi/io/hdf5.hpp"
#include "temp_dir.hpp"

using namespace rlmpi::io;

namespace {
h5::File create_file(const std::string& path) {
  return h5::File(h5::check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create " + path));
}
}  // namespace

TEST_CASE("HDF5 failures become h5::Error naming the object and HDF5's reason") {
  h5::ErrorSilencer quiet;
  rlmpi::test::TempDir dir;
  const std::string missing = dir.file("missing.h5");
  try {
    h5::File f(h5::check(H5Fopen(missing.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "cannot open '" + missing + "'"));
    FAIL("expected an exception");
  } catch (const h5::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("cannot open '" + missing + "': ") == 0);
    CHECK(msg.find("No such file") != std::string::npos);
  }
  h5::File f = create_file(dir.file("a.h5"));
  CHECK_THROWS_WITH_AS(h5::open_group(f.get(), "nope"), doctest::Contains("cannot open group 'nope'"), h5::Error);
  CHECK_THROWS_AS(h5::read_attribute(f.get(), "nope"), h5::Error);
}

TEST_CASE("ErrorSilencer restores the previous automatic error handler") {
  H5E_auto2_t before = nullptr;
  void* before_data = nullptr;
  H5Eget_auto2(H5E_DEFAULT, &before, &before_data);
  {
    h5::ErrorSilencer quiet;
    H5E_auto2_t inside = nullptr;
    void* inside_data = nullptr;
    H5Eget_auto2(H5E_DEFAULT, &inside, &inside_data);
    CHECK((inside == nullptr));
  }
  H5E_auto2_t after = nullptr;
  void* after_data = nullptr;
  H5Eget_auto2(H5E_DEFAULT, &after, &after_data);
  CHECK((after == before));
  CHECK(after_data == before_data);
}

TEST_CASE("Handles close their ids, also when moved or on exceptions") {
  h5::ErrorSilencer quiet;
  rlmpi::test::TempDir dir;
  h5::File f = create_file(dir.file("h.h5"));
  const auto open_objects = [&] { return H5Fget_obj_count(f.get(), H5F_OBJ_ALL | H5F_OBJ_LOCAL); };
  const auto base = open_objects();  // the file itself
  {
    h5::Group g = h5::create_group(f.get(), "g");
    h5::Dataset d = h5::create_extendable<double>(g.get(), "d", 16);
    CHECK(open_objects() == base + 2);
    h5::Dataset moved = std::move(d);
    CHECK_FALSE(d);
    CHECK(moved);
    CHECK(open_objects() == base + 2);
  }
  CHECK(open_objects() == base);
  try {
    h5::Group g = h5::open_group(f.get(), "g");
    h5::open_dataset(g.get(), "missing");  // throws while g is open
  } catch (const h5::Error&) {
  }
  CHECK(open_objects() == base);
}

TEST_CASE("extendable datasets: append, read back, resize, type check") {
  h5::ErrorSilencer quiet;
  rlmpi::test::TempDir dir;
  h5::File f = create_file(dir.file("d.h5"));
  h5::Dataset d = h5::create_extendable<long long>(f.get(), "x", 4);
  CHECK(h5::length(d.get()) == 0);
  std::vector<long long> a{1, 2, 3}, b{4, 5, 6, 7, 8};
  h5::append<long long>(d.get(), a);
  h5::append<long long>(d.get(), b);
  CHECK(h5::read_all<long long>(d.get()) == std::vector<long long>{1, 2, 3, 4, 5, 6, 7, 8});
  h5::resize(d.get(), 2);
  CHECK(h5::read_all<long long>(d.get()) == std::vector<long long>{1, 2});
  CHECK_NOTHROW(h5::require_type<long long>(d.get(), "x"));
  CHECK_THROWS_AS(h5::require_type<double>(d.get(), "x"), h5::Error);
  h5::Dataset i = h5::create_extendable<int>(f.get(), "i", 4);
  std::vector<int> iv{-1, 7};
  h5::append<int>(i.get(), iv);
  CHECK(h5::read_all<int>(i.get()) == iv);
}

TEST_CASE("attributes: strings, doubles, int64, in creation order") {
  h5::ErrorSilencer quiet;
  rlmpi::test::TempDir dir;
  h5::PropList fcpl(H5Pcreate(H5P_FILE_CREATE));
  H5Pset_attr_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  const std::string path = dir.file("a.h5");
  h5::File f(h5::check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), "create"));
  Attributes attrs{{"zeta", std::string("h\u00e9llo")}, {"alpha", 0.1}, {"n", std::int64_t{-5}}, {"empty", std::string()}};
  for (const auto& [k, v] : attrs) h5::write_attribute(f.get(), k, v);
  CHECK(h5::read_attributes(f.get()) == attrs);
  CHECK(std::get<double>(h5::read_attribute(f.get(), "alpha")) == 0.1);
}
