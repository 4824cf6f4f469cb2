#!/usr/bin/env bash
# bench/link.sh — cached links: warm rebuilds of (1) a make project with several executables
# (-O2 -g, and the same with -flto) and (2) a CMake + Ninja project building googletest and
# many test executables, each bare, with ccache (compiles only: ccache cannot cache links or
# archives) and with zccache (compiles, `ar` archives and links), all in one run; plus the
# overhead a link miss costs.
#
# Usage (from the repo root):   bash bench/link.sh
#   ZCCACHE=/path/to/zccache   our binary (default: built by scripts/build-release.sh)
#   RUNS=3                     timed warm rebuilds per variant (the median is reported)
#   JOBS=$(nproc)              build parallelism
#   PROGS=8 LIBSRC=60          make project: executables, sources in its static library
#   BIG_COPIES=2               link miss: renamed copies of the library in the large link
#   TESTS=12                   CMake project: googletest test executables
#   CMAKE_RUNS=$RUNS           timed warm rebuilds of the CMake project per variant
#   ONLY=make,lto,cmake,miss   parts to run
#   KEEP=1                     keep the scratch dir
#
# "warm" = rebuild after `make clean` / from an empty build dir with every cache already
# filled by an identical earlier build. Ratios are to the bare build of the same run.
# "link miss" = relinking every executable of the make project (small links), and one program
# of all the library's objects (a large link), through zccache with one fresh object each
# round, so every link misses (the recorder on; the daemon running and warm, as in a build),
# vs the same bare links, alternating, median of RUNS.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init_dirs
cd "$REPO_ROOT"
bench_need gcc make cmake ninja ccache python3 || exit 1
bench_ensure_ours || true
[[ -n "$OURS_BIN" ]] || exit 1
Z=$OURS_BIN

runs=${RUNS:-3}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
progs=${PROGS:-8}
libsrc=${LIBSRC:-60}
tests=${TESTS:-12}
cmake_runs=${CMAKE_RUNS:-$runs}
only=",${ONLY:-make,lto,cmake,miss},"
gtest_src=${GTEST_SRC:-/usr/src/googletest}

