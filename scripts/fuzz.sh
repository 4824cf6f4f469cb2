#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/ for a set time and reports, per target, the
# executions, the corpus size and what it found (crash, timeout, out-of-memory inputs kept in
# fuzz/artifacts/<target>/, out of git). Exits non-zero if any target found something.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
# Env:   ZCCACHE_FUZZ_SANITIZER=address|none   (default: address, none if it cannot build)
#        CARGO_TARGET_DIR                      (fuzz builds go to $CARGO_TARGET_DIR/fuzz)
#
# Works on the stable toolchain: cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses
# for coverage), which RUSTC_BOOTSTRAP=1 allows; stable's rust-std ships the ASan runtime on
# x86_64-linux. Corpora live in fuzz/corpus/<target>; the hand-written seeds (seed-*) are in
# git, what libFuzzer adds is not.
set -euo pipefail

secs="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

export RUSTC_BOOTSTRAP=1
target_dir="${CARGO_TARGET_DIR:-$root/fuzz/target}/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

sanitizer="${ZCCACHE_FUZZ_SANITIZER:-address}"
echo "== building the fuzz targets (sanitizer: $sanitizer)"
if ! cargo fuzz build -s "$sanitizer" --target-dir "$target_dir"; then
    if [ "$sanitizer" = none ]; then
        exit 1
    fi
    echo "== the $sanitizer build failed; building without a sanitizer"
    sanitizer=none
    cargo fuzz build -s none --target-dir "$target_dir"
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
found=0
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    echo "== $t: ${secs}s"
    status=0
    # -timeout: one input may take 10 s; -rss_limit_mb/-malloc_limit_mb: inputs are at most
    # 4 KiB, so a 256 MiB allocation is a bug (an allocation sized by an untrusted length).
    cargo fuzz run -s "$sanitizer" --target-dir "$target_dir" "$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
        >"$logs/$t.log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' || true)
    corpus=$(find "corpus/$t" -type f | wc -l)
    after=$(find "artifacts/$t" -type f | wc -l)
    new=$((after - before))
    verdict="ok"
    if [ "$status" -ne 0 ] || [ "$new" -gt 0 ]; then
        found=1
        verdict="FOUND (exit $status, $new new artifact(s) in fuzz/artifacts/$t)"
        grep -E '^(==[0-9]+==ERROR|thread .* panicked|SUMMARY|ALARM|.*out-of-memory|.*malloc\()' "$logs/$t.log" | head -5 || true
        tail -n 20 "$logs/$t.log"
    fi
    line=$(printf '%-14s %12s execs  %6s corpus  %s' "$t" "${execs:-?}" "$corpus" "$verdict")
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${secs}s per target, sanitizer: $sanitizer)"
printf '%s\n' "${summary[@]}"
exit "$found"
