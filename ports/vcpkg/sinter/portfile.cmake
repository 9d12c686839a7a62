# SPDX-License-Identifier: Apache-2.0
# vcpkg overlay port for sinter, used from a checkout of this repository:
#   vcpkg install sinter --overlay-ports=<sinter>/ports/vcpkg
# Header-only: one release configuration, no binaries, the CMake config moved to share/sinter.
set(VCPKG_BUILD_TYPE release)
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DSINTER_BUILD_TESTS=OFF
    -DSINTER_BUILD_EXAMPLES=OFF
    -DSINTER_BUILD_BENCH=OFF
    -DSINTER_NATIVE=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME sinter CONFIG_PATH share/cmake/sinter)
vcpkg_fixup_pkgconfig()
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug" "${CURRENT_PACKAGES_DIR}/share/doc")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
