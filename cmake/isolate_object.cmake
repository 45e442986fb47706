# cmake -DIN=<object> -DOUT=<object> -DKEEP=<symbol> -DOBJCOPY=<objcopy> -DNM=<nm> -P isolate_object.cmake
#
# Makes every symbol of IN local except KEEP, and drops its COMDAT groups (template and inline
# functions are emitted in groups that the linker deduplicates by name even when their symbols
# are local): the object's own copies of Eigen's templates, compiled for one instruction set,
# can then never replace, or be replaced by, another object's copies compiled for another.
# Fails unless KEEP is the only symbol OUT defines globally.
execute_process(COMMAND "${OBJCOPY}" --remove-section=.group --keep-global-symbol=${KEEP} "${IN}" "${OUT}"
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "objcopy failed on ${IN}: ${err}")
endif()
execute_process(COMMAND "${NM}" -g --defined-only "${OUT}" OUTPUT_VARIABLE globals RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${OUT}")
endif()
string(REGEX REPLACE "[^\n]* [A-Za-z] ${KEEP}\n" "" rest "${globals}")
if(NOT rest STREQUAL "" OR NOT globals MATCHES " ${KEEP}\n")
  file(REMOVE "${OUT}")
  message(FATAL_ERROR "${OUT} must define exactly one global symbol, ${KEEP}; it defines:\n${globals}")
endif()
