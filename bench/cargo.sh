#!/usr/bin/env bash
# bench/cargo.sh — cargo benchmark: bare `cargo build` vs RUSTC_WRAPPER=sccache, the
# reference zccache 1.15 as RUSTC_WRAPPER, and `cargo zccache build`, on real crate graphs
# from crates.io, cold, warm after `cargo clean`, and warm into a fresh target directory.
# See docs/cargo.md.
#
# Usage (from the repo root):   bash bench/cargo.sh
#   ZCCACHE=/path/to/zccache              our binary (default target/release/zccache, built)
#   CARGO_ZCCACHE=/path/to/cargo-zccache  default: next to $ZCCACHE (built with -p cargo-zccache)
#   BENCH_DIR=dir                         state, caches, projects, results (default target/bench)
#   BENCH_GRAPHS=small,large              crate graphs to build (small: 17 packages; large: ≥ 60)
#   BENCH_TOOLS=bare,sccache,ref,ours-wrapper,cargo-zccache
#                                          contestants (default all but ours-wrapper)
#   BENCH_PROFILE=dev|release             cargo profile (default dev)
#   BENCH_COLD_ROUNDS=N                   after the table, N rounds of cold builds alternating
#                                          bare and `cargo zccache build` (ABBA order) per graph,
#                                          reported as medians and the median ratio (default 0)
#
# Installs (once, kept in $BENCH_DIR): sccache with `cargo install sccache --locked` (a few
# minutes), the reference zccache from PyPI in its own venv. Every contestant builds with
# CARGO_INCREMENTAL=0 (sccache refuses incremental compiles; same rules for everyone).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init_dirs
cd "$REPO_ROOT"
bench_need cargo python3 || exit 1

: "${BENCH_GRAPHS:=small,large}"
: "${BENCH_TOOLS:=bare,sccache,ref,cargo-zccache}"
: "${BENCH_PROFILE:=dev}"
: "${BENCH_COLD_ROUNDS:=0}"
: "${BENCH_SCCACHE_VERSION:=}"   # empty: latest; e.g. 0.10.0

has() { case ",$1," in *,"$2",*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------- contestants
bench_ensure_ours || true
CARGO_ZCCACHE_BIN=""
if has "$BENCH_TOOLS" cargo-zccache; then
    if [[ -n "${CARGO_ZCCACHE:-}" ]]; then
        CARGO_ZCCACHE_BIN="$CARGO_ZCCACHE"
    elif [[ -n "$OURS_BIN" ]]; then
        CARGO_ZCCACHE_BIN="$(dirname "$OURS_BIN")/cargo-zccache"
        if [[ "$OURS_BIN" == "$REPO_ROOT/target/release/zccache" ]]; then
            (cargo build --release -p cargo-zccache >&2) || bench_loud "building cargo-zccache FAILED"
        fi
    fi
    if [[ -n "$CARGO_ZCCACHE_BIN" && -x "$CARGO_ZCCACHE_BIN" ]]; then
        bench_log "cargo-zccache: $CARGO_ZCCACHE_BIN"
        if [[ -n "$OURS_BIN" && ! -x "$(dirname "$CARGO_ZCCACHE_BIN")/zccache" ]]; then
            bench_loud "cargo-zccache has no zccache next to it: it will use zccache from PATH"
        fi
    else
        bench_loud "cargo-zccache missing (${CARGO_ZCCACHE_BIN:-unset}): its column will be n/a"
        CARGO_ZCCACHE_BIN=""
    fi
fi

SCCACHE_BIN=""
if has "$BENCH_TOOLS" sccache; then
    root="$BENCH_DIR/sccache"
    if [[ ! -x "$root/bin/sccache" ]]; then
        bench_log "installing sccache with cargo install (a few minutes) into $root"
        ver=()
        [[ -n "$BENCH_SCCACHE_VERSION" ]] && ver=(--version "$BENCH_SCCACHE_VERSION")
        cargo install sccache --locked "${ver[@]}" --root "$root" >&2 \
            || bench_loud "cargo install sccache FAILED: its column will be n/a"
    fi
    if [[ -x "$root/bin/sccache" ]]; then
        SCCACHE_BIN="$root/bin/sccache"
        bench_log "sccache: $SCCACHE_BIN ($("$SCCACHE_BIN" --version))"
    fi
fi

REF_BIN=""
if has "$BENCH_TOOLS" ref; then bench_ensure_ref || true; fi

# ---------------------------------------------------------------- crate graphs
# make_graph NAME DEPS...: a binary crate depending on DEPS (cargo add syntax), locked and
# fetched once, in $BENCH_DIR/cargo/NAME/src.
make_graph() {
    local name="$1"; shift
    local dir="$BENCH_DIR/cargo/$name/src" stamp
    stamp="$(printf '%s\n' "$@" | sha256sum | cut -c1-16)"
    if [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$stamp" ]]; then
        return 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir/src"
    cat >"$dir/Cargo.toml" <<TOML
[package]
name = "bench-$name"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$(printf '%s\n' "$@")

# Keep this project out of any workspace above it.
[workspace]
TOML
    printf 'fn main() { println!("bench"); }\n' >"$dir/src/main.rs"
    (cd "$dir" && cargo generate-lockfile -q && cargo fetch -q) >&2
    printf '%s' "$stamp" >"$dir/.stamp"
}

graph_deps() {
    case "$1" in
        small) printf '%s\n' \
            'serde = { version = "1", features = ["derive"] }' \
            'serde_json = "1"' 'regex = "1"' 'anyhow = "1"' ;;
        large) printf '%s\n' \
            'serde = { version = "1", features = ["derive"] }' \
            'serde_json = "1"' 'regex = "1"' 'anyhow = "1"' \
            'clap = { version = "4", features = ["derive"] }' \
            'tokio = { version = "1", features = ["full"] }' \
            'tracing = "0.1"' \
            'tracing-subscriber = { version = "0.3", features = ["env-filter"] }' \
            'sha2 = "0.10"' 'rand = "0.8"' 'itertools = "0.13"' ;;
    esac
}

