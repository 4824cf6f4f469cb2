#!/usr/bin/env bash
# Benchmark: rebuild googletest (gtest + gmock, through cmake/zccache.cmake) from a clean build dir
# with a warm cache, compared with a bare build and with ccache as the launcher.
#
#   bench/cmake_googletest.sh            # uses target/release/zccache
#   ZCCACHE=/path/to/zccache RUNS=10 JOBS=8 GENERATOR=Ninja bench/cmake_googletest.sh
#
# Environment: ZCCACHE (zccache binary, default target/release/zccache), GTEST_SRC (default
# /usr/src/googletest), RUNS (default 3), JOBS (default: nproc), GENERATOR (default Ninja),
# BUILD_TYPE (default Release; empty for none), KEEP=1 keeps the scratch dir.
# Only `cmake --build` is timed; every run starts from a freshly configured, empty build dir.
# Uses hyperfine when installed (mean ± σ, table with ratios), else one timed run per variant.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
zccache=${ZCCACHE:-$here/target/release/zccache}
gtest_src=${GTEST_SRC:-/usr/src/googletest}
runs=${RUNS:-3}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
generator=${GENERATOR:-Ninja}
build_type=${BUILD_TYPE-Release}

case $zccache in /*) ;; *) zccache=$PWD/$zccache ;; esac
[ -x "$zccache" ] || { echo "zccache binary not found at $zccache (set ZCCACHE=...)" >&2; exit 1; }
[ -f "$gtest_src/CMakeLists.txt" ] || { echo "googletest sources not found at $gtest_src (set GTEST_SRC=...)" >&2; exit 1; }
for tool in cmake ccache; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/zccache-bench.XXXXXX")
export ZCCACHE_DIR=$work/zccache-dir CCACHE_DIR=$work/ccache-dir
cleanup() {
  "$zccache" stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
unset ZCCACHE_DISABLE CMAKE_C_COMPILER_LAUNCHER CMAKE_CXX_COMPILER_LAUNCHER CC CXX

mkdir -p "$work/proj"
cat >"$work/proj/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(zccache_bench C CXX)
include("$here/cmake/zccache.cmake")
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
add_subdirectory("$gtest_src" googletest)
EOF

# Per variant: the extra configure arguments.
declare -A args=(
  [bare]="-DZCCACHE_ENABLE=OFF"
  [ccache]="-DZCCACHE_PROGRAM=$zccache -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  [zccache]="-DZCCACHE_PROGRAM=$zccache"
)
variants=(bare ccache zccache)

configure() { # <variant>
  rm -rf "$work/build-$1"
  # shellcheck disable=SC2086
  cmake -S "$work/proj" -B "$work/build-$1" -G "$generator" -DCMAKE_BUILD_TYPE="$build_type" \
    ${args[$1]} >/dev/null
}
build() { cmake --build "$work/build-$1" -j "$jobs" >/dev/null; }

echo "googletest rebuild from a clean build dir: $generator, build type ${build_type:-(none)}, -j$jobs, $runs runs"
echo "zccache: $zccache ($("$zccache" --version 2>/dev/null | head -1 || echo '?'))"
echo "ccache:  $(command -v ccache) ($(ccache --version | head -1))"

# Warm both caches (and zccache's daemon) with one build each.
for v in ccache zccache; do configure "$v"; build "$v"; done
"$zccache" stats --zero >/dev/null 2>&1 || true
ccache -z >/dev/null

if command -v hyperfine >/dev/null; then
  cmds=()
  for v in "${variants[@]}"; do
    b=$work/build-$v
    # shellcheck disable=SC2086
    prep=$(printf '%q ' rm -rf "$b")"&& "$(printf '%q ' cmake -S "$work/proj" -B "$b" -G "$generator" \
      -DCMAKE_BUILD_TYPE="$build_type" ${args[$v]})">/dev/null"
    cmds+=(--command-name "$v" --prepare "$prep" "$(printf '%q ' cmake --build "$b" -j "$jobs")")
  done
  hyperfine --style basic --runs "$runs" --export-markdown "$work/table.md" "${cmds[@]}" >&2
  echo
  cat "$work/table.md"
else
  printf '\n| variant | build [s] | relative to bare |\n|:---|---:|---:|\n'
  bare=""
  for v in "${variants[@]}"; do
    configure "$v"
    t0=$(date +%s.%N); build "$v"; t1=$(date +%s.%N)
    t=$(echo "$t1 - $t0" | bc -l)
    [ -n "$bare" ] || bare=$t
    printf '| %s | %.2f | %.2f |\n' "$v" "$t" "$(echo "$t / $bare" | bc -l)"
  done
fi
echo
echo "zccache after the timed runs: $("$zccache" stats --json 2>/dev/null | tr -d '\n' || echo 'stats unavailable')"
ccache --print-stats 2>/dev/null | awk -F'\t' '
  $1=="direct_cache_hit"||$1=="preprocessed_cache_hit"{h+=$2} $1=="cache_miss"{m=$2}
  END{printf "ccache after the timed runs: hits %d, misses %d\n", h, m}'
