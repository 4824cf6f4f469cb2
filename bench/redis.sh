#!/usr/bin/env bash
# bench/redis.sh — a real project: Redis (make; ~150 compiles, static deps archived with `ar`,
# three programs linked). Measures, in one run:
#   1. warm rebuild after `make distclean`, every cache filled by an identical earlier build:
#      bare, ccache (compiles only: it cannot cache links or archives), zccache (compiles,
#      archives, links), for each optimization level in OPTS;
#   2. a relink: one source changed (release.c gets a new build id), so one compile and all
#      three links miss — zccache vs bare, interleaved, the paired median difference.
#
# Usage (from the repo root):   REDIS_SRC=/path/to/redis-7.x bash bench/redis.sh
#   Redis's source, offline on Debian: add a `deb-src` entry for the release's archive, then
#   `apt-get source --download-only redis` and untar redis_*.orig.tar.gz.
#   ZCCACHE=/path/to/zccache   our binary (default: built by scripts/build-release.sh)
#   RUNS=3                     timed warm rebuilds per variant (the median is reported)
#   RELINK_RUNS=7              relink rounds
#   RELINK_OPTS="-O2"          the OPTS values the relink runs for (an LTO relink of Redis
#                              takes about a minute per round)
#   OPTS="-O2|-O3 -flto"       OPTIMIZATION values, `|`-separated (Redis's own default is
#                              "-O3 -flto")
#   JOBS=$(nproc)  KEEP=1
# Redis is built with MALLOC=libc (its vendored jemalloc runs a ~15 s `configure` that no
# compiler cache can skip) and SOURCE_DATE_EPOCH unset (release.h keeps its build id while
# the git sha does not change, so rebuilds reuse it).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init_dirs
cd "$REPO_ROOT"
bench_need gcc make ccache python3 || exit 1
[[ -f "${REDIS_SRC:-}/src/server.c" ]] || {
    bench_loud "REDIS_SRC must name a Redis source tree (see the header of $0)"
    exit 1
}
bench_ensure_ours || true
[[ -n "$OURS_BIN" ]] || exit 1
Z=$OURS_BIN

runs=${RUNS:-3}
relink_runs=${RELINK_RUNS:-7}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
IFS='|' read -r -a opts <<<"${OPTS:--O2|-O3 -flto}"
relink_opts="|${RELINK_OPTS:--O2}|"

work=$(mktemp -d "$BENCH_DIR/redis.XXXXXX")
export CCACHE_DIR=$work/ccache-dir ZCCACHE_DIR=$work/zccache-dir
cleanup() {
    "$Z" stop >/dev/null 2>&1 || true
    if [[ "${KEEP:-0}" == 1 ]]; then bench_log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
unset ZCCACHE_DISABLE CC CXX AR MAKEFLAGS SOURCE_DATE_EPOCH
# Redis's mkreleasehdr.sh asks git for a commit and a dirty count: keep it from finding the
# repository around the scratch dir (whose edits would rewrite release.h between builds).
export GIT_CEILING_DIRECTORIES=$work


bench_log "zccache: $Z ($("$Z" --version 2>/dev/null | head -1))"
bench_log "ccache:  $(command -v ccache) ($(ccache --version | head -1))"
bench_log "redis:   $REDIS_SRC; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), -j$jobs"

# make for variant <v> in <dir> with OPTIMIZATION=<opt>, extra args after.
redis_make() { # <v> <dir> <opt> [args…]
    local v=$1 dir=$2 opt=$3
    shift 3
    local -a mk=(make -C "$dir" -j "$jobs" MALLOC=libc "OPTIMIZATION=$opt")
    case $v in
        bare) ;;
        ccache) mk+=("CC=ccache gcc") ;;
        zccache) mk+=("CC=$Z gcc" "AR=$Z ar") ;;
    esac
    "${mk[@]}" "$@" >/dev/null 2>&1
}