# ---------------------------------------------------------------- timing
declare -A RESULT   # RESULT[graph/scenario/tool] = seconds or n/a
FAILED=()

now() { date +%s.%N; }

# run_tool TOOL TARGET_DIR: one build of the current graph; prints seconds or returns 1.
run_tool() {
    local tool="$1" target="$2" t0 t1 log="$BENCH_DIR/cargo/logs/$GRAPH.$SCEN.$tool.log"
    mkdir -p "$(dirname "$log")"
    local -a envs=(env -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CC -u CXX -u RUSTFLAGS
        CARGO_INCREMENTAL=0 CARGO_TARGET_DIR="$target" CARGO_TERM_COLOR=never)
    local -a prof=()
    [[ "$BENCH_PROFILE" == release ]] && prof=(--release)
    local -a cmd
    case "$tool" in
        bare) cmd=("${envs[@]}" cargo build --locked "${prof[@]}") ;;
        sccache) cmd=("${envs[@]}" SCCACHE_DIR="$CACHE/sccache" RUSTC_WRAPPER="$SCCACHE_BIN"
            cargo build --locked "${prof[@]}") ;;
        ref) cmd=("${envs[@]}" ZCCACHE_CACHE_DIR="$CACHE/ref" ZCCACHE_QUIET=1
            RUSTC_WRAPPER="$REF_BIN" cargo build --locked "${prof[@]}") ;;
        ours-wrapper) cmd=("${envs[@]}" ZCCACHE_DIR="$CACHE/ours-wrapper"
            RUSTC_WRAPPER="$OURS_BIN" cargo build --locked "${prof[@]}") ;;
        cargo-zccache) cmd=("${envs[@]}" ZCCACHE_DIR="$CACHE/cargo-zccache"
            "$CARGO_ZCCACHE_BIN" zccache build --locked "${prof[@]}") ;;
    esac
    t0="$(now)"
    if ! (cd "$SRC" && "${cmd[@]}") >"$log" 2>&1; then
        bench_loud "$GRAPH/$SCEN/$tool FAILED (log: $log)"
        FAILED+=("$GRAPH/$SCEN/$tool")
        return 1
    fi
    t1="$(now)"
    python3 -c "print(f'{$t1-$t0:.2f}')"
}

