# zccacheConfig.cmake — package config for the zccache compiler cache.
#
#   find_package(zccache)            # after project(); add REQUIRED to insist on it
#   zccache_enable()                 # route C/C++/CUDA/OBJC/OBJCXX compiles through zccache
#
# find_package() itself changes nothing about the build: it finds the zccache binary and defines
# zccache_enable([LANGUAGES <lang>...] [QUIET]) (documented in zccache.cmake, installed next to
# this file). Results:
#   zccache_FOUND        TRUE when the zccache binary was found
#   ZCCACHE_PROGRAM      cache variable: the zccache binary (override with -DZCCACHE_PROGRAM=...)
#   zccache_EXECUTABLE   same path, for scripts
#   zccache::zccache     imported executable target
#
# Installed layout: <prefix>/lib/cmake/zccache/{zccacheConfig,zccacheConfigVersion,zccache}.cmake
# with the binary in <prefix>/bin (see install.sh / install.cmake). Pointing zccache_DIR at the
# source tree's cmake/ directory works too.

# <prefix>/lib/cmake/zccache -> <prefix>/bin is the first place to look for the binary.
get_filename_component(_zccache_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(ZCCACHE_HINT_DIRS "${_zccache_prefix}/bin")
unset(_zccache_prefix)

set(_ZCCACHE_DEFINE_ONLY TRUE)
include("${CMAKE_CURRENT_LIST_DIR}/zccache.cmake")
unset(_ZCCACHE_DEFINE_ONLY)

_zccache_find_program()
if(_zccache_program)
  set(zccache_EXECUTABLE "${_zccache_program}")
  if(NOT TARGET zccache::zccache)
    add_executable(zccache::zccache IMPORTED)
    set_target_properties(zccache::zccache PROPERTIES IMPORTED_LOCATION "${_zccache_program}")
  endif()
else()
  set(zccache_FOUND FALSE)
  set(zccache_NOT_FOUND_MESSAGE
    "the zccache CMake package is installed but its binary was not found (ZCCACHE_PROGRAM=${ZCCACHE_PROGRAM}); install zccache or pass -DZCCACHE_PROGRAM=/path/to/zccache")
endif()
unset(_zccache_program)
