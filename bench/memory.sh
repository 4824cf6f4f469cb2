#!/usr/bin/env bash
# Benchmark: the daemon's peak memory on a build that touches 50,000 distinct headers.
#
#   bench/memory.sh                          # 500 sources x 100 headers, default budget
#   SOURCES=1000 HEADERS_PER=50 MAX_MEMORY=64M bench/memory.sh
#
# Generates SOURCES C files (m<N>/m<N>.c, compiled in their own directory), each including HEADERS_PER headers of its own (SOURCES x
# HEADERS_PER distinct headers in all, each a few declarations), compiles every source through
# one fresh zccache daemon (cold: all misses), again (all hits), and again after `zccache stop`
# + restart (all hits, warm start from the saved file hashes). After each pass it prints the
# daemon's VmHWM (peak RSS) and VmRSS from /proc, and what `zccache stats --json` counts
# (memory_bytes: the in-memory caches' own estimate, under max_memory_bytes). Compiles run
# JOBS at a time (default 2). ZCCACHE: binary (default: scripts/build-release.sh);
# MAX_MEMORY: ZCCACHE_MAX_MEMORY for the daemon (default: zccache's default, 512M).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/bench/lib.sh"
bench_init_dirs
bench_need gcc python3 || exit 1
bench_ensure_ours
[[ -n "$OURS_BIN" ]] || exit 1

sources=${SOURCES:-500}
per=${HEADERS_PER:-100}
jobs=${JOBS:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/zccache-memory.XXXXXX")
export ZCCACHE_DIR="$work/cache"
export ZCCACHE_IDLE_TIMEOUT=0
if [[ -n "${MAX_MEMORY:-}" ]]; then export ZCCACHE_MAX_MEMORY="$MAX_MEMORY"; fi
cleanup() {
    "$OURS_BIN" stop >/dev/null 2>&1 || true
    [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

bench_log "generating $sources sources x $per headers in $work/src"
python3 - "$work/src" "$sources" "$per" <<'EOF'
import os, sys
root, sources, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for s in range(sources):
    d = os.path.join(root, f"m{s:04d}")
    os.makedirs(os.path.join(d, "include", f"m{s:04d}"), exist_ok=True)
    lines = []
    for h in range(per):
        name = f"m{s:04d}/h{h:03d}.h"
        with open(os.path.join(d, "include", name), "w") as f:
            f.write(f"#pragma once\nstruct s{s}_{h} {{ int a, b; }};\n"
                    f"static inline int f{s}_{h}(int x) {{ return x * {h + 1}; }}\n")
        lines.append(f'#include "{name}"')
    body = " + ".join(f"f{s}_{h}(x)" for h in range(0, per, max(1, per // 10)))
    with open(os.path.join(d, f"m{s:04d}.c"), "w") as f:
        f.write("\n".join(lines) + f"\nint unit{s}(int x) {{ return {body}; }}\n")
EOF

compile_all() {
    find "$work/src" -name 'm*.c' -printf '%h\n' | sort \
        | xargs -P "$jobs" -I{} sh -c 'cd "$1" && "$2" gcc -O1 -Iinclude -c "${1##*/}.c" -o unit.o' _ {} "$OURS_BIN"
}

report() {
    local label=$1 wall=$2 pid stats
    stats=$("$OURS_BIN" stats --json)
    pid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon_pid"])' <<<"$stats")
    STATS=$stats python3 - "$label" "$wall" "$pid" <<'EOF' || true
import json, os, sys
label, wall, pid = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = json.loads(os.environ["STATS"])
status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status") if ":" in l)
mib = lambda kb: int(kb.split()[0]) / 1024
print(f"| {label} | {wall:.1f} s | {s.get('hits', 0)} | {s.get('misses', 0)} | "
      f"{mib(status['VmHWM']):.1f} MiB | {mib(status['VmRSS']):.1f} MiB "
      f"({mib(status['RssAnon']):.1f} heap, {mib(status['RssFile']):.1f} file) | "
      f"{s.get('memory_bytes', 0) / 2**20:.1f} / {s.get('max_memory_bytes', 0) / 2**20:.0f} MiB |")
EOF
}

timed() {
    local start end
    start=$(date +%s.%N)
    compile_all
    end=$(date +%s.%N)
    python3 -c "print($end - $start)"
}

"$OURS_BIN" start >/dev/null
echo "# zccache daemon memory, $(date -u +%F), $((sources * per)) distinct headers ($sources sources x $per)"
echo
echo "| pass | wall | hits (total) | misses (total) | peak RSS (VmHWM) | RSS now (heap, file-backed) | in-memory caches (estimate / budget) |"
echo "|---|---|---|---|---|---|---|"
report "daemon started, before any compile" 0
wall=$(timed); report "cold: every compile a miss" "$wall"
wall=$(timed); report "warm: every compile a hit" "$wall"
"$OURS_BIN" stop >/dev/null
"$OURS_BIN" start >/dev/null
wall=$(timed); report "after stop + start: hits (fresh daemon)" "$wall"
