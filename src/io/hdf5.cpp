#include "rlmpi/io/hdf5.hpp"

#include "rlmpi/io/file_writer.hpp"

#include <hdf5.h>

#include <algorithm>
#include <vector>
#include <filesystem>
#include <cstring>
#include <cerrno>
#include <unistd.h>
#include <fcntl.h>

#include <type_traits>

namespace rlmpi::io::h5 {

static_assert(std::is_same_v<Id, hid_t>, "h5::Id must be hid_t");
static_assert(std::is_same_v<int (*)(Id, void*), H5E_auto2_t>, "ErrorSilencer stores an H5E_auto2_t");

namespace {

// Collects the descriptions of the current error stack, outermost first.
herr_t collect(unsigned /*n*/, const H5E_error2_t* err, void* out) {
  auto& msgs = *static_cast<std::vector<std::string>*>(out);
  if (err->desc && *err->desc) msgs.emplace_back(err->desc);
  return 0;
}

[[noreturn]] void fail(std::string_view what) {
  std::vector<std::string> msgs;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect, &msgs);  // upward: innermost first
  H5Eclear2(H5E_DEFAULT);
  std::string text(what);
  // The innermost entry is the actual cause; outer ones repeat "unable to open file" etc.
  text += ": ";
  text += msgs.empty() ? std::string("HDF5 error") : msgs.front();
  throw Error(text);
}

template <class T>
hid_t mem_type() {
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, long long>) return H5T_NATIVE_LLONG;
  else if constexpr (std::is_same_v<T, int>) return H5T_NATIVE_INT;
  else static_assert(!sizeof(T), "unsupported element type");
}

// Little-endian, fixed-width file types: the same file on every machine.
template <class T>
hid_t file_type() {
  if constexpr (std::is_same_v<T, double>) return H5T_IEEE_F64LE;
  else if constexpr (std::is_same_v<T, long long>) return H5T_STD_I64LE;
  else return H5T_STD_I32LE;
}

Datatype utf8_vlen_string() {
  Datatype t(check(H5Tcopy(H5T_C_S1), "cannot create string type"));
  check_status(H5Tset_size(t.get(), H5T_VARIABLE), "cannot create string type");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "cannot create string type");
  return t;
}

std::string object_name(Id obj) {
  ssize_t n = H5Iget_name(obj, nullptr, 0);
  if (n <= 0) return "?";
  std::string s(static_cast<std::size_t>(n) + 1, '\0');
  H5Iget_name(obj, s.data(), s.size());
  s.resize(static_cast<std::size_t>(n));
  return s;
}

}  // namespace

Id check(Id id, std::string_view what) {
  if (id < 0) fail(what);
  return id;
}

void check_status(int status, std::string_view what) {
  if (status < 0) fail(what);
}

ErrorSilencer::ErrorSilencer() {
  H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

ErrorSilencer::~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }

void close_id(Kind kind, Id id) noexcept {
  switch (kind) {
    case Kind::File: H5Fclose(id); break;
    case Kind::Group: H5Gclose(id); break;
    case Kind::Dataset: H5Dclose(id); break;
    case Kind::Dataspace: H5Sclose(id); break;
    case Kind::PropList: H5Pclose(id); break;
    case Kind::Attribute: H5Aclose(id); break;
    case Kind::Datatype: H5Tclose(id); break;
  }
}

bool exists(Id loc, const std::string& name) {
  htri_t r = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
  check_status(r, "cannot look up '" + name + "' in '" + object_name(loc) + "'");
  return r > 0;
}

Group create_group(Id loc, const std::string& name) {
  PropList gcpl(check(H5Pcreate(H5P_GROUP_CREATE), "cannot create property list"));
  check_status(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
               "cannot set link creation order");
  return Group(check(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                     "cannot create group '" + name + "'"));
}

Group open_group(Id loc, const std::string& name) {
  return Group(check(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), "cannot open group '" + name + "'"));
}

std::vector<std::string> child_names(Id group) {
  std::vector<std::string> names;
  auto visit = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Literate(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, visit, &names) < 0) {
    H5Eclear2(H5E_DEFAULT);  // creation order not tracked: fall back to name order
    names.clear();
    idx = 0;
    check_status(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, visit, &names),
                 "cannot list '" + object_name(group) + "'");
  }
  return names;
}

template <class T>
Dataset create_extendable(Id loc, const std::string& name, long long chunk_rows) {
  const hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED};
  const hsize_t chunk[1] = {static_cast<hsize_t>(chunk_rows)};
  const std::string what = "cannot create dataset '" + name + "'";
  Dataspace space(check(H5Screate_simple(1, dims, maxdims), what));
  PropList dcpl(check(H5Pcreate(H5P_DATASET_CREATE), what));
  check_status(H5Pset_chunk(dcpl.get(), 1, chunk), what);
  return Dataset(check(H5Dcreate2(loc, name.c_str(), file_type<T>(), space.get(), H5P_DEFAULT, dcpl.get(),
                                  H5P_DEFAULT),
                       what));
}

