# Installs the build tree into a fresh prefix and checks that the installed binary finds the
# MJCF models under <prefix>/share/rlmpi/models (and prefers them to the source tree's).
# Usage: cmake -DBUILD_DIR=<build> -DPREFIX=<empty dir to use> -P install_models_test.cmake
set(ids HalfCheetah-v5 Hopper-v5 Walker2d-v5 Swimmer-v5 Ant-v5
        HalfCheetah-v4 Hopper-v4 Walker2d-v4 Swimmer-v4 Ant-v4)
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}): ${err}")
endif()
set(models "${PREFIX}/share/rlmpi/models")
foreach(f half_cheetah hopper walker2d_v4 walker2d_v5 swimmer ant)
  if(NOT EXISTS "${models}/${f}.xml")
    message(FATAL_ERROR "${models}/${f}.xml was not installed")
  endif()
endforeach()

# RLMPI_MODEL_DIR would take precedence: make sure it is not set.
set(run ${CMAKE_COMMAND} -E env --unset=RLMPI_MODEL_DIR "${PREFIX}/bin/rlmpi" envs)
execute_process(COMMAND ${run} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "installed 'rlmpi envs' failed (${rc}): ${err}")
endif()
foreach(id ${ids})
  if(NOT out MATCHES "${id} +1000 ")
    message(FATAL_ERROR "installed 'rlmpi envs' does not list ${id}:\n${out}")
  endif()
endforeach()

# Proof that the prefix's copy is the one loaded: break it and expect a one-line error naming it.
file(WRITE "${models}/hopper.xml" "<mujoco><worldbody><body>\n")
execute_process(COMMAND ${run} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "cannot load MuJoCo model '[^']*share/rlmpi/models/hopper.xml'")
  message(FATAL_ERROR "broken installed model: expected exit 2 naming it, got ${rc}: ${err}${out}")
endif()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "installed models found and used: ${models}")
