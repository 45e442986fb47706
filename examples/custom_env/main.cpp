// A program with the whole rlmpi command line and two environments of its own:
//   mpirun -np 2 ./my_rlmpi --env PointMass-v0 --epochs 30
//   ./my_rlmpi envs
#include <memory>

#include <rlmpi/rlmpi.hpp>

#include "corridor.hpp"
#include "point_mass.hpp"

int main(int argc, char** argv) {
  rlmpi::register_env("PointMass-v0", [] { return std::make_unique<PointMass>(); });
  rlmpi::register_env("Corridor-v0", [] { return std::make_unique<Corridor>(); });
  return rlmpi::main(argc, argv);
}