for opt in "${opts[@]}"; do
    declare -A med=()
    for v in bare ccache zccache; do
        dir=$work/redis-$v
        rm -rf "$dir"
        cp -r "$REDIS_SRC" "$dir"
        redis_make "$v" "$dir" "$opt" # fills the cache
        times=()
        for ((r = 0; r < runs; r++)); do
            redis_make "$v" "$dir" "$opt" distclean
            t0=$(bench_now)
            redis_make "$v" "$dir" "$opt" || { bench_loud "redis $v ($opt) failed to build"; exit 1; }
            t1=$(bench_now)
            times+=("$(python3 -c "print($t1-$t0)")")
        done
        med[$v]=$(bench_median "${times[@]}")
        "$dir/src/redis-server" --version >/dev/null || { bench_loud "$v: redis-server does not run"; exit 1; }
    done
    printf '%-34s %8.2f s %8.2f s (%sx) %8.2f s (%sx)   zccache/ccache %s\n' \
        "redis warm rebuild ($opt)" "${med[bare]}" "${med[ccache]}" \
        "$(bench_ratio "${med[ccache]}" "${med[bare]}")" "${med[zccache]}" \
        "$(bench_ratio "${med[zccache]}" "${med[bare]}")" "$(bench_ratio "${med[zccache]}" "${med[ccache]}")"
    if [[ "$("$Z" stats 2>/dev/null | grep -ci 'link')" == 0 ]]; then
        bench_loud "zccache stats show no links"
    fi
    # The dependency rules zccache restores are the bare scan's (paths are relative). Redis
    # deletes the Makefile.dep it made when a build after `distclean` re-persists its settings,
    # so make it once more in both trees (a hit for zccache: the build's own scan).
    for v in bare zccache; do
        rm -f "$work/redis-$v/src/Makefile.dep"
        redis_make "$v" "$work/redis-$v/src" "$opt" Makefile.dep
    done
    cmp -s "$work/redis-bare/src/Makefile.dep" "$work/redis-zccache/src/Makefile.dep" ||
        { bench_loud "Makefile.dep differs from the bare build's"; exit 1; }
    [[ "$relink_opts" == *"|$opt|"* ]] || continue

    # Relink: one compile and the three links miss (a fresh build id in release.h).
    python3 - "$work" "$opt" "$relink_runs" "$jobs" "$Z" <<'EOF'
import os, random, re, statistics, subprocess, sys, time
work, opt, rounds, jobs, z = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def make(v):
    cmd = ["make", "-C", f"{work}/redis-{v}/src", "-j", jobs, "MALLOC=libc", f"OPTIMIZATION={opt}"]
    if v == "zccache":
        cmd += [f"CC={z} gcc", f"AR={z} ar"]
    return cmd
times = {"bare": [], "zccache": []}
for r in range(rounds + 1):  # round 0 warms up
    for v in random.sample(list(times), 2):
        src = f"{work}/redis-{v}/src"
        h = open(f"{src}/release.h").read()
        open(f"{src}/release.h", "w").write(
            re.sub(r'REDIS_BUILD_ID ".*"', f'REDIS_BUILD_ID "relink-{r}-{time.time_ns()}"', h))
        os.utime(f"{src}/release.c")
        time.sleep(0.2)
        t0 = time.perf_counter()
        subprocess.run(make(v), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r:
            times[v].append(time.perf_counter() - t0)
        if v == "zccache":
            subprocess.run([z, "stats"], stdout=subprocess.DEVNULL)  # stores finished
diffs = [a - b for a, b in zip(times["zccache"], times["bare"])]
bare = statistics.median(times["bare"])
print(f"{'redis relink (' + opt + ')':34s} bare {bare:6.2f} s  zccache {statistics.median(times['zccache']):6.2f} s"
      f"  paired {statistics.median(diffs) * 1000:+.0f} ms ({statistics.median(diffs) / bare * 100:+.1f}%)"
      f"  [1 compile + 3 links miss, {rounds} rounds]")
EOF
done
