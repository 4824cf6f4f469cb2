#!/usr/bin/env bash
# bench/recorder.sh — what the file-access recorder costs a miss: the same compiles run bare
# and with zccache's recorder preloaded (LD_PRELOAD + a log, exactly as a miss runs them), in
# alternating rounds (ABBA) so machine drift cancels out. Scenarios: the heavy C++ file
# (bench/fixtures/heavy.cpp, g++ -O2) and a 200-file `make -j2` of small C files.
#
# Usage (from the repo root):   bash bench/recorder.sh
#   BENCH_ROUNDS=4      ABBA rounds (default 4)
#   BENCH_DIR=dir       scratch dir (default target/bench/recorder)
# The recorder is the one build.rs builds (target/*/build/zccache-*/out/libzccache_recorder.so),
# built with `cargo build` when missing.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
rounds="${BENCH_ROUNDS:-4}"
dir="${BENCH_DIR:-$repo/target/bench/recorder}"
mkdir -p "$dir"
so="$(ls -t target/*/build/zccache-*/out/libzccache_recorder.so target/*/*/build/zccache-*/out/libzccache_recorder.so 2>/dev/null | head -1 || true)"
if [ -z "$so" ]; then
  cargo build -q
  so="$(ls -t target/*/build/zccache-*/out/libzccache_recorder.so | head -1)"
fi
so="$(cd "$(dirname "$so")" && pwd)/$(basename "$so")"
echo "recorder: $so ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"

# The 200-file project: each file includes a few system headers.
proj="$dir/make200"
if [ ! -f "$proj/Makefile" ]; then
  mkdir -p "$proj"
  for i in $(seq 1 200); do
    printf '#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\nint f%d(const char *s) { char b[64]; strncpy(b, s, sizeof b - 1); b[63] = 0; return (int)strlen(b) + atoi(s) + %d; }\n' "$i" "$i" > "$proj/f$i.c"
  done
  printf 'SRCS := $(wildcard f*.c)\nall: $(SRCS:.c=.o)\n%%.o: %%.c\n\t$(CC) -O2 -c $< -o $@\nclean:\n\trm -f *.o\n' > "$proj/Makefile"
fi
cp bench/fixtures/heavy.cpp "$dir/heavy.cpp"

now() { date +%s.%N; }
# run <label> <preload?> <command…>: prints seconds
timed() {
  local preload="$1"; shift
  local log="$dir/access.log"
  rm -f "$log"
  local t0 t1
  t0=$(now)
  if [ "$preload" = 1 ]; then
    LD_PRELOAD="$so" ZCCACHE_ACCESS_LOG="$log" ZCCACHE_ACCESS_CWD="$PWD" "$@" >/dev/null
  else
    "$@" >/dev/null
  fi
  t1=$(now)
  echo "$t1 - $t0" | bc
}

heavy() { (cd "$dir" && timed "$1" g++ -O2 -std=c++17 -c heavy.cpp -o heavy.o); }
make200() { (cd "$proj" && make -s clean >/dev/null && timed "$1" make -s -j2 CC=gcc); }

declare -A sum
results=()
for scenario in heavy make200; do
  bare=(); rec=()
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
      bare+=("$($scenario 0)"); rec+=("$($scenario 1)")
    else
      rec+=("$($scenario 1)"); bare+=("$($scenario 0)")
    fi
  done
  med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
  mb=$(med "${bare[@]}"); mr=$(med "${rec[@]}")
  ratio=$(echo "scale=3; $mr / $mb" | bc)
  results+=("$(printf '| %s | %.3f s | %.3f s | %s× |' "$scenario" "$mb" "$mr" "$ratio")")
  echo "$scenario: bare ${bare[*]} | recorded ${rec[*]}"
done
echo
echo "| scenario | bare median | with recorder median | ratio |"
echo "|---|---:|---:|---:|"
printf '%s\n' "${results[@]}"
