#!/usr/bin/env bash
# Benchmark: two checkouts of one CMake+Ninja project in different directories. Checkout A is
# built first (warming the cache), then checkout B is built from a clean build dir and timed:
# how much of A's cache does B reuse, and how fast is B's build compared with a bare build?
#
#   bench/checkouts.sh                                  # Release, target/release/zccache
#   BUILD_TYPE=Debug JOBS=2 RUNS=3 bench/checkouts.sh
#   ZCCACHE=/path/to/zccache CCACHE=/path/to/ccache KEEP=1 bench/checkouts.sh
#
# The project: googletest (copied from GTEST_SRC into each checkout; gtest, gtest_main, gmock,
# gmock_main) plus a few small plain C/C++ files, in two git repos at different depths:
# $work/a/proj (A) and $work/x/y/b/proj (B), each built in its own proj/build-<variant>.
#
# Variants (each with its own, fresh cache dir per run):
#   bare             no launcher
#   zccache          CMAKE_<LANG>_COMPILER_LAUNCHER=zccache, default settings (auto base dir =
#                    the git worktree); objects that embed their checkout's path (__FILE__, e.g.
#                    gtest-all.cc.o) are tied to checkout A and miss in B
#   zccache-remap    the same with ZCCACHE_PATH_REMAP=1 (-ffile-prefix-map=<root>=.)
#   ccache           launcher ccache with CCACHE_BASEDIR=$work (ccache's other settings default)
# Per run and variant: fresh cache dir, configure + build A (not timed; not for bare), zero the
# stats, rm -rf B's build dir, configure B (not timed), time `cmake --build` of B, read the
# stats (zccache: `zccache stats --json` hits/misses; ccache: `ccache --print-stats`,
# hits = direct + preprocessed hits, misses = cache_miss).
#
# Prints (stdout) a markdown table: variant | B build [s] | vs bare | hits | misses
# (time = mean over RUNS, with min–max when RUNS > 1; vs bare = mean / bare's mean; hits and
# misses of B's build, one value per run when they differ). Progress goes to stderr.
#
# Environment: ZCCACHE (default target/release/zccache; not built by this script), CCACHE
# (default: `ccache` on PATH, else bench/lib.sh's pinned ccache), GTEST_SRC (default
# /usr/src/googletest), RUNS (default 1), JOBS (default nproc), BUILD_TYPE (default Release;
# empty for none), VARIANTS (default "bare zccache zccache-remap ccache"), KEEP=1 keeps the
# scratch dir (TMPDIR/zccache-checkouts.XXXXXX).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
zccache=${ZCCACHE:-$here/target/release/zccache}
gtest_src=${GTEST_SRC:-/usr/src/googletest}
runs=${RUNS:-1}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
build_type=${BUILD_TYPE-Release}
read -r -a variants <<<"${VARIANTS:-bare zccache zccache-remap ccache}"

