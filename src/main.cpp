// The rlmpi executable: the built-in environments and the whole command line.
#include "rlmpi/rlmpi.hpp"

int main(int argc, char** argv) { return rlmpi::main(argc, argv); }
