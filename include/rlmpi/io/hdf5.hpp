#pragma once
// Thin RAII layer over the HDF5 C API (serial, 1.10). This header does not include <hdf5.h>
// (rlmpi_core links HDF5 privately): `Id` is HDF5's hid_t, checked in hdf5.cpp.
//
// Every failing HDF5 call becomes an h5::Error whose message names what was being done (file
// path, object name) and HDF5's own innermost reason, e.g.
//   "cannot open 'run.h5': truncated file: eof = 4096, sblock->base_addr = 0, stored_eof = 8192".
// HDF5's automatic printing of its error stack to stderr is switched off while an ErrorSilencer
// is alive; every public io entry point holds one.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rlmpi/io/attributes.hpp"

namespace rlmpi::io::h5 {

using Id = std::int64_t;  // hid_t

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Returns `id` if valid; otherwise throws Error("<what>: <HDF5 reason>"). Clears HDF5's stack.
Id check(Id id, std::string_view what);
void check_status(int status, std::string_view what);  // herr_t: negative is failure

// While alive, HDF5 prints nothing on errors; restores the previous handler on destruction.
class ErrorSilencer {
 public:
  ErrorSilencer();
  ~ErrorSilencer();
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;

 private:
  int (*old_func_)(Id, void*) = nullptr;  // H5E_auto2_t
  void* old_data_ = nullptr;
};

enum class Kind { File, Group, Dataset, Dataspace, PropList, Attribute, Datatype };
void close_id(Kind kind, Id id) noexcept;

// Owns one hid_t of kind K and closes it with the matching H5?close. Move-only.
template <Kind K>
class Handle {
 public:
  Handle() = default;
  explicit Handle(Id id) : id_(id) {}  // takes ownership (a negative id means "none")
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, -1)) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, -1);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  Id get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset() noexcept {
    if (id_ >= 0) close_id(K, id_);
    id_ = -1;
  }

 private:
  Id id_ = -1;
};

using File = Handle<Kind::File>;
using Group = Handle<Kind::Group>;
using Dataset = Handle<Kind::Dataset>;
using Dataspace = Handle<Kind::Dataspace>;
using PropList = Handle<Kind::PropList>;
using Attribute = Handle<Kind::Attribute>;
using Datatype = Handle<Kind::Datatype>;

// ---- groups and links
bool exists(Id loc, const std::string& name);  // a direct child link `name` of `loc`
// A group whose links (children) are listed in creation order.
Group create_group(Id loc, const std::string& name);
Group open_group(Id loc, const std::string& name);
// Child link names in creation order (name order if the group does not track creation order).
std::vector<std::string> child_names(Id group);

// ---- extendable 1-D datasets of T in {double, long long, int} (float64, int64, int32 in the file)
template <class T>
Dataset create_extendable(Id loc, const std::string& name, long long chunk_rows);
Dataset open_dataset(Id loc, const std::string& name);
long long length(Id dataset);  // rows of a 1-D dataset; throws if it is not 1-D
template <class T>
void append(Id dataset, std::span<const T> values);
void resize(Id dataset, long long rows);
template <class T>
std::vector<T> read_all(Id dataset);
// Throws unless the dataset's element type is the file type written for T.
template <class T>
void require_type(Id dataset, std::string_view what);
// Whether the dataset's element type is the file type written for T.
template <class T>
bool has_type(Id dataset, std::string_view what);

// ---- whole 1-D datasets under HDF5's Fletcher32 checksum (checkpoints)
// Creates `name` holding `values` (T as above), chunked to its own size (chunks of at most
// kChecksummedChunkRows rows, one chunk for small arrays) with the Fletcher32 filter: HDF5
// checksums every chunk on write and verifies it on every read, so reading a chunk whose bytes
// changed on disk fails ("... data error detected by Fletcher32 checksum").
inline constexpr long long kChecksummedChunkRows = 1 << 16;
template <class T>
Dataset write_checksummed(Id loc, const std::string& name, std::span<const T> values);
// Whether the dataset's chunks carry HDF5's Fletcher32 checksum.
bool has_fletcher32(Id dataset);

// ---- small string tables: a 1-D dataset of variable-length UTF-8 strings, created or replaced
// whole (h5py reads it as an array of bytes; .asstr() gives str)
void write_strings(Id loc, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> read_strings(Id dataset);

// ---- attributes (strings: scalar variable-length UTF-8; double: float64; int64: int64)
void write_attribute(Id obj, const std::string& name, const AttrValue& value);
AttrValue read_attribute(Id obj, const std::string& name);
// Every attribute of `obj`, in creation order when tracked.
Attributes read_attributes(Id obj);

// ---- whole-file snapshots (run files and checkpoints)
// Access properties for a writer that keeps the file in memory (core driver, no backing store,
// no file lock, objects in the 1.8 format so any HDF5 >= 1.8 reads them).
PropList memory_fapl();
// Access properties for a reader that takes no lock (files are only ever replaced, never
// modified in place).
PropList unlocked_read_fapl();
// The in-memory file's current image (flushed), to be written with write_file_atomically
// (file_writer.hpp), possibly on another thread. Errors start with `what`.
std::vector<char> file_image(Id file, const std::string& what);
// Replaces `path` by the in-memory file's current image atomically and durably: write
// "<path>.tmp", fsync, rename over `path`, fsync the directory. Readers and crashes see the old
// or the new complete file, never a partial one. Errors start with `what`.
void write_image_atomically(Id file, const std::string& path, const std::string& what);

}  // namespace rlmpi::io::h5
