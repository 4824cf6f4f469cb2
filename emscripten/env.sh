# shellcheck shell=sh
# emscripten/env.sh — route plain `emcc`/`em++` calls of any build system (Make, CMake via
# emcmake, Meson, autotools via emconfigure) through zccache, without editing the project.
#
#   . /path/to/zccache/emscripten/env.sh            # after `. emsdk_env.sh` when you use emsdk
#   ZCCACHE_EMSCRIPTEN_MODE=wrapper . .../env.sh    # only wrap emcc's inner clang calls
#
# Modes (ZCCACHE_EMSCRIPTEN_MODE):
#   masquerade (default) — a directory with `emcc` and `em++` symlinks to zccache goes first on
#       PATH. zccache sees argv[0] = emcc, finds the next real `emcc` on PATH (Debian's
#       /usr/bin/emcc, or emsdk's upstream/emscripten/emcc) and caches the whole emcc call:
#       a hit skips emcc's Python start-up and its clang/wasm-ld runs entirely. Links
#       (`-o app.js`/`.html`/`.wasm`) are cached too.
#   wrapper — sets EM_COMPILER_WRAPPER=zccache: emcc wraps each inner clang call with zccache
#       (emcc still starts every time; only the clang part is cached).
#   both — both of the above.
# Undo: `zccache_emscripten_off`.

_zccache_bin=${ZCCACHE_PROGRAM:-$(command -v zccache 2>/dev/null)}
if [ -z "$_zccache_bin" ]; then
    echo "zccache/emscripten/env.sh: zccache not found on PATH (set ZCCACHE_PROGRAM)" >&2
else
    _zccache_mode=${ZCCACHE_EMSCRIPTEN_MODE:-masquerade}
    case $_zccache_mode in
    masquerade | both)
        ZCCACHE_EMSCRIPTEN_BIN=${ZCCACHE_EMSCRIPTEN_BIN:-${XDG_DATA_HOME:-$HOME/.local/share}/zccache/emscripten-bin}
        mkdir -p "$ZCCACHE_EMSCRIPTEN_BIN"
        for _zccache_c in emcc em++; do
            ln -sf "$_zccache_bin" "$ZCCACHE_EMSCRIPTEN_BIN/$_zccache_c"
        done
        case ":$PATH:" in
        *":$ZCCACHE_EMSCRIPTEN_BIN:"*) ;;
        *) PATH=$ZCCACHE_EMSCRIPTEN_BIN:$PATH ;;
        esac
        export PATH ZCCACHE_EMSCRIPTEN_BIN
        ;;
    esac
    case $_zccache_mode in
    wrapper | both) EM_COMPILER_WRAPPER=$_zccache_bin; export EM_COMPILER_WRAPPER ;;
    esac
    unset _zccache_c _zccache_mode
fi
unset _zccache_bin

zccache_emscripten_off() {
    if [ -n "${ZCCACHE_EMSCRIPTEN_BIN:-}" ]; then
        PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vx "$ZCCACHE_EMSCRIPTEN_BIN" | paste -sd: -)
        export PATH
    fi
    unset EM_COMPILER_WRAPPER ZCCACHE_EMSCRIPTEN_BIN
}
