#pragma once
// All of rlmpi::nn lives in an inline namespace (transparent to users: rlmpi::nn::Mlp works).
// tests/nn/no_malloc.cpp recompiles the nn sources with EIGEN_RUNTIME_NO_MALLOC and sets
// RLMPI_NN_ABI to another name, so its instrumented copies get different mangled names and can
// never be merged with (or replaced by) the library's uninstrumented ones at link time.
#ifndef RLMPI_NN_ABI
#define RLMPI_NN_ABI v1
#endif