work=$(mktemp -d "$BENCH_DIR/link.XXXXXX")
export CCACHE_DIR=$work/ccache-dir ZCCACHE_DIR=$work/zccache-dir
cleanup() {
    ZCCACHE_DIR=$work/zccache-dir "$Z" stop >/dev/null 2>&1 || true
    ZCCACHE_DIR=$work/miss-dir "$Z" stop >/dev/null 2>&1 || true
    if [[ "${KEEP:-0}" == 1 ]]; then bench_log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
unset ZCCACHE_DISABLE CMAKE_C_COMPILER_LAUNCHER CMAKE_CXX_COMPILER_LAUNCHER CC CXX MAKEFLAGS


bench_log "zccache: $Z ($("$Z" --version 2>/dev/null | head -1))"
bench_log "ccache:  $(command -v ccache) ($(ccache --version | head -1))"
bench_log "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), -j$jobs, $runs runs"

# ------------------------------------------------------------------------------------------
# The make project: libcore.a of $libsrc generated sources, $progs executables of 3 sources
# each linking libcore.a and -lm.
gen_make_project() { # <dir>
    local d=$1 i j
    mkdir -p "$d"
    for ((i = 0; i < libsrc; i++)); do
        {
            echo "#include <math.h>"
            echo "#include <string.h>"
            for ((j = 0; j < 40; j++)); do
                echo "double core_${i}_$j(double x) { double s = 0; for (int k = 0; k < $((j + 3)); k++) s += sin(x * k + $j) / (1 + k); return s; }"
                echo "int corei_${i}_$j(const char *s) { return (int)strlen(s) * $((j + i)); }"
            done
        } >"$d/core$i.c"
    done
    for ((i = 0; i < progs; i++)); do
        for j in 0 1 2; do
            {
                echo "#include <stdio.h>"
                echo "double core_$(((i * 3 + j) % libsrc))_$j(double);"
                echo "double p${i}_$j(double x) { return core_$(((i * 3 + j) % libsrc))_$j(x) * 2; }"
                if [[ $j == 0 ]]; then
                    # Every program uses every object of libcore.a, as real programs do.
                    local k
                    for ((k = 0; k < libsrc; k++)); do echo "double core_${k}_1(double);"; done
                    echo "double p${i}_1(double); double p${i}_2(double);"
                    echo "int main(void) { double s = p${i}_0(1) + p${i}_1(2) + p${i}_2(3);"
                    for ((k = 0; k < libsrc; k++)); do echo "  s += core_${k}_1(s);"; done
                    echo "  printf(\"%f\\n\", s); return 0; }"
                fi
            } >"$d/prog${i}_$j.c"
        done
    done
    {
        echo "CFLAGS ?= -O2 -g"
        echo "LDFLAGS ?="
        echo "PROGS := $(for ((i = 0; i < progs; i++)); do printf 'prog%d ' "$i"; done)"
        echo "all: \$(PROGS)"
        echo ".SECONDARY:" # keep the objects (make would delete them as intermediates)
        echo "libcore.a: $(for ((i = 0; i < libsrc; i++)); do printf 'core%d.o ' "$i"; done)"
        printf '\t$(AR) rcs $@ $^\n'
        echo "prog%: prog%_0.o prog%_1.o prog%_2.o libcore.a"
        printf '\t$(LINK) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %%.o,$^) -L. -lcore -lm\n'
        echo "%.o: %.c"
        printf '\t$(CC) $(CFLAGS) -c $< -o $@\n'
        echo "clean:"
        printf '\trm -f *.o *.a $(PROGS)\n'
    } >"$d/Makefile"
}

bench_make() { # <label> <CFLAGS> <LDFLAGS>
    local label=$1 cflags=$2 ldflags=$3 v dir t0 t1 r
    declare -A med
    for v in bare ccache zccache; do
        dir=$work/make-$label-$v
        gen_make_project "$dir"
        local -a mk=(make -C "$dir" -j "$jobs" "CFLAGS=$cflags" "LDFLAGS=$ldflags")
        case $v in
            bare) mk+=(CC=gcc LINK=gcc) ;;
            ccache) mk+=("CC=ccache gcc" LINK=gcc) ;;
            zccache) mk+=("CC=$Z gcc" "LINK=$Z gcc" "AR=$Z ar") ;;
        esac
        "${mk[@]}" >/dev/null # warms the cache
        local times=()
        for ((r = 0; r < runs; r++)); do
            "${mk[@]}" clean >/dev/null
            t0=$(bench_now)
            "${mk[@]}" >/dev/null
            t1=$(bench_now)
            times+=("$(python3 -c "print($t1-$t0)")")
        done
        med[$v]=$(bench_median "${times[@]}")
        for ((r = 0; r < progs; r++)); do
            "$dir/prog$r" >/dev/null || { bench_loud "$label $v: prog$r does not run"; exit 1; }
        done
    done
    printf '%-34s %8.2f s %8.2f s (%sx) %8.2f s (%sx)   zccache/ccache %s\n' \
        "make, $progs programs ($label)" "${med[bare]}" "${med[ccache]}" \
        "$(bench_ratio "${med[ccache]}" "${med[bare]}")" "${med[zccache]}" \
        "$(bench_ratio "${med[zccache]}" "${med[bare]}")" "$(bench_ratio "${med[zccache]}" "${med[ccache]}")"
}