Dataset open_dataset(Id loc, const std::string& name) {
  return Dataset(check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "cannot open dataset '" + name + "'"));
}

long long length(Id dataset) {
  const std::string what = "cannot get the shape of '" + object_name(dataset) + "'";
  Dataspace space(check(H5Dget_space(dataset), what));
  int rank = H5Sget_simple_extent_ndims(space.get());
  check_status(rank, what);
  if (rank != 1) throw Error(what + ": not a 1-D dataset");
  hsize_t dims[1] = {0};
  check_status(H5Sget_simple_extent_dims(space.get(), dims, nullptr), what);
  return static_cast<long long>(dims[0]);
}

void resize(Id dataset, long long rows) {
  const hsize_t dims[1] = {static_cast<hsize_t>(rows)};
  check_status(H5Dset_extent(dataset, dims), "cannot resize '" + object_name(dataset) + "'");
}

template <class T>
void append(Id dataset, std::span<const T> values) {
  if (values.empty()) return;
  const std::string what = "cannot append to '" + object_name(dataset) + "'";
  const hsize_t old_rows = static_cast<hsize_t>(length(dataset));
  const hsize_t count[1] = {values.size()}, start[1] = {old_rows};
  resize(dataset, static_cast<long long>(old_rows + values.size()));
  Dataspace file_space(check(H5Dget_space(dataset), what));
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), what);
  Dataspace mem_space(check(H5Screate_simple(1, count, nullptr), what));
  check_status(H5Dwrite(dataset, mem_type<T>(), mem_space.get(), file_space.get(), H5P_DEFAULT, values.data()),
               what);
}

template <class T>
std::vector<T> read_all(Id dataset) {
  std::vector<T> out(static_cast<std::size_t>(length(dataset)));
  if (!out.empty())
    check_status(H5Dread(dataset, mem_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
                 "cannot read '" + object_name(dataset) + "'");
  return out;
}

template <class T>
bool has_type(Id dataset, std::string_view what) {
  Datatype t(check(H5Dget_type(dataset), what));
  htri_t same = H5Tequal(t.get(), file_type<T>());
  check_status(same, what);
  return same > 0;
}

template <class T>
void require_type(Id dataset, std::string_view what) {
  if (!has_type<T>(dataset, what))
    throw Error(std::string(what) + ": unexpected element type in '" + object_name(dataset) + "'");
}

template <class T>
Dataset write_checksummed(Id loc, const std::string& name, std::span<const T> values) {
  const std::string what = "cannot write dataset '" + name + "'";
  const hsize_t n = values.size();
  const hsize_t dims[1] = {n}, maxdims[1] = {H5S_UNLIMITED};  // unlimited: an empty array has a chunk too
  const hsize_t chunk[1] = {std::clamp<hsize_t>(n, 1, static_cast<hsize_t>(kChecksummedChunkRows))};
  Dataspace space(check(H5Screate_simple(1, dims, maxdims), what));
  PropList dcpl(check(H5Pcreate(H5P_DATASET_CREATE), what));
  check_status(H5Pset_chunk(dcpl.get(), 1, chunk), what);
  check_status(H5Pset_fletcher32(dcpl.get()), what);
  Dataset d(check(H5Dcreate2(loc, name.c_str(), file_type<T>(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                  what));
  if (n > 0) check_status(H5Dwrite(d.get(), mem_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), what);
  return d;
}

bool has_fletcher32(Id dataset) {
  const std::string what = "cannot read the filters of '" + object_name(dataset) + "'";
  PropList dcpl(check(H5Dget_create_plist(dataset), what));
  const int n = H5Pget_nfilters(dcpl.get());
  check_status(n, what);
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, filter_config = 0;
    std::size_t n_values = 0;
    const H5Z_filter_t f =
        H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &n_values, nullptr, 0, nullptr, &filter_config);
    check_status(f, what);
    if (f == H5Z_FILTER_FLETCHER32) return true;
  }
  return false;
}

#define RLMPI_H5_INSTANTIATE(T)                                                    \
  template Dataset create_extendable<T>(Id, const std::string&, long long);        \
  template void append<T>(Id, std::span<const T>);                                \
  template std::vector<T> read_all<T>(Id);                                         \
  template void require_type<T>(Id, std::string_view);                            \
  template bool has_type<T>(Id, std::string_view);                                \
  template Dataset write_checksummed<T>(Id, const std::string&, std::span<const T>);
RLMPI_H5_INSTANTIATE(double)
RLMPI_H5_INSTANTIATE(long long)
RLMPI_H5_INSTANTIATE(int)
#undef RLMPI_H5_INSTANTIATE

void write_attribute(Id obj, const std::string& name, const AttrValue& value) {
  const std::string what = "cannot write attribute '" + name + "'";
  Dataspace scalar(check(H5Screate(H5S_SCALAR), what));
  if (const auto* s = std::get_if<std::string>(&value)) {
    Datatype t = utf8_vlen_string();
    Attribute a(check(H5Acreate2(obj, name.c_str(), t.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT), what));
    const char* p = s->c_str();
    check_status(H5Awrite(a.get(), t.get(), &p), what);
  } else if (const auto* d = std::get_if<double>(&value)) {
    Attribute a(check(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, scalar.get(), H5P_DEFAULT, H5P_DEFAULT), what));
    check_status(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, d), what);
  } else {
    const std::int64_t v = std::get<std::int64_t>(value);
    Attribute a(check(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, scalar.get(), H5P_DEFAULT, H5P_DEFAULT), what));
    check_status(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), what);
  }
}

