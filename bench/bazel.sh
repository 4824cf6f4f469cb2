#!/usr/bin/env bash
# Rebuild-after-`bazel clean` wall time of bazel/example, three ways, in one run:
#   plain     Bazel's auto-configured toolchain, nothing cached outside Bazel's output base
#   disk      the same with --disk_cache (Bazel's own action cache on disk: compiles AND links)
#   zccache   the @zccache toolchain: compiles served by the zccache daemon, links re-run
#
# Each mode: one warm-up build (fills its cache), then REPEAT x (`bazel clean`; timed
# `bazel build //...`). Prints the median and the ratio to plain.
#
# Environment:
#   ZCCACHE        zccache binary (default: target/release/zccache of this checkout)
#   BENCH_EXTRA    extra generated C++ translation units added to the example (default 16;
#                  the example alone is 4 tiny compiles, which measures only Bazel itself)
#   REPEAT         timed rebuilds per mode (default 3)
#   BENCH_BAZEL_FLAGS  extra flags for every `bazel build` (e.g. --spawn_strategy=local)
#   BENCH_TMP      scratch dir (default: a fresh dir under target/bench-bazel); removed at exit
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ZCCACHE=${ZCCACHE:-$root/target/release/zccache}
BENCH_EXTRA=${BENCH_EXTRA:-16}
REPEAT=${REPEAT:-3}
read -r -a extra_flags <<<"${BENCH_BAZEL_FLAGS:-}"

command -v bazel >/dev/null || { echo "bench/bazel.sh: bazel not on PATH" >&2; exit 1; }
[ -x "$ZCCACHE" ] || { echo "bench/bazel.sh: ZCCACHE=$ZCCACHE is not executable (cargo build --release?)" >&2; exit 1; }
ZCCACHE=$(cd "$(dirname "$ZCCACHE")" && pwd)/$(basename "$ZCCACHE")

mkdir -p "$root/target"
tmp=${BENCH_TMP:-$(mktemp -d "$root/target/bench-bazel.XXXXXX")}
mkdir -p "$tmp"
ws=$tmp/ws
users=$tmp/bzl          # --output_user_root: private Bazel server(s)
export ZCCACHE_DIR=$tmp/zcc

cleanup() {
  (cd "$ws" 2>/dev/null && bazel --output_user_root="$users" shutdown >/dev/null 2>&1) || true
  "$ZCCACHE" stop >/dev/null 2>&1 || true
  chmod -R u+w "$tmp" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The example, with its repositories pointing into this checkout and BENCH_EXTRA generated
# translation units (each pulls in a few heavy standard headers, like real code does).
cp -r "$root/bazel/example" "$ws"
rm -f "$ws"/bazel-*
sed -i "s|path = \"\\.\\.\"|path = \"$root/bazel\"|; s|path = \"\\.\\./offline/|path = \"$root/bazel/offline/|" "$ws/WORKSPACE"
mkdir -p "$ws/gen"
srcs=""
for i in $(seq 1 "$BENCH_EXTRA"); do
  cat >"$ws/gen/unit$i.cc" <<CC
#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace gen$i {
std::string run(const std::string& in) {
  std::map<std::string, int> counts;
  std::istringstream words(in);
  for (std::string w; words >> w;) counts[w] += $i;
  std::vector<std::pair<std::string, int>> v(counts.begin(), counts.end());
  typedef std::pair<std::string, int> Entry;
  std::sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.second > b.second; });
  std::ostringstream out;
  for (const Entry& e : v) out << e.first << '=' << e.second << ';';
  return out.str();
}
}  // namespace gen$i
CC
  srcs="$srcs\"unit$i.cc\", "
done
cat >"$ws/gen/BUILD.bazel" <<BUILD
load("@rules_cc//cc:defs.bzl", "cc_library")

cc_library(
    name = "gen",
    srcs = [$srcs],
)
BUILD

bz() { (cd "$ws" && bazel --output_user_root="$users" --nohome_rc "$@"); }
common=(--color=no --noshow_progress --nosandbox_debug "${extra_flags[@]}")
declare -A flags
flags[plain]="--noincompatible_enable_cc_toolchain_resolution"
flags[disk]="--noincompatible_enable_cc_toolchain_resolution --disk_cache=$tmp/disk"
flags[zccache]="--incompatible_enable_cc_toolchain_resolution --repo_env=ZCCACHE_PROGRAM=$ZCCACHE --repo_env=ZCCACHE_DIR=$ZCCACHE_DIR"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# The toolchain starts the daemon itself (owned by the Bazel server); starting it here first
# keeps its start-up out of the first timed build.
"$ZCCACHE" start >/dev/null
"$ZCCACHE" stats --zero >/dev/null

declare -A cold rebuild
for mode in plain disk zccache; do
  read -r -a f <<<"${flags[$mode]}"
  bz clean >/dev/null 2>&1
  t0=$(now)
  bz build "${common[@]}" "${f[@]}" //... >"$tmp/$mode.log" 2>&1 || { cat "$tmp/$mode.log" >&2; exit 1; }
  cold[$mode]=$(elapsed "$t0")
  [ "$mode" = zccache ] && "$ZCCACHE" stats --zero >/dev/null
  times=()
  for _ in $(seq 1 "$REPEAT"); do
    bz clean >/dev/null 2>&1
    t0=$(now)
    bz build "${common[@]}" "${f[@]}" //... >>"$tmp/$mode.log" 2>&1 || { cat "$tmp/$mode.log" >&2; exit 1; }
    times+=("$(elapsed "$t0")")
  done
  rebuild[$mode]=$(printf '%s\n' "${times[@]}" | median)
done
zstats=$("$ZCCACHE" stats --json 2>/dev/null | tr -d '\n' || true)

printf '\nbazel/example + %s generated units; %s timed rebuild(s) after `bazel clean` per mode; zccache=%s\n\n' \
  "$BENCH_EXTRA" "$REPEAT" "$ZCCACHE"
printf '%-10s %12s %17s %18s\n' mode "first build" "rebuild (median)" "speed-up vs plain"
for mode in plain disk zccache; do
  printf '%-10s %11.2fs %16.2fs %17.2fx\n' "$mode" "${cold[$mode]}" "${rebuild[$mode]}" \
    "$(awk -v p="${rebuild[plain]}" -v m="${rebuild[$mode]}" 'BEGIN { print (m > 0 ? p / m : 0) }')"
done
printf '\nzccache stats over the timed rebuilds: %s\n' "${zstats:-unavailable}"
