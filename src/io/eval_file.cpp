#include "rlmpi/io/eval_file.hpp"

#include <hdf5.h>

#include <stdexcept>

#include "rlmpi/core/error.hpp"
#include "rlmpi/io/hdf5.hpp"

namespace rlmpi::io {

void write_eval_file(const std::string& path, const Attributes& attrs, std::span<const double> returns,
                     std::span<const long long> lengths) {
  if (returns.size() != lengths.size()) throw std::invalid_argument("eval file: returns and lengths differ in size");
  h5::ErrorSilencer quiet;
  const std::string what = "cannot write evaluation file '" + path + "'";
  try {
    h5::PropList fapl = h5::memory_fapl();
    const std::string mem_name = path + ".mem";  // nothing on disk until the final rename
    h5::File file(h5::check(H5Fcreate(mem_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), what));
    for (const auto& [k, v] : attrs) h5::write_attribute(file.get(), k, v);
    h5::write_attribute(file.get(), "rlmpi_file_format", std::string(kEvalFileFormat));
    const h5::Group g = h5::create_group(file.get(), "episodes");
    const h5::Dataset r = h5::create_extendable<double>(g.get(), "return", 1024);
    const h5::Dataset l = h5::create_extendable<long long>(g.get(), "length", 1024);
    h5::append<double>(r.get(), returns);
    h5::append<long long>(l.get(), lengths);
    h5::write_attribute(r.get(), "description", std::string("undiscounted return of the episode"));
    h5::write_attribute(l.get(), "units", std::string("steps"));
    h5::write_image_atomically(file.get(), path, what);
  } catch (const std::runtime_error& e) {  // h5::Error and the atomic write's errors
    throw UsageError(what + ": " + e.what());
  }
}

}  // namespace rlmpi::io
