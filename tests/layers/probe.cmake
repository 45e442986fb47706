# Builds one layer probe (tests/layers/CMakeLists.txt) and checks that it fails for the right
# reason ("No such file": the layer cannot see the header) or builds.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXPECT STREQUAL "fails")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} built, but its include crosses the layers and must not compile")
  endif()
  if(NOT "${out}${err}" MATCHES "No such file or directory")
    message(FATAL_ERROR "${TARGET} failed for another reason than a missing header:\n${out}\n${err}")
  endif()
  message("${TARGET}: refused as it should be (header not visible from the layer)")
elseif(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} must build:\n${out}\n${err}")
else()
  message("${TARGET}: builds")
endif()