bench_cmake() {
    [[ -f "$gtest_src/CMakeLists.txt" ]] || { bench_loud "googletest not at $gtest_src"; return 1; }
    local proj=$work/cmake-proj v b t0 t1 r i
    mkdir -p "$proj"
    {
        echo "cmake_minimum_required(VERSION 3.21)"
        echo "project(zcc_link_bench C CXX)"
        echo "include(\"$REPO_ROOT/cmake/zccache.cmake\")"
        echo "set(INSTALL_GTEST OFF CACHE BOOL \"\" FORCE)"
        echo "add_subdirectory(\"$gtest_src\" googletest)"
        echo "enable_testing()"
        for ((i = 0; i < tests; i++)); do
            echo "add_executable(t$i t$i.cc)"
            echo "target_link_libraries(t$i gmock_main)"
            echo "add_test(NAME t$i COMMAND t$i)"
        done
    } >"$proj/CMakeLists.txt"
    for ((i = 0; i < tests; i++)); do
        cat >"$proj/t$i.cc" <<EOF
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>
TEST(T$i, Vec) { std::vector<int> v{1, 2, $i}; EXPECT_THAT(v, ::testing::Contains($i)); }
TEST(T$i, Map) { std::map<std::string, int> m{{"a", $i}}; EXPECT_EQ(m["a"], $i); }
TEST(T$i, Str) { EXPECT_THAT(std::string("zccache$i"), ::testing::HasSubstr("$i")); }
EOF
    done
    declare -A args=(
        [bare]="-DZCCACHE_ENABLE=OFF"
        [ccache]="-DZCCACHE_PROGRAM=$Z -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
        [zccache]="-DZCCACHE_PROGRAM=$Z -DZCCACHE_LINKS=ON"
    )
    declare -A med
    for v in bare ccache zccache; do
        b=$work/cmake-build-$v
        local times=()
        for ((r = 0; r <= cmake_runs; r++)); do # run 0 warms the cache
            rm -rf "$b"
            # shellcheck disable=SC2086
            cmake -S "$proj" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${args[$v]} >/dev/null
            t0=$(bench_now)
            cmake --build "$b" -j "$jobs" >/dev/null
            t1=$(bench_now)
            ((r == 0)) || times+=("$(python3 -c "print($t1-$t0)")")
        done
        med[$v]=$(bench_median "${times[@]}")
        (cd "$b" && ctest -j "$jobs" >/dev/null) || { bench_loud "cmake $v: tests fail"; exit 1; }
    done
    printf '%-34s %8.2f s %8.2f s (%sx) %8.2f s (%sx)   zccache/ccache %s\n' \
        "cmake+ninja, gmock + $tests tests" "${med[bare]}" "${med[ccache]}" \
        "$(bench_ratio "${med[ccache]}" "${med[bare]}")" "${med[zccache]}" \
        "$(bench_ratio "${med[zccache]}" "${med[bare]}")" "$(bench_ratio "${med[zccache]}" "${med[ccache]}")"
}

