# SPDX-License-Identifier: Apache-2.0
# Conan 2 recipe: `conan create .` packages the headers and sinter's CMake config; consumers use
# find_package(sinter) and sinter::sinter as with any other install.
import os
import re

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir


class SinterConan(ConanFile):
    name = "sinter"
    package_type = "header-library"
    license = "Apache-2.0"
    description = "Header-only C++20 deep learning with compile-time fused kernels for SIMD CPUs and CUDA"
    topics = ("deep-learning", "expression-templates", "simd", "cuda", "header-only")
    settings = "os", "arch", "compiler", "build_type"
    options = {"simd": [True], "openmp": [True, False], "cuda": [True, False], "xtensor": [True, False]}
    default_options = {"simd": True, "openmp": True, "cuda": False, "xtensor": False}
    exports_sources = "include/*", "cmake/*", "CMakeLists.txt", "LICENSE"
    no_copy_source = True

    def set_version(self):
        text = load(self, os.path.join(self.recipe_folder, "include", "sinter", "version.hpp"))
        self.version = re.search(r'SINTER_VERSION_STRING "([^"]+)"', text).group(1)

    def requirements(self):
        self.requires("xsimd/[>=8 <14]")
        self.requires("zlib/[>=1.2.11 <2]")
        if self.options.xtensor:
            self.requires("xtensor/[>=0.24 <1]")

    def layout(self):
        cmake_layout(self)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["SINTER_BUILD_TESTS"] = False
        tc.cache_variables["SINTER_BUILD_EXAMPLES"] = False
        tc.cache_variables["SINTER_BUILD_BENCH"] = False
        tc.cache_variables["SINTER_NATIVE"] = False
        tc.generate()

    def package(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.install()
        rmdir(self, os.path.join(self.package_folder, "share", "pkgconfig"))
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))

    def package_id(self):
        self.info.clear()

    def package_info(self):
        # Consumers get sinter's own exported config (targets sinter::sinter, sinter::openmp, sinter::xtensor).
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs.append(os.path.join("share", "cmake", "sinter"))
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        if self.options.openmp and self.settings.os == "Linux":
            self.cpp_info.system_libs.append("gomp")