AttrValue read_attribute(Id obj, const std::string& name) {
  const std::string what = "cannot read attribute '" + name + "'";
  Attribute a(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), what));
  Datatype t(check(H5Aget_type(a.get()), what));
  Dataspace space(check(H5Aget_space(a.get()), what));
  if (H5Sget_simple_extent_npoints(space.get()) != 1) throw Error(what + ": not a scalar");
  switch (H5Tget_class(t.get())) {
    case H5T_STRING: {
      htri_t vlen = H5Tis_variable_str(t.get());
      check_status(vlen, what);
      if (vlen > 0) {
        Datatype mt = utf8_vlen_string();
        char* p = nullptr;
        check_status(H5Aread(a.get(), mt.get(), &p), what);
        std::string s = p ? p : "";
        H5free_memory(p);
        return s;
      }
      std::string s(H5Tget_size(t.get()), '\0');  // fixed length: read with the file's own type
      check_status(H5Aread(a.get(), t.get(), s.data()), what);
      return s.substr(0, s.find('\0'));
    }
    case H5T_FLOAT: {
      double d = 0;
      check_status(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &d), what);
      return d;
    }
    case H5T_INTEGER: {
      std::int64_t v = 0;
      check_status(H5Aread(a.get(), H5T_NATIVE_INT64, &v), what);
      return v;
    }
    default: throw Error(what + ": unsupported type (not a string or number)");
  }
}

Attributes read_attributes(Id obj) {
  std::vector<std::string> names;
  auto visit = [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Aiterate2(obj, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, visit, &names) < 0) {
    H5Eclear2(H5E_DEFAULT);  // creation order not tracked: fall back to name order
    names.clear();
    idx = 0;
    check_status(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, visit, &names),
                 "cannot list the attributes of '" + object_name(obj) + "'");
  }
  Attributes out;
  for (auto& n : names) out.emplace_back(n, read_attribute(obj, n));
  return out;
}


// The writer's file lives in memory (core driver, no backing store); HDF5 never touches the
// path after opening, and takes no file lock, so readers holding the file open do not block us.
PropList memory_fapl() {
  PropList fapl(check(H5Pcreate(H5P_FILE_ACCESS), "cannot create property list"));
  check_status(H5Pset_fapl_core(fapl.get(), 1 << 20, 0), "cannot select the HDF5 core driver");
  check_status(H5Pset_file_locking(fapl.get(), 0, 1), "cannot disable HDF5 file locking");
  // Objects in the 1.8 format at most, so that any HDF5 >= 1.8 (and h5py) reads the file.
  check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_V18),
                   "cannot set HDF5 format bounds");
  return fapl;
}


PropList unlocked_read_fapl() {
  PropList fapl(check(H5Pcreate(H5P_FILE_ACCESS), "cannot create property list"));
  check_status(H5Pset_file_locking(fapl.get(), 0, 1), "cannot disable HDF5 file locking");
  return fapl;
}

std::vector<char> file_image(Id f, const std::string& what) {
  check_status(H5Fflush(f, H5F_SCOPE_GLOBAL), what);
  const ssize_t size = H5Fget_file_image(f, nullptr, 0);
  check(size, what);
  std::vector<char> image(static_cast<std::size_t>(size));
  check(H5Fget_file_image(f, image.data(), image.size()), what);
  return image;
}

void write_image_atomically(Id f, const std::string& path, const std::string& what) {
  write_file_atomically(path, file_image(f, what));
}

void write_strings(Id loc, const std::string& name, const std::vector<std::string>& values) {
  const std::string what = "cannot write string table " + name;
  if (exists(loc, name)) check_status(H5Ldelete(loc, name.c_str(), H5P_DEFAULT), what);
  const Datatype type = utf8_vlen_string();
  const hsize_t dims[1] = {values.size()};
  const Dataspace space(check(H5Screate_simple(1, dims, nullptr), what));
  const Dataset d(check(H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        what));
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (!values.empty()) check_status(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), what);
}

std::vector<std::string> read_strings(Id dataset) {
  const std::string what = "cannot read string table " + object_name(dataset);
  const Datatype type = utf8_vlen_string();
  const auto n = static_cast<std::size_t>(length(dataset));
  std::vector<char*> ptrs(n, nullptr);
  if (n > 0) check_status(H5Dread(dataset, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), what);
  std::vector<std::string> out;
  for (char* p : ptrs) {
    out.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return out;
}

}  // namespace rlmpi::io::h5