bench_miss() {
    local dir=$work/make-O2-bare r i t0 t1
    [[ -f "$dir/prog0_0.o" ]] || { gen_make_project "$dir"; make -C "$dir" -j "$jobs" CC=gcc LINK=gcc >/dev/null; }
    local small_bare=() small_zcc=() big_bare=() big_zcc=() small_ratio=() big_ratio=()
    # The small links: every program of the project (3 objects, libcore.a, -lm). The large
    # link: one program of BIG_COPIES renamed copies of every library source plus the
    # library itself, all objects given directly (Redis-sized: ~180 objects by default).
    local copies=${BIG_COPIES:-2} k big_objs=""
    if [[ ! -f "$dir/big.done.$copies" ]]; then
        for ((k = 1; k <= copies; k++)); do
            for ((i = 0; i < libsrc; i++)); do
                sed "s/core_/big${k}_/g; s/corei_/bigi${k}_/g" "$dir/core$i.c" >"$dir/big${k}_$i.c"
            done
        done
        (cd "$dir" && ls big*_*.c | sed 's/\.c$/.o/' | xargs make -j "$jobs" CC=gcc LINK=gcc >/dev/null)
        {
            echo "#include <stdio.h>"
            for ((k = 1; k <= copies; k++)); do
                for ((i = 0; i < libsrc; i++)); do echo "double big${k}_${i}_1(double);"; done
            done
            echo "int main(void) { double s = 1;"
            for ((k = 1; k <= copies; k++)); do
                for ((i = 0; i < libsrc; i++)); do echo "  s += big${k}_${i}_1(s);"; done
            done
            echo "  printf(\"%f\\n\", s); return 0; }"
        } >"$dir/bigmain.c"
        gcc -O2 -g -c "$dir/bigmain.c" -o "$dir/bigmain.o"
        touch "$dir/big.done.$copies"
    fi
    big_objs="bigmain.o $(cd "$dir" && ls core*.o big*_*.o | sort -V | tr '\n' ' ')"
    link_small() { # <prefix...>
        for ((i = 0; i < progs; i++)); do
            (cd "$dir" && "$@" gcc -O2 -g -o "prog$i" "prog${i}_0.o" "prog${i}_1.o" "prog${i}_2.o" round.o -L. -lcore -lm)
        done
    }
    link_big() { # <prefix...>
        # shellcheck disable=SC2086
        (cd "$dir" && "$@" gcc -O2 -g -o big $big_objs round.o -lm)
    }
    timed() { t0=$(bench_now); "$@"; t1=$(bench_now); python3 -c "print($t1-$t0)"; }
    # One daemon, warm as in any build (its file-hash cache knows libc & co.); each round
    # links a fresh round.o into every program (as when one object changed), so every link
    # misses and bare and zccache link the same files. Round 0 is not counted; the order of
    # bare and zccache alternates.
    export ZCCACHE_DIR=$work/miss-dir
    "$Z" start >/dev/null
    local dpid cpu0=0
    dpid=$(head -1 "$ZCCACHE_DIR"/v/*/daemon.pid)
    # The daemon's CPU (user + system, clock ticks): what it spends per link after answering
    # competes with a parallel build.
    daemon_ticks() { awk '{print $14 + $15}' "/proc/$dpid/stat"; }
    for ((r = 0; r <= runs; r++)); do
        ((r == 1)) && cpu0=$(daemon_ticks)
        echo "int link_round_$r = $r;" >"$dir/round.c"
        gcc -c "$dir/round.c" -o "$dir/round.o"
        "$Z" stats --zero >/dev/null
        local sb sz bb bz
        if ((r % 2)); then
            sz=$(timed link_small "$Z"); sb=$(timed link_small)
            bz=$(timed link_big "$Z"); bb=$(timed link_big)
        else
            sb=$(timed link_small); sz=$(timed link_small "$Z")
            bb=$(timed link_big); bz=$(timed link_big "$Z")
        fi
        [[ "$("$Z" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["families"]["gcc-link"]["misses"])')" == "$((progs + 1))" ]] \
            || bench_loud "link miss: not every link was a stored miss"
        ((r == 0)) && continue
        small_bare+=("$sb"); small_zcc+=("$sz"); big_bare+=("$bb"); big_zcc+=("$bz")
        small_ratio+=("$(python3 -c "print($sz/$sb)")"); big_ratio+=("$(python3 -c "print($bz/$bb)")")
    done
    local daemon_ms
    daemon_ms=$(python3 -c "print(f'{($(daemon_ticks) - $cpu0) * 1000 / $(getconf CLK_TCK) / ($runs * ($progs + 1)):.1f}')")
    "$Z" stop >/dev/null 2>&1 || true
    export ZCCACHE_DIR=$work/zccache-dir
    local b z p
    b=$(bench_median "${small_bare[@]}"); z=$(bench_median "${small_zcc[@]}"); p=$(bench_median "${small_ratio[@]}")
    printf '%-34s %8.3f s bare, %8.3f s through zccache (all misses): overhead %s%% (median of paired rounds %s%%)\n' \
        "link miss, $progs small links" "$b" "$z" "$(python3 -c "print(f'{($z/$b-1)*100:+.1f}')")" "$(python3 -c "print(f'{($p-1)*100:+.1f}')")"
    b=$(bench_median "${big_bare[@]}"); z=$(bench_median "${big_zcc[@]}"); p=$(bench_median "${big_ratio[@]}")
    printf '%-34s %8.3f s bare, %8.3f s through zccache (all misses): overhead %s%% (median of paired rounds %s%%)\n' \
        "link miss, 1 large link ($(wc -w <<<"$big_objs") objects)" "$b" "$z" "$(python3 -c "print(f'{($z/$b-1)*100:+.1f}')")" "$(python3 -c "print(f'{($p-1)*100:+.1f}')")"
    printf '%-34s %s ms of daemon CPU per link miss (mostly after answering: copy, hash, store)\n' "" "$daemon_ms"
}

printf '%-34s %10s %19s %19s\n' "warm rebuild (median of $runs)" bare ccache zccache
[[ $only == *,make,* ]] && bench_make O2 "-O2 -g" ""
[[ $only == *,lto,* ]] && bench_make lto "-O2 -flto" "-flto=auto"
[[ $only == *,cmake,* ]] && bench_cmake
[[ $only == *,miss,* ]] && bench_miss
exit 0
