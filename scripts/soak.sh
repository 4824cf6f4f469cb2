#!/usr/bin/env bash
# zccache soak test: thousands of compiles of a few hundred real C/C++ sources through
# zccache at -j$JOBS, with random header edits between rounds, the daemon SIGKILLed every few
# seconds, `zccache clear` and `zccache stop` + `zccache start` in the middle of a round and a
# disk-full episode (the cache dir on a small tmpfs); every object is compared with a bare
# compile of the same source and flags at the same header state. Prints compiles, hits,
# misses, fallbacks, kills survived, wrong objects, failed compiles and the daemon's peak RSS;
# exits non-zero if any object is wrong or any compile failed.
#
# Owns: $SOAK_DIR (a scratch dir: copies of the sources, the cache dirs, the objects, the
# log), the zccache daemons of its cache dirs and the tmpfs it mounts there. It never touches
# another cache dir or daemon. The loop itself is scripts/soak.py (how outcomes are counted is
# documented at its top); this script holds the knobs, builds zccache and cleans up on exit
# (also on Ctrl-C).
#
# Knobs (environment):
#   ROUNDS=12          rounds; every round compiles every source once (default 12)
#   DURATION=0         stop starting rounds after this many seconds (0: no limit)
#   JOBS=8             parallel compiles
#   KILL_EVERY=3       mean seconds between SIGKILLs of the daemon (0.5x to 1.5x, random)
#   MAX_SOURCES=300    sources in total (C and C++), MAX_CXX=24 of them C++ (googletest)
#   FULL_SIZE=8M       size of the tmpfs of the disk-full episode (needs root; else skipped)
#   NO_DISK_FULL=1     skip the disk-full episode
#   SEED=1             random seed (sources, flags, edits, kill times)
#   ZCCACHE=path       zccache binary to test (default: cargo build --release -p zccache)
#   SOAK_DIR=dir       scratch dir (default: a new dir under ${TMPDIR:-/tmp}); kept afterwards
#                      when KEEP=1 or when the soak failed
#
# Sources, copied (edits never touch the originals): zstd, aws-lc, ring and BLAKE3 C sources
# vendored in ~/.cargo/registry/src (run `cargo fetch` in this repo first) and googletest's
# sources in /usr/src/googletest (`apt-get install googletest`). Objects only, no linking.
#
#   bash scripts/soak.sh                       # ~12 rounds, about 4,000 compiles
#   ROUNDS=3 JOBS=4 NO_DISK_FULL=1 bash scripts/soak.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

if [[ -z "${ZCCACHE:-}" ]]; then
    (cd "$repo" && cargo build --release -p zccache)
    target="${CARGO_TARGET_DIR:-$repo/target}"
    ZCCACHE="$target/release/zccache"
fi
[[ -x "$ZCCACHE" ]] || { echo "soak: $ZCCACHE is not an executable" >&2; exit 2; }
ZCCACHE="$(realpath "$ZCCACHE")"
command -v python3 >/dev/null || { echo "soak: python3 is required" >&2; exit 2; }
if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null; then
    echo "soak: gcc and g++ are required" >&2
    exit 2
fi

created=0
if [[ -z "${SOAK_DIR:-}" ]]; then
    SOAK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/zccache-soak.XXXXXX")"
    created=1
fi
mkdir -p "$SOAK_DIR"
SOAK_DIR="$(realpath "$SOAK_DIR")"

status=1
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    # Daemons of the soak's cache dirs and its tmpfs, whatever happened.
    python3 "$here/soak.py" --cleanup --work "$SOAK_DIR" --zccache "$ZCCACHE" || true
    if [[ "$status" == 0 && "${KEEP:-0}" != 1 && "$created" == 1 ]]; then
        rm -rf "$SOAK_DIR"
    else
        echo "soak: scratch dir kept: $SOAK_DIR" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

args=(--work "$SOAK_DIR" --zccache "$ZCCACHE"
      --rounds "${ROUNDS:-12}" --duration "${DURATION:-0}" --jobs "${JOBS:-8}"
      --kill-every "${KILL_EVERY:-3}" --max-sources "${MAX_SOURCES:-300}"
      --max-cxx "${MAX_CXX:-24}" --full-size "${FULL_SIZE:-8M}" --seed "${SEED:-1}")
if [[ "${NO_DISK_FULL:-0}" == 1 ]]; then
    args+=(--no-disk-full)
fi

set +e
python3 -u "$here/soak.py" "${args[@]}"
status=$?
set -e
exit "$status"
