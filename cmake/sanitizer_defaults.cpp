// Linked into every executable of a sanitizer build (RLMPI_SANITIZE): default runtime options,
// so `ctest`, `mpirun build-asan/rlmpi ...` and the tests' child processes need no environment.
//
// - intercept_tls_get_addr=0: GCC 12's sanitizer runtime misreads some dynamic-TLS blocks as
//   glibc-2.19 headers and LeakSanitizer's tracer then dies with "Tracer caught signal 11" once
//   OpenMPI is loaded (google/sanitizers#1322; fixed in later runtimes).
// - fast_unwind_on_malloc=0: OpenMPI is built without frame pointers and dlopens its components;
//   only the slow unwinder reaches the libmpi frame that the suppressions below match.
// - OpenMPI does not free what MPI_Init allocates (122 kB in 3,357 blocks for an empty
//   MPI_Init/MPI_Finalize program), so leaks with a frame in OpenMPI or the libraries it runs
//   (libevent, PMIx, hwloc) are suppressed; leaks in our own code are still reported.
extern "C" {

// NOLINTBEGIN: names and signatures fixed by the sanitizer runtime.
const char* __asan_default_options() { return "intercept_tls_get_addr=0:fast_unwind_on_malloc=0"; }

// Keep stderr to what rlmpi prints (the CLI tests count its lines).
const char* __lsan_default_options() { return "print_suppressions=0"; }

const char* __lsan_default_suppressions() {
  return "leak:libmpi.so\n"
         "leak:libopen-pal.so\n"
         "leak:libopen-rte.so\n"
         // OpenMPI's progress thread (libevent loop of its dlopened, then unloaded, components)
         "leak:libevent_core\n"
         "leak:libpmix.so\n"
         "leak:libhwloc.so\n";
}
// NOLINTEND
}