start_tool() {
    case "$1" in
        sccache) SCCACHE_DIR="$CACHE/sccache" "$SCCACHE_BIN" --start-server >/dev/null 2>&1 || true ;;
        ref) ZCCACHE_CACHE_DIR="$CACHE/ref" "$REF_BIN" start >/dev/null 2>&1 || true ;;
        ours-wrapper) ZCCACHE_DIR="$CACHE/ours-wrapper" "$OURS_BIN" start >/dev/null 2>&1 || true ;;
        cargo-zccache) ZCCACHE_DIR="$CACHE/cargo-zccache" "$OURS_BIN" start >/dev/null 2>&1 || true ;;
    esac
}

stop_tool() {
    case "$1" in
        sccache) SCCACHE_DIR="$CACHE/sccache" "$SCCACHE_BIN" --stop-server >/dev/null 2>&1 || true ;;
        ref) ZCCACHE_CACHE_DIR="$CACHE/ref" "$REF_BIN" stop >/dev/null 2>&1 || true ;;
        ours-wrapper) ZCCACHE_DIR="$CACHE/ours-wrapper" "$OURS_BIN" stop >/dev/null 2>&1 || true ;;
        cargo-zccache) ZCCACHE_DIR="$CACHE/cargo-zccache" "$OURS_BIN" stop >/dev/null 2>&1 || true ;;
    esac
}

available() {
    case "$1" in
        bare) return 0 ;;
        sccache) [[ -n "$SCCACHE_BIN" ]] ;;
        ref) [[ -n "$REF_BIN" ]] ;;
        ours-wrapper) [[ -n "$OURS_BIN" ]] ;;
        cargo-zccache) [[ -n "$CARGO_ZCCACHE_BIN" ]] ;;
        *) return 1 ;;
    esac
}

SCENARIOS=(cold warm-clean warm-fresh-target)
IFS=',' read -r -a TOOLS <<<"$BENCH_TOOLS"
IFS=',' read -r -a GRAPHS <<<"$BENCH_GRAPHS"
CACHE="$BENCH_DIR/cargo/caches"
unset ZCCACHE_DIR ZCCACHE_CACHE_DIR SCCACHE_DIR RUSTC_WRAPPER || true
for v in $(env | grep -E '^(ZCCACHE|SCCACHE|CCACHE)_' | cut -d= -f1); do unset "$v"; done

declare -A NPKG
for GRAPH in "${GRAPHS[@]}"; do
    mapfile -t deps < <(graph_deps "$GRAPH")
    make_graph "$GRAPH" "${deps[@]}"
    SRC="$BENCH_DIR/cargo/$GRAPH/src"
    NPKG[$GRAPH]="$(grep -c '^name = ' "$SRC/Cargo.lock")"
    bench_log "graph $GRAPH: ${NPKG[$GRAPH]} packages (incl. the bench crate)"
    for tool in "${TOOLS[@]}"; do
        if ! available "$tool"; then
            for SCEN in "${SCENARIOS[@]}"; do RESULT[$GRAPH/$SCEN/$tool]="n/a"; done
            continue
        fi
        work="$BENCH_DIR/cargo/$GRAPH/work-$tool"
        rm -rf "$work" "$CACHE/$tool"
        mkdir -p "$work" "$CACHE/$tool"
        start_tool "$tool"
        for SCEN in "${SCENARIOS[@]}"; do
            case "$SCEN" in
                cold) target="$work/target" ;;
                warm-clean) target="$work/target"
                    (cd "$SRC" && CARGO_TARGET_DIR="$target" cargo clean -q) ;;
                warm-fresh-target) target="$work/target2" ;;
            esac
            bench_log "$GRAPH / $SCEN / $tool ..."
            secs="$(run_tool "$tool" "$target")" || secs="n/a"
            RESULT[$GRAPH/$SCEN/$tool]="$secs"
            bench_log "$GRAPH / $SCEN / $tool: ${secs}s"
        done
        stop_tool "$tool"
        rm -rf "$work"
    done
done

