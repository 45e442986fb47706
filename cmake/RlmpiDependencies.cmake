# Every dependency through find_package and imported targets. A missing one stops configure
# with the Debian package that provides it (tools/install-deps.sh installs them all).
macro(rlmpi_require name debian_pkg)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "rlmpi: dependency '${name}' not found. Install the Debian package "
      "'${debian_pkg}' (or run tools/install-deps.sh, which installs everything rlmpi needs).")
  endif()
endmacro()

rlmpi_require(MPI "libopenmpi-dev openmpi-bin" COMPONENTS CXX)
rlmpi_require(Eigen3 "libeigen3-dev" 3.4 NO_MODULE)
rlmpi_require(HDF5 "libhdf5-dev" COMPONENTS C)
rlmpi_require(Boost "libboost-program-options-dev" COMPONENTS program_options)
# zlib's crc32 checksums checkpoint attributes (src/io/checkpoint.cpp).
rlmpi_require(ZLIB "zlib1g-dev")
if(NOT TARGET hdf5::hdf5)
  message(FATAL_ERROR "rlmpi: FindHDF5 did not provide the imported target hdf5::hdf5 (need CMake >= 3.19)")
endif()
if(HDF5_IS_PARALLEL)
  message(FATAL_ERROR "rlmpi: found a parallel HDF5 (libhdf5-openmpi-dev). rlmpi writes from rank 0 "
    "with the serial library: install 'libhdf5-dev' and remove 'libhdf5-openmpi-dev'.")
endif()
if(RLMPI_BUILD_TESTS)
  rlmpi_require(doctest "doctest-dev")
endif()
# MuJoCo 2.2.2's package config references OpenGL and Qhull (libgl-dev, libqhull-dev).
rlmpi_require(mujoco "libmujoco-dev libgl-dev libqhull-dev" CONFIG)
