#!/usr/bin/env bash
# bench/emcc.sh — zccache on Emscripten: one `emcc -c` hit vs a bare `emcc -c` vs a ccache hit,
# and a small project's rebuild from cache (8 objects + link) vs a bare build, in one run.
#
#   ZCCACHE=target/release/zccache bash bench/emcc.sh        # (default $ZCCACHE)
#   BENCH_REPS=15 bash bench/emcc.sh                          # repetitions per measurement
#
# Prints medians (ms) and ratios. Target: an emcc hit costs <= 0.02x a bare `emcc -c`.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${ZCCACHE:=$REPO_ROOT/target/release/zccache}"
: "${BENCH_REPS:=9}"
: "${BENCH_DIR:=$REPO_ROOT/target/bench}"
ZCCACHE="$(cd "$(dirname "$ZCCACHE")" && pwd)/$(basename "$ZCCACHE")"

for tool in emcc em++ node; do
    command -v "$tool" >/dev/null || { echo "[bench] required tool '$tool' missing" >&2; exit 1; }
done
[[ -x "$ZCCACHE" ]] || { echo "[bench] $ZCCACHE not built (cargo build --release)" >&2; exit 1; }
CCACHE="$(command -v ccache || true)"

WORK="$BENCH_DIR/emcc"
rm -rf "$WORK"
mkdir -p "$WORK/src"
export ZCCACHE_DIR="$WORK/zccache-cache" CCACHE_DIR="$WORK/ccache-cache"
unset EM_CONFIG EMCC_CFLAGS EM_COMPILER_WRAPPER ZCCACHE_DISABLE || true
# Debian's emcc runs acorn/terser from the system node modules on optimized links.
[[ -d /usr/share/nodejs ]] && export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs"
cp "$REPO_ROOT/tests/fixtures/emscripten/"{main.c,util.cpp,util.h} "$WORK/src/"
for i in 1 2 3 4 5 6; do
    cat >"$WORK/src/mod$i.c" <<EOF
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "util.h"
int mod$i(int x) { char b[32]; snprintf(b, sizeof b, "%d", x * $i); return (int)strlen(b) + atoi(b); }
EOF
done
cd "$WORK/src"

now_ns() { date +%s%N; }
# median_ms CMD...: run CMD $BENCH_REPS times, print the median wall time in ms (3 decimals).
median_ms() {
    local times=() t0 t1
    for _ in $(seq "$BENCH_REPS"); do
        [[ -n "${BEFORE:-}" ]] && eval "$BEFORE"
        t0=$(now_ns); "$@" >/dev/null 2>&1; t1=$(now_ns)
        times+=($(( t1 - t0 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f\n", a[int((NR+1)/2)]/1e6}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "n/a" }'; }

COMPILE=(-O2 -c main.c -o main.o)
echo "[bench] emcc $(emcc --version | head -n1 | sed 's/.*) //'), zccache $("$ZCCACHE" --version), reps=$BENCH_REPS" >&2

"$ZCCACHE" stop >/dev/null 2>&1 || true
"$ZCCACHE" start >/dev/null 2>&1 || true
BEFORE="rm -f main.o"
bare_ms=$(median_ms emcc "${COMPILE[@]}")
"$ZCCACHE" emcc "${COMPILE[@]}" >/dev/null             # miss, stores
zc_ms=$(median_ms "$ZCCACHE" emcc "${COMPILE[@]}")
if [[ -n "$CCACHE" ]]; then
    "$CCACHE" emcc "${COMPILE[@]}" >/dev/null
    cc_ms=$(median_ms "$CCACHE" emcc "${COMPILE[@]}")
else
    cc_ms=0
fi
unset BEFORE

# Small project: 8 objects + a link to app.js/app.wasm, bare vs from zccache's cache.
SRCS=(main.c util.cpp mod1.c mod2.c mod3.c mod4.c mod5.c mod6.c)
build() { # build [wrapper...]
    local objs=() s o
    for s in "${SRCS[@]}"; do
        o="${s%.*}.o"; objs+=("$o")
        if [[ "$s" == *.c ]]; then "$@" emcc -O2 -c "$s" -o "$o"; else "$@" em++ -O2 -c "$s" -o "$o"; fi
    done
    "$@" em++ -O2 "${objs[@]}" -o app.js
}
clean() { rm -f ./*.o app.js app.wasm; }
BEFORE=clean
reps_saved=$BENCH_REPS; BENCH_REPS=3
proj_bare_ms=$(median_ms build)
clean; build "$ZCCACHE"                                   # populate
proj_zc_ms=$(median_ms build "$ZCCACHE")
BENCH_REPS=$reps_saved
unset BEFORE
clean; build "$ZCCACHE"
out=$(node --no-experimental-fetch app.js)

printf '\n%-40s %12s %10s\n' "measurement" "median ms" "ratio"
printf '%-40s %12s %10s\n' "bare emcc -c" "$bare_ms" "1"
printf '%-40s %12s %10s\n' "zccache emcc -c (hit)" "$zc_ms" "$(ratio "$zc_ms" "$bare_ms")"
if [[ -n "$CCACHE" ]]; then
    printf '%-40s %12s %10s\n' "ccache emcc -c (hit)" "$cc_ms" "$(ratio "$cc_ms" "$bare_ms")"
    printf '%-40s %12s %10s\n' "zccache hit / ccache hit" "" "$(ratio "$zc_ms" "$cc_ms")"
fi
printf '%-40s %12s %10s\n' "project build, bare (8 obj + link)" "$proj_bare_ms" "1"
printf '%-40s %12s %10s\n' "project rebuild from zccache" "$proj_zc_ms" "$(ratio "$proj_zc_ms" "$proj_bare_ms")"
printf '\nprogram output: %s\n' "$out"
"$ZCCACHE" stats | sed -n '1,8p'
target=$(awk -v a="$zc_ms" -v b="$bare_ms" 'BEGIN { print (a <= 0.02 * b) ? "met" : "MISSED" }')
printf 'target (emcc hit <= 0.02x bare emcc -c): %s\n' "$target"
"$ZCCACHE" stop >/dev/null 2>&1 || true
