#!/bin/sh
# Installs the zccache CMake package (zccacheConfig.cmake & co.) so find_package(zccache) works.
#
#   cmake/install.sh [<prefix> [<path/to/zccache binary>]]
#
# <prefix> defaults to the prefix of the zccache found on PATH (e.g. ~/.cargo after
# `cargo install`), else ~/.local. With a binary, it is copied to <prefix>/bin as well.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-}
if [ -z "$prefix" ]; then
  if found=$(command -v zccache 2>/dev/null); then
    prefix=$(dirname "$(dirname "$found")")
  else
    prefix="$HOME/.local"
  fi
fi
if [ $# -ge 2 ]; then
  exec cmake "-DPREFIX=$prefix" "-DZCCACHE_BINARY=$2" -P "$here/install.cmake"
fi
exec cmake "-DPREFIX=$prefix" -P "$here/install.cmake"