case $zccache in /*) ;; *) zccache=$PWD/$zccache ;; esac
[ -x "$zccache" ] || { echo "zccache binary not found at $zccache (set ZCCACHE=...)" >&2; exit 1; }
[ -f "$gtest_src/CMakeLists.txt" ] || { echo "googletest sources not found at $gtest_src (set GTEST_SRC=...)" >&2; exit 1; }
for tool in cmake ninja git awk; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
ccache_bin=${CCACHE:-$(command -v ccache || true)}
if [ -z "$ccache_bin" ] && [[ " ${variants[*]} " == *" ccache "* ]]; then
  # shellcheck source=bench/lib.sh
  . "$here/bench/lib.sh"
  bench_init_dirs
  bench_ensure_ccache || true
  ccache_bin=${CCACHE_BIN:-}
  [ -n "$ccache_bin" ] || { echo "ccache is not available (set CCACHE=...)" >&2; exit 1; }
fi

# Nothing from the caller's environment may steer the caches or the compilers.
unset ZCCACHE_DISABLE ZCCACHE_BASE_DIR ZCCACHE_PATH_REMAP ZCCACHE_LOG CC CXX CFLAGS CXXFLAGS \
  CMAKE_C_COMPILER_LAUNCHER CMAKE_CXX_COMPILER_LAUNCHER CMAKE_GENERATOR CMAKE_BUILD_TYPE
for v in $(env | sed -n 's/^\(CCACHE_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

work=$(mktemp -d "${TMPDIR:-/tmp}/zccache-checkouts.XXXXXX")
work=$(cd "$work" && pwd -P)
checkout_a=$work/a/proj
checkout_b=$work/x/y/b/proj

stop_daemons() {
  local d
  for d in "$work"/cache-zccache*; do
    [ -d "$d" ] && ZCCACHE_DIR=$d "$zccache" stop >/dev/null 2>&1 || true
  done
}
cleanup() {
  stop_daemons
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- the project, twice -------------------------------------------------------------------
make_checkout() { # <dir>
  local d=$1
  mkdir -p "$d/src"
  cp -r "$gtest_src" "$d/googletest"
  cat >"$d/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(zccache_checkouts C CXX)
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
add_subdirectory(googletest)
add_library(util STATIC src/checksum.c src/stats.cpp)
target_include_directories(util PUBLIC src)
add_executable(app src/main.cpp)
target_link_libraries(app PRIVATE util gtest_main)
EOF
  cat >"$d/src/util.h" <<'EOF'
#pragma once
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
#include <vector>
extern "C" {
#endif
uint32_t checksum(const unsigned char *data, size_t len);
#ifdef __cplusplus
}
double mean(const std::vector<double> &xs);
double stddev(const std::vector<double> &xs);
#endif
EOF
  cat >"$d/src/checksum.c" <<'EOF'
#include "util.h"

uint32_t checksum(const unsigned char *data, size_t len) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < len; i++) {
        a = (a + data[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return (b << 16) | a;
}
EOF
  cat >"$d/src/stats.cpp" <<'EOF'
#include "util.h"
#include <cmath>
#include <numeric>

double mean(const std::vector<double> &xs) {
    return xs.empty() ? 0.0 : std::accumulate(xs.begin(), xs.end(), 0.0) / xs.size();
}

double stddev(const std::vector<double> &xs) {
    double m = mean(xs), acc = 0.0;
    for (double x : xs) acc += (x - m) * (x - m);
    return xs.size() < 2 ? 0.0 : std::sqrt(acc / (xs.size() - 1));
}
EOF
  cat >"$d/src/main.cpp" <<'EOF'
#include "util.h"
#include <cstring>
#include <gtest/gtest.h>

TEST(Util, Checksum) {
    const char *text = "Wikipedia";
    EXPECT_EQ(checksum(reinterpret_cast<const unsigned char *>(text), std::strlen(text)), 0x11E60398u);
}

TEST(Util, Mean) { EXPECT_DOUBLE_EQ(mean({1.0, 2.0, 3.0}), 2.0); }
EOF
  git -C "$d" init -q
}
make_checkout "$checkout_a"
make_checkout "$checkout_b"

# --- variants -----------------------------------------------------------------------------
launcher_args() { # <variant>
  case $1 in
    bare) ;;
    zccache*) echo "-DCMAKE_C_COMPILER_LAUNCHER=$zccache -DCMAKE_CXX_COMPILER_LAUNCHER=$zccache" ;;
    ccache) echo "-DCMAKE_C_COMPILER_LAUNCHER=$ccache_bin -DCMAKE_CXX_COMPILER_LAUNCHER=$ccache_bin" ;;
    *) echo "unknown variant $1" >&2; exit 1 ;;
  esac
}

# Runs "$@" with the variant's cache environment.
with_env() { # <variant> cmd...
  local v=$1; shift
  case $v in
    bare) "$@" ;;
    zccache) ZCCACHE_DIR=$work/cache-$v "$@" ;;
    zccache-remap) ZCCACHE_DIR=$work/cache-$v ZCCACHE_PATH_REMAP=1 "$@" ;;
    ccache) CCACHE_DIR=$work/cache-$v CCACHE_BASEDIR=$work "$@" ;;
  esac
}

log=$work/build.log
run_logged() { # cmd... — quiet unless it fails
  if ! "$@" >"$log" 2>&1; then
    echo "FAILED: $*" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}

configure() { # <variant> <checkout>
  local b=$2/build-$1
  rm -rf "$b"
  # shellcheck disable=SC2046
  run_logged with_env "$1" cmake -S "$2" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
    $(launcher_args "$1")
}
build() { run_logged with_env "$1" cmake --build "$2/build-$1" -j "$jobs"; }

fresh_cache() { # <variant>
  local d=$work/cache-$1
  case $1 in zccache*) [ -d "$d" ] && ZCCACHE_DIR=$d "$zccache" stop >/dev/null 2>&1 || true ;; esac
  rm -rf "$d"
  mkdir -p "$d"
}

zero_stats() { # <variant>
  case $1 in
    zccache*) with_env "$1" "$zccache" stats --zero >/dev/null ;;
    ccache) with_env "$1" "$ccache_bin" -z >/dev/null ;;
  esac
}

hits_misses() { # <variant> → "hits misses"
  case $1 in
    zccache*)
      with_env "$1" "$zccache" stats --json | tr -d '\n' |
        sed -n 's/.*"hits"[^0-9]*\([0-9]*\).*"misses"[^0-9]*\([0-9]*\).*/\1 \2/p' ;;
    ccache)
      with_env "$1" "$ccache_bin" --print-stats | awk -F'\t' '
        $1=="direct_cache_hit"||$1=="preprocessed_cache_hit"{h+=$2} $1=="cache_miss"{m=$2}
        END{printf "%d %d\n", h, m}' ;;
    *) echo "- -" ;;
  esac
}

