# SPDX-License-Identifier: Apache-2.0
# The packaging recipes cannot run here (no vcpkg, no Conan, no network); this checks what they rely on:
# vcpkg.json is valid JSON with the version of version.hpp, the portfile's CONFIG_PATH is where the install puts
# sinterConfig.cmake, and conanfile.py reads the version from version.hpp and packages the files CMake installs.
cmake_minimum_required(VERSION 3.21)
file(READ ${SOURCE_DIR}/include/sinter/version.hpp version_hpp)
string(REGEX MATCH "SINTER_VERSION_STRING \"([^\"]+)\"" _ "${version_hpp}")
set(version ${CMAKE_MATCH_1})
file(READ ${SOURCE_DIR}/ports/vcpkg/sinter/vcpkg.json manifest)
string(JSON port_version GET "${manifest}" version)
string(JSON port_license GET "${manifest}" license)
if(NOT port_version STREQUAL version OR NOT port_license STREQUAL "Apache-2.0")
  message(FATAL_ERROR "vcpkg.json says ${port_version} (${port_license}); version.hpp says ${version}")
endif()
file(READ ${SOURCE_DIR}/ports/vcpkg/sinter/portfile.cmake portfile)
string(REGEX MATCH "CONFIG_PATH ([^ )]+)" _ "${portfile}")
set(config_path ${CMAKE_MATCH_1})
file(READ ${SOURCE_DIR}/conanfile.py conanfile)
foreach(needle "package_type = \"header-library\"" "version.hpp" "share\", \"cmake\", \"sinter\"")
  string(FIND "${conanfile}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "conanfile.py lacks ${needle}")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lib -DSINTER_BUILD_TESTS=OFF
                        -DSINTER_BUILD_EXAMPLES=OFF -DSINTER_NATIVE=OFF -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${WORK_DIR}/lib RESULT_VARIABLE rc2 OUTPUT_QUIET)
if(NOT rc EQUAL 0 OR NOT rc2 EQUAL 0 OR NOT EXISTS ${WORK_DIR}/prefix/${config_path}/sinterConfig.cmake)
  message(FATAL_ERROR "the install does not put sinterConfig.cmake under ${config_path}, where the vcpkg port looks")
endif()
message("recipes: version ${version}, config under ${config_path}")
