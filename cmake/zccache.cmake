# zccache.cmake — route every C/C++ (and CUDA/OBJC/OBJCXX) compile of a CMake project through
# the zccache compiler cache.
#
# Usage, one line (recommended placement: right after project()):
#
#   project(my_project C CXX)
#   include(path/to/zccache.cmake)        # or: find_package(zccache) + zccache_enable()
#
# What including this file does:
#   * finds the `zccache` binary (find_program; override with -DZCCACHE_PROGRAM=/path/to/zccache),
#   * sets CMAKE_<LANG>_COMPILER_LAUNCHER to it for every enabled language among
#     C, CXX, CUDA, OBJC, OBJCXX (Ninja and Makefile generators), or wraps
#     CMAKE_XCODE_ATTRIBUTE_CC/CXX through a generated launcher script (Xcode),
#   * with -DZCCACHE_LINKS=ON (CMake >= 3.21), also sets CMAKE_C_LINKER_LAUNCHER and
#     CMAKE_CXX_LINKER_LAUNCHER, so links of executables and shared libraries are cached too
#     (a link zccache cannot key passes through uncached), and archives static libraries
#     through `zccache ar qcs` (the same bytes as CMake's `ar qc` + `ranlib`) unless the
#     archive rules were changed,
#   * prints one status line saying what it did.
#   Languages enabled later (enable_language(), a later project()) are handled when CMake loads
#   them; you can also call zccache_enable() again yourself at any point.
#
# It never takes over what the user chose:
#   * a launcher already set (-DCMAKE_CXX_COMPILER_LAUNCHER=..., set() before the include, or
#     the CMAKE_<LANG>_COMPILER_LAUNCHER environment variable) is kept as is — so zccache is
#     never wrapped twice and never wraps ccache/sccache/distcc,
#   * a compiler that is itself a cache (CC="ccache gcc", a ccache masquerade symlink such as
#     /usr/lib/ccache/gcc, sccache, zccache) is not wrapped,
#   * -DZCCACHE_ENABLE=OFF, or ZCCACHE_DISABLE=1 in the environment at configure time, turns it
#     off; ZCCACHE_DISABLE=1 at build time makes zccache itself a pass-through,
#   * when zccache is not installed the project still configures and builds (with a warning),
#   * the Visual Studio generators are not supported yet (a warning; the build is unaffected).
#
# Including this file twice is harmless (include_guard); zccache_enable() is idempotent.
#
#   zccache_enable([LANGUAGES <lang>...] [QUIET])
#     Applies the above to the given languages (default: every enabled supported language) in
#     the calling scope. Call it from directory scope (not from inside your own function) so
#     the launcher variables reach the targets defined afterwards.
#
# Cache variables:  ZCCACHE_ENABLE (BOOL, ON), ZCCACHE_PROGRAM (FILEPATH, found automatically).
# Read-only result: ZCCACHE_LAUNCHED_LANGUAGES — languages routed through zccache by this module.
#
# Installed as a package (see cmake/install.sh), find_package(zccache) loads this same file
# through zccacheConfig.cmake without enabling anything; call zccache_enable() after it.

cmake_minimum_required(VERSION 3.10)
include_guard(DIRECTORY)
# include() pushes a policy scope for this file; functions defined here record these settings.
cmake_policy(VERSION 3.10...3.31)

option(ZCCACHE_ENABLE "Route C/C++ compiles through the zccache compiler cache" ON)
option(ZCCACHE_LINKS "Also route C/C++ links of executables and shared libraries through zccache (CMake >= 3.21)" OFF)

# Looks a bare program name up on PATH without leaving a cache entry behind.
function(_zccache_which name out_var)
  unset(_ZCCACHE_WHICH_TMP CACHE)
  find_program(_ZCCACHE_WHICH_TMP NAMES "${name}")
  set(${out_var} "${_ZCCACHE_WHICH_TMP}" PARENT_SCOPE)
  unset(_ZCCACHE_WHICH_TMP CACHE)
endfunction()

# Finds zccache once per configure; sets _zccache_program (empty when unusable) in the caller.
function(_zccache_find_program)
  set(_hints)
  if(DEFINED ZCCACHE_HINT_DIRS)
    list(APPEND _hints ${ZCCACHE_HINT_DIRS})
  endif()
  if(DEFINED ENV{CARGO_HOME})
    list(APPEND _hints "$ENV{CARGO_HOME}/bin")
  endif()
  if(DEFINED ENV{HOME})
    list(APPEND _hints "$ENV{HOME}/.cargo/bin" "$ENV{HOME}/.local/bin")
  endif()
  find_program(ZCCACHE_PROGRAM NAMES zccache HINTS ${_hints}
    DOC "Path of the zccache binary used as the compiler launcher")
  set(_prog "${ZCCACHE_PROGRAM}")
  if(_prog AND NOT IS_ABSOLUTE "${_prog}")
    # -DZCCACHE_PROGRAM=zccache (a bare name): look it up on PATH.
    _zccache_which("${_prog}" _prog)
  endif()
  if(_prog AND EXISTS "${_prog}" AND NOT IS_DIRECTORY "${_prog}")
    set(_zccache_program "${_prog}" PARENT_SCOPE)
  else()
    set(_zccache_program "" PARENT_SCOPE)
  endif()