now_ns() { date +%s%N; }

echo "two checkouts, googletest + own files: Ninja, build type ${build_type:-(none)}, -j$jobs, $runs run(s)"
echo "A = $checkout_a, B = $checkout_b"
echo "zccache: $zccache ($("$zccache" --version 2>/dev/null | head -1 || echo '?'))"
[ -n "$ccache_bin" ] && echo "ccache:  $ccache_bin ($("$ccache_bin" --version | head -1)), CCACHE_BASEDIR=$work"

declare -A times hits misses
for ((r = 1; r <= runs; r++)); do
  for v in "${variants[@]}"; do
    if [ "$v" != bare ]; then
      fresh_cache "$v"
      echo "run $r/$runs $v: building A (warms the cache)" >&2
      configure "$v" "$checkout_a"
      build "$v" "$checkout_a"
      zero_stats "$v"
    fi
    configure "$v" "$checkout_b"
    echo "run $r/$runs $v: building B (timed)" >&2
    t0=$(now_ns)
    build "$v" "$checkout_b"
    t1=$(now_ns)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b - a) / 1e9}')
    read -r h m <<<"$(hits_misses "$v")"
    echo "run $r/$runs $v: B build ${s}s, hits ${h:-?}, misses ${m:-?}" >&2
    times[$v]="${times[$v]:-} $s"
    hits[$v]="${hits[$v]:-} ${h:-?}"
    misses[$v]="${misses[$v]:-} ${m:-?}"
  done
done
stop_daemons

mean() { awk '{s=0; for (i=1;i<=NF;i++) s+=$i; printf "%.3f", s/NF}' <<<"$1"; }
span() { awk '{lo=$1; hi=$1; for (i=2;i<=NF;i++){if($i<lo)lo=$i; if($i>hi)hi=$i} printf "%.2f–%.2f", lo, hi}' <<<"$1"; }
same_or_list() { awk '{for (i=2;i<=NF;i++) if ($i!=$1) {o=$1; for (j=2;j<=NF;j++) o=o", "$j; print o; exit} print $1}' <<<"$1"; }

bare_mean=""
[[ -n "${times[bare]:-}" ]] && bare_mean=$(mean "${times[bare]}")
echo
echo "| variant | B build [s] | vs bare | hits | misses |"
echo "|:---|---:|---:|---:|---:|"
for v in "${variants[@]}"; do
  t=$(mean "${times[$v]}")
  shown=$(printf '%.2f' "$t")
  [ "$runs" -gt 1 ] && shown="$shown ($(span "${times[$v]}"))"
  ratio=n/a
  [ -n "$bare_mean" ] && ratio=$(awk -v t="$t" -v b="$bare_mean" 'BEGIN{printf "%.2f", t / b}')
  printf '| %s | %s | %s | %s | %s |\n' "$v" "$shown" "$ratio" \
    "$(same_or_list "${hits[$v]}")" "$(same_or_list "${misses[$v]}")"
done