# ---------------------------------------------------------------- alternating cold rounds
# The machine drifts by several percent between runs minutes apart; alternating bare and
# cargo zccache cold builds (ABBA) and taking medians separates that drift from our overhead.
declare -A COLD_AB   # COLD_AB[graph] = "bare median|ours median|median ratio|per-round list"
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
if ((BENCH_COLD_ROUNDS > 0)) && [[ -n "$CARGO_ZCCACHE_BIN" ]]; then
    for GRAPH in "${GRAPHS[@]}"; do
        SRC="$BENCH_DIR/cargo/$GRAPH/src"
        bare_times=() ours_times=() ratios=() rounds=()
        for ((round = 1; round <= BENCH_COLD_ROUNDS; round++)); do
            order=(bare cargo-zccache)
            ((round % 2 == 0)) && order=(cargo-zccache bare)
            declare -A this=()
            for tool in "${order[@]}"; do
                SCEN="cold-round$round"
                work="$BENCH_DIR/cargo/$GRAPH/work-$tool"
                rm -rf "$work" "$CACHE/$tool"
                mkdir -p "$work" "$CACHE/$tool"
                start_tool "$tool"
                secs="$(run_tool "$tool" "$work/target")" || secs=""
                stop_tool "$tool"
                rm -rf "$work"
                this[$tool]="$secs"
                bench_log "$GRAPH / cold round $round / $tool: ${secs:-FAILED}s"
            done
            if [[ -n "${this[bare]}" && -n "${this[cargo-zccache]}" ]]; then
                bare_times+=("${this[bare]}")
                ours_times+=("${this[cargo-zccache]}")
                r="$(python3 -c "print(f'{${this[cargo-zccache]}/${this[bare]}:.3f}')")"
                ratios+=("$r")
                rounds+=("${this[bare]}/${this[cargo-zccache]} s (${r}×)")
            fi
            unset this
        done
        if ((${#ratios[@]})); then
            list="$(printf '%s; ' "${rounds[@]}")"
            COLD_AB[$GRAPH]="$(median "${bare_times[@]}")|$(median "${ours_times[@]}")|$(median "${ratios[@]}")|${list%; }"
        fi
    done
fi

# ---------------------------------------------------------------- table
{
    printf '\n## cargo build (%s profile, CARGO_INCREMENTAL=0, %s CPUs) — seconds (× bare)\n\n' \
        "$BENCH_PROFILE" "$(nproc)"
    printf '| graph | scenario |'
    for tool in "${TOOLS[@]}"; do printf ' %s |' "$tool"; done
    printf '\n|---|---|'
    for _ in "${TOOLS[@]}"; do printf -- '---:|'; done
    printf '\n'
    for GRAPH in "${GRAPHS[@]}"; do
        for SCEN in "${SCENARIOS[@]}"; do
            printf '| %s (%s pkgs) | %s |' "$GRAPH" "${NPKG[$GRAPH]}" "$SCEN"
            bare="${RESULT[$GRAPH/$SCEN/bare]:-n/a}"
            for tool in "${TOOLS[@]}"; do
                v="${RESULT[$GRAPH/$SCEN/$tool]:-n/a}"
                if [[ "$v" == n/a || "$tool" == bare || "$bare" == n/a ]]; then
                    printf ' %s |' "$v"
                else
                    printf ' %s (%s×) |' "$v" "$(python3 -c "print(f'{$v/$bare:.2f}')")"
                fi
            done
            printf '\n'
        done
    done
    if ((${#COLD_AB[@]})); then
        printf '\n### cold builds, %s alternating rounds (ABBA): bare vs cargo zccache\n\n' \
            "$BENCH_COLD_ROUNDS"
        printf '| graph | bare median | cargo zccache median | median of per-round ratios | rounds (bare/ours) |\n'
        printf '|---|---:|---:|---:|---|\n'
        for GRAPH in "${GRAPHS[@]}"; do
            [[ -n "${COLD_AB[$GRAPH]:-}" ]] || continue
            IFS='|' read -r b o r l <<<"${COLD_AB[$GRAPH]}"
            printf '| %s | %s s | %s s | %s× | %s |\n' "$GRAPH" "$b" "$o" "$r" "$l"
        done
    fi
    if ((${#FAILED[@]})); then
        printf '\nFailed measurements: %s (logs in %s)\n' "${FAILED[*]}" "$BENCH_DIR/cargo/logs"
    fi
} | tee "$BENCH_DIR/cargo-results.md"