endfunction()

# True (in out_var) when `path` names a compiler cache/launcher tool, directly or through a
# symlink (ccache "masquerade" directories like /usr/lib/ccache/gcc -> ../../bin/ccache).
function(_zccache_is_cache_tool path out_var)
  set(_result FALSE)
  if(path)
    get_filename_component(_name "${path}" NAME_WE)
    string(TOLOWER "${_name}" _name)
    set(_real "${path}")
    if(NOT IS_ABSOLUTE "${path}")
      _zccache_which("${path}" _found)
      if(_found)
        set(_real "${_found}")
      endif()
    endif()
    get_filename_component(_real "${_real}" REALPATH)
    get_filename_component(_real_name "${_real}" NAME_WE)
    string(TOLOWER "${_real_name}" _real_name)
    # Compiler caches/launchers themselves: never wrapped by zccache.
    foreach(_tool ccache sccache zccache buildcache distcc icecc)
      if(_name STREQUAL _tool OR _real_name STREQUAL _tool)
        set(_result TRUE)
      endif()
    endforeach()
  endif()
  set(${out_var} ${_result} PARENT_SCOPE)
endfunction()

# Writes the Xcode launcher script for one compiler; sets out_var to its path.
function(_zccache_xcode_script lang compiler out_var)
  string(TOLOWER "${lang}" _lower)
  set(_script "${CMAKE_BINARY_DIR}/CMakeFiles/zccache/launch-${_lower}")
  set(_content "#!/bin/sh
# Generated by zccache.cmake: Xcode compiler launcher for ${lang}.
# Runs the compile through zccache, or directly when zccache is no longer installed.
if [ -x \"${_zccache_program}\" ]; then
  exec \"${_zccache_program}\" \"${compiler}\" \"$@\"
fi
exec \"${compiler}\" \"$@\"
")
  set(_old "")
  if(EXISTS "${_script}")
    file(READ "${_script}" _old)
  endif()
  if(NOT _old STREQUAL _content)
    file(WRITE "${_script}" "${_content}")
  endif()
  execute_process(COMMAND chmod 755 "${_script}" RESULT_VARIABLE _rc)
  set(${out_var} "${_script}" PARENT_SCOPE)
endfunction()

# zccache_enable([LANGUAGES <lang>...] [QUIET]) — see the header comment.
function(zccache_enable)
  cmake_parse_arguments(_arg "QUIET" "" "LANGUAGES" ${ARGN})
  # The languages whose compiles zccache routes.
  set(_supported C CXX CUDA OBJC OBJCXX)
  get_property(_enabled GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(_arg_LANGUAGES)
    set(_langs ${_arg_LANGUAGES})
  else()
    set(_langs)
    foreach(_lang IN LISTS _supported)
      if(_lang IN_LIST _enabled)
        list(APPEND _langs ${_lang})
      endif()
    endforeach()
  endif()
  set(_launched ${ZCCACHE_LAUNCHED_LANGUAGES})

  # Nothing to do at all: say why once.
  set(_off_reason "")
  set(_off_level STATUS)
  set(_unused "${ZCCACHE_PROGRAM}") # a -DZCCACHE_PROGRAM=... is "used" even when turned off
  if(NOT ZCCACHE_ENABLE)
    set(_off_reason "disabled (ZCCACHE_ENABLE=OFF)")
  elseif(NOT "$ENV{ZCCACHE_DISABLE}" STREQUAL "" AND NOT "$ENV{ZCCACHE_DISABLE}" MATCHES "^(0|[Ff][Aa][Ll][Ss][Ee]|[Nn][Oo]|[Oo][Ff][Ff])$")
    set(_off_reason "disabled (ZCCACHE_DISABLE is set in the environment)")
  elseif(CMAKE_GENERATOR MATCHES "^Visual Studio|^Green Hills")
    set(_off_reason "the ${CMAKE_GENERATOR} generator is not supported yet; building without a compiler cache (use -G Ninja to get caching)")
    set(_off_level WARNING)
  endif()
  if(_off_reason STREQUAL "")
    _zccache_find_program()
    if(NOT _zccache_program)
      set(_off_reason "the zccache binary was not found (ZCCACHE_PROGRAM=${ZCCACHE_PROGRAM}); building without a compiler cache. Install zccache or pass -DZCCACHE_PROGRAM=/path/to/zccache.")
      set(_off_level WARNING)
    endif()
  endif()

  if(_off_reason STREQUAL "")
    # Languages enabled later (a later project() or enable_language()) are set up as CMake
    # loads them: CMake<LANG>Information.cmake sets CMAKE_<LANG>_INFORMATION_LOADED last.
    get_property(_watching GLOBAL PROPERTY _ZCCACHE_WATCHING)
    if(NOT _watching)
      set_property(GLOBAL PROPERTY _ZCCACHE_WATCHING TRUE)
      foreach(_lang IN LISTS _supported)
        if(NOT _lang IN_LIST _enabled)
          variable_watch(CMAKE_${_lang}_INFORMATION_LOADED _zccache_on_language_loaded)
        endif()
      endforeach()
    endif()
  endif()

  set(_done)       # languages now routed through zccache
  set(_linked)     # languages whose links are routed through zccache (ZCCACHE_LINKS)
  set(_kept)       # "<LANG> (reason)" left alone
  foreach(_lang IN LISTS _langs)
    set(_var CMAKE_${_lang}_COMPILER_LAUNCHER)
    set(_current "${${_var}}")
    set(_ours FALSE)
    if(_lang IN_LIST _launched AND _current STREQUAL _ZCCACHE_LAUNCHER_SET)
      set(_ours TRUE)
    endif()
    set(_compiler "${CMAKE_${_lang}_COMPILER}")
    set(_compiler_is_cache FALSE)
    if(_compiler)
      _zccache_is_cache_tool("${_compiler}" _compiler_is_cache)
    endif()

    if(NOT _off_reason STREQUAL "")
      if(_ours)
        # Turned off since we set it (e.g. ZCCACHE_ENABLE flipped mid-configure): undo.
        set(${_var} "" PARENT_SCOPE)
        list(REMOVE_ITEM _launched ${_lang})
      endif()
    elseif(_compiler_is_cache)
      if(_ours)
        set(${_var} "" PARENT_SCOPE)
        list(REMOVE_ITEM _launched ${_lang})
      endif()
      get_filename_component(_cname "${_compiler}" NAME)
      list(APPEND _kept "${_lang} (compiler ${_cname} is already a cache)")
    elseif(NOT _ours AND NOT "${_current}" STREQUAL "")
      list(GET _current 0 _tool)
      get_filename_component(_tool "${_tool}" NAME)
      list(APPEND _kept "${_lang} (keeps launcher ${_tool})")
    elseif(NOT _ours AND NOT "$ENV{${_var}}" STREQUAL "")
      # CMake >= 3.17 initializes the launcher from this environment variable itself.
      list(APPEND _kept "${_lang} (keeps launcher $ENV{${_var}} from the environment)")
    elseif(CMAKE_GENERATOR STREQUAL "Xcode")
      if(_lang STREQUAL "C" OR _lang STREQUAL "CXX")
        if(_lang STREQUAL "C")
          set(_attr CC)
        else()
          set(_attr CXX)
        endif()
        set(_current_attr "${CMAKE_XCODE_ATTRIBUTE_${_attr}}")
        if(NOT _current_attr STREQUAL "" AND NOT _current_attr MATCHES "/CMakeFiles/zccache/launch-")
          list(APPEND _kept "${_lang} (keeps CMAKE_XCODE_ATTRIBUTE_${_attr})")
        elseif(_compiler)
          _zccache_xcode_script(${_lang} "${_compiler}" _script)
          if(_lang STREQUAL "C")
            set(CMAKE_XCODE_ATTRIBUTE_CC "${_script}" PARENT_SCOPE)
            set(CMAKE_XCODE_ATTRIBUTE_LD "${_compiler}" PARENT_SCOPE)
          else()
            set(CMAKE_XCODE_ATTRIBUTE_CXX "${_script}" PARENT_SCOPE)
            set(CMAKE_XCODE_ATTRIBUTE_LDPLUSPLUS "${_compiler}" PARENT_SCOPE)
          endif()
          list(APPEND _done ${_lang})
          list(APPEND _launched ${_lang})
        endif()
      endif()
      # Xcode compiles OBJC/OBJCXX with CC/CXX, wrapped when C/CXX are.
    else()
      set(${_var} "${_zccache_program}" PARENT_SCOPE)
      list(APPEND _done ${_lang})
      # Links too, when asked (CMake >= 3.21 has link launchers; a user's is kept).
      set(_lvar CMAKE_${_lang}_LINKER_LAUNCHER)
      if(ZCCACHE_LINKS AND (_lang STREQUAL "C" OR _lang STREQUAL "CXX")
         AND NOT CMAKE_VERSION VERSION_LESS 3.21
         AND ("${${_lvar}}" STREQUAL "" OR "${${_lvar}}" STREQUAL "${_zccache_program}")
         AND "$ENV{${_lvar}}" STREQUAL "")
        set(${_lvar} "${_zccache_program}" PARENT_SCOPE)
        list(APPEND _linked ${_lang})
      endif()
      # Static libraries too: `ar` through zccache. CMake's default rule runs `ar qc` then
      # `ranlib`, which rewrites the archive (as slow as `ar` itself); `ar qcs` writes the
      # same bytes in one step, so the cached step is the whole rule. Rules a user or a
      # toolchain file changed are left alone.
      if(ZCCACHE_LINKS AND (_lang STREQUAL "C" OR _lang STREQUAL "CXX")
         AND "${CMAKE_${_lang}_ARCHIVE_CREATE}" STREQUAL "<CMAKE_AR> qc <TARGET> <LINK_FLAGS> <OBJECTS>"
         AND "${CMAKE_${_lang}_ARCHIVE_APPEND}" STREQUAL "<CMAKE_AR> q <TARGET> <LINK_FLAGS> <OBJECTS>"
         AND "${CMAKE_${_lang}_ARCHIVE_FINISH}" STREQUAL "<CMAKE_RANLIB> <TARGET>")
        set(CMAKE_${_lang}_ARCHIVE_CREATE
            "\"${_zccache_program}\" <CMAKE_AR> qcs <TARGET> <LINK_FLAGS> <OBJECTS>" PARENT_SCOPE)
        # A long object list is archived in chunks: `s` keeps the index complete.
        set(CMAKE_${_lang}_ARCHIVE_APPEND
            "\"${_zccache_program}\" <CMAKE_AR> qs <TARGET> <LINK_FLAGS> <OBJECTS>" PARENT_SCOPE)
        set(CMAKE_${_lang}_ARCHIVE_FINISH "" PARENT_SCOPE)
      endif()
      if(NOT _lang IN_LIST _launched)
        list(APPEND _launched ${_lang})
      endif()
    endif()
  endforeach()
  if(_done)
    list(REMOVE_DUPLICATES _done)
  endif()
  if(_launched)
    list(REMOVE_DUPLICATES _launched)
  endif()
  set(ZCCACHE_LAUNCHED_LANGUAGES "${_launched}" PARENT_SCOPE)
  if(_zccache_program)
    # Remembers which launcher value is ours, to tell it from a user's on later calls.
    set(_ZCCACHE_LAUNCHER_SET "${_zccache_program}" PARENT_SCOPE)
  endif()

  # One status line saying what happened.
  if(NOT _off_reason STREQUAL "")
    if(_off_level STREQUAL "WARNING" OR NOT _arg_QUIET)
      message(${_off_level} "zccache: ${_off_reason}")
    endif()
  elseif(NOT _arg_QUIET)
    set(_parts)
    if(_done)
      string(REPLACE ";" ", " _d "${_done}")
      if(CMAKE_GENERATOR STREQUAL "Xcode")
        list(APPEND _parts "${_d} compiles go through ${_zccache_program} (Xcode launcher scripts)")
      else()
        list(APPEND _parts "${_d} compiles go through ${_zccache_program}")
      endif()
    endif()
    if(_linked)
      list(REMOVE_DUPLICATES _linked)
      string(REPLACE ";" ", " _l "${_linked}")
      list(APPEND _parts "${_l} links go through ${_zccache_program}")
    endif()
    if(_kept)
      string(REPLACE ";" ", " _k "${_kept}")
      list(APPEND _parts "left alone: ${_k}")
    endif()
    # Nothing enabled yet (included before project()): each language reports when enabled.
    if(_parts)
      string(REPLACE ";" "; " _msg "${_parts}")
      message(STATUS "zccache: ${_msg}")
    endif()
  endif()
endfunction()

# Called by CMake (variable_watch) in the scope that enables a language, once CMake has loaded
# that language's compiler information: routes a language enabled after the include.
macro(_zccache_on_language_loaded _zccache_var _zccache_access)
  if("${_zccache_access}" STREQUAL "MODIFIED_ACCESS")
    string(REGEX REPLACE "^CMAKE_(.*)_INFORMATION_LOADED$" "\\1" _zccache_lang "${_zccache_var}")
    if(ZCCACHE_ENABLE)
      zccache_enable(LANGUAGES ${_zccache_lang})
    endif()
    unset(_zccache_lang)
  endif()
endmacro()

if(NOT _ZCCACHE_DEFINE_ONLY)
  zccache_enable()
endif()
