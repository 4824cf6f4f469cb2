# install.cmake — installs the zccache CMake package so find_package(zccache) works.
#
#   cmake -DPREFIX=<prefix> [-DZCCACHE_BINARY=<path/to/zccache>] [-DZCCACHE_VERSION=<x.y.z>] \
#         -P cmake/install.cmake
#
# Writes <prefix>/lib/cmake/zccache/{zccacheConfig,zccacheConfigVersion,zccache}.cmake and, when
# ZCCACHE_BINARY is given, copies the binary to <prefix>/bin/zccache. find_package() searches
# <prefix>/lib/cmake/ for every <prefix>/bin on PATH and for CMAKE_PREFIX_PATH entries, so
# installing next to the binary (e.g. PREFIX=~/.cargo after `cargo install`) needs no setup.
# cmake/install.sh is a shell shortcut for this script.

cmake_minimum_required(VERSION 3.14)

if(NOT DEFINED PREFIX OR PREFIX STREQUAL "")
  message(FATAL_ERROR "usage: cmake -DPREFIX=<prefix> [-DZCCACHE_BINARY=<zccache>] -P ${CMAKE_CURRENT_LIST_FILE}")
endif()
get_filename_component(PREFIX "${PREFIX}" ABSOLUTE)
set(_src "${CMAKE_CURRENT_LIST_DIR}")
set(_dest "${PREFIX}/lib/cmake/zccache")

if(DEFINED ZCCACHE_BINARY AND NOT ZCCACHE_BINARY STREQUAL "")
  if(NOT EXISTS "${ZCCACHE_BINARY}")
    message(FATAL_ERROR "ZCCACHE_BINARY=${ZCCACHE_BINARY} does not exist")
  endif()
  file(INSTALL "${ZCCACHE_BINARY}" DESTINATION "${PREFIX}/bin" RENAME zccache
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                     WORLD_READ WORLD_EXECUTE)
endif()

# The package version: given, else asked from the binary, else read from the source Cargo.toml.
if(NOT ZCCACHE_VERSION)
  set(_bin "")
  if(ZCCACHE_BINARY)
    set(_bin "${ZCCACHE_BINARY}")
  elseif(EXISTS "${PREFIX}/bin/zccache")
    set(_bin "${PREFIX}/bin/zccache")
  endif()
  if(_bin)
    execute_process(COMMAND "${_bin}" --version OUTPUT_VARIABLE _out ERROR_QUIET
      RESULT_VARIABLE _rc TIMEOUT 20)
    if(_rc EQUAL 0 AND _out MATCHES "zccache[^0-9\n]*([0-9]+\\.[0-9]+\\.[0-9]+)")
      set(ZCCACHE_VERSION "${CMAKE_MATCH_1}")
    endif()
  endif()
endif()
if(NOT ZCCACHE_VERSION AND EXISTS "${_src}/../Cargo.toml")
  file(STRINGS "${_src}/../Cargo.toml" _lines REGEX "^version *= *\"[0-9]")
  if(_lines)
    list(GET _lines 0 _line)
    string(REGEX REPLACE "^version *= *\"([^\"]+)\".*" "\\1" ZCCACHE_VERSION "${_line}")
  endif()
endif()
if(NOT ZCCACHE_VERSION)
  set(ZCCACHE_VERSION 0.0.0)
  message(WARNING "could not determine the zccache version; writing ${ZCCACHE_VERSION} (pass -DZCCACHE_VERSION=...)")
endif()

file(INSTALL "${_src}/zccache.cmake" "${_src}/zccacheConfig.cmake" DESTINATION "${_dest}")
include(CMakePackageConfigHelpers)
write_basic_package_version_file("${_dest}/zccacheConfigVersion.cmake"
  VERSION "${ZCCACHE_VERSION}" COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
message(STATUS "zccache ${ZCCACHE_VERSION} CMake package installed in ${_dest}")
