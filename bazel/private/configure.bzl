"""`zccache_cc_configure`: the repository rule that generates a zccache-backed C/C++ toolchain.

At fetch time (outside any sandbox, with the client's environment) it finds

* the host C/C++ compiler: attr `compiler`, else `$CC`, else `gcc`, `cc`, `clang` on PATH;
* the zccache binary: attr `zccache`, else `$ZCCACHE_PROGRAM`, else `zccache` on PATH;
* the cache dir: `$ZCCACHE_DIR`, else zccache's own default `~/.cache/zccache`, with `~` from
  `$HOME` or, when HOME is unset, the passwd entry;

then starts the zccache daemon for that cache dir, owned by the Bazel server (see
`_START_DAEMON`), and writes a repository holding

* `zccache_cc.sh`: `export ZCCACHE_DIR=<dir>; exec <zccache> <real compiler> "$@"` with all
  paths absolute (actions see neither HOME nor the client's PATH); it execs the real compiler
  directly if zccache is missing at configure time or vanishes later;
* `BUILD.bazel`: `cc_toolchain_config` + `cc_toolchain` using the script for compile actions
  only, a `toolchain()` named `toolchain` to register, and (Bazel < 7) a `cc_toolchain_suite`
  named `toolchain_suite` for `--crosstool_top`.
"""

_ENV = [
    "CC",
    "PATH",
    "HOME",
    "ZCCACHE_PROGRAM",
    "ZCCACHE_DIR",
    "ZCCACHE_BAZEL_NO_PREFIX_MAP",
]

def _sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"

def _starlark_list(items):
    return "[\n" + "".join(["        %s,\n" % repr(item) for item in items]) + "    ]"

def _which(rctx, name):
    """Absolute path of `name` (absolute path, or looked up on PATH), or None."""
    if not name:
        return None
    if name.startswith("/"):
        path = rctx.path(name)
        return str(path) if path.exists else None
    found = rctx.which(name)
    return str(found) if found else None

def _home(rctx):
    home = rctx.os.environ.get("HOME", "")
    if home:
        return home
    res = rctx.execute(["/bin/sh", "-c", "getent passwd \"$(id -u)\" | cut -d: -f6"])
    return res.stdout.strip() if res.return_code == 0 else ""

def _find_compiler(rctx):
    candidates = [rctx.attr.compiler, rctx.os.environ.get("CC", ""), "gcc", "cc", "clang"]
    for candidate in candidates:
        found = _which(rctx, candidate)
        if found:
            return found
    fail("zccache_cc_configure: no C/C++ compiler found (tried attr `compiler`, $CC, gcc, cc, clang)")

def _find_zccache(rctx):
    explicit = rctx.attr.zccache or rctx.os.environ.get("ZCCACHE_PROGRAM", "")
    if explicit:
        found = _which(rctx, explicit)
        if not found:
            print("zccache_cc_configure: zccache program %r not found; compiles will run uncached" % explicit)
        return found
    found = _which(rctx, "zccache")
    if not found:
        print("zccache_cc_configure: `zccache` not on PATH (set ZCCACHE_PROGRAM); compiles will run uncached")
    return found

def _supports(rctx, cc, flag):
    res = rctx.execute([cc, flag, "-Werror", "-xc", "-c", "/dev/null", "-o", "/dev/null"])
    return res.return_code == 0 and not ("unrecognized" in res.stderr or "unknown" in res.stderr)

def _is_clang(rctx, cc):
    res = rctx.execute([cc, "-xc", "-E", "-dM", "/dev/null"])
    return res.return_code == 0 and "__clang__" in res.stdout

def _normalize(path):
    """Lexically normalised absolute path (no `.`, `..` or empty segments), as Bazel requires."""
    parts = []
    for part in path.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)

def _builtin_include_dirs(rctx, cc):
    """The compiler's `#include <...>` search list for C and C++, as printed and canonicalised."""
    dirs = []
    for lang in ["c", "c++"]:
        res = rctx.execute([cc, "-E", "-x" + lang, "-", "-v"], environment = {"LC_ALL": "C"})

        # `-` reads stdin, which execute() leaves empty: same as `</dev/null`.
        inside = False
        for line in res.stderr.splitlines():
            if line.startswith("#include <...> search starts here:"):
                inside = True
            elif line.startswith("End of search list."):
                inside = False
            elif inside:
                entry = line.strip()
                if entry.endswith(" (framework directory)"):
                    entry = entry[:-len(" (framework directory)")]
                # Bazel checks included files (lexically normalised) against these; list the
                # symlink-resolved form too, in case the depfile names that one.
                for candidate in [_normalize(entry), _normalize(str(rctx.path(entry).realpath))]:
                    if candidate != "/" and candidate not in dirs:
                        dirs.append(candidate)
    if not dirs:
        fail("zccache_cc_configure: could not read the include search list of %s" % cc)
    return dirs

def _cpu(rctx):
    arch = rctx.os.arch if hasattr(rctx.os, "arch") else ""
    if not arch:
        res = rctx.execute(["uname", "-m"])
        arch = res.stdout.strip()
    return {
        "amd64": ("k8", "x86_64"),
        "x86_64": ("k8", "x86_64"),
        "aarch64": ("aarch64", "aarch64"),
        "arm64": ("aarch64", "aarch64"),
        "ppc64le": ("ppc", "ppc"),
        "s390x": ("s390x", "s390x"),
    }.get(arch, ("k8", "x86_64"))

def _tools(rctx):
    tools = {}
    for name in ["ar", "ld", "cpp", "gcov", "nm", "objcopy", "objdump", "strip", "dwp", "llvm-cov"]:
        found = _which(rctx, name)
        tools[name] = found or "/usr/bin/" + name
    return tools

def _bazel_major():
    version = native.bazel_version or ""
    head = version.split(".")[0]
    # Distribution and development builds report no version: assume an older Bazel.
    return int(head) if head.isdigit() else 0

_WRAPPER = """#!/bin/sh
# Generated by @zccache//:defs.bzl%zccache_cc_configure. Do not edit: re-run the configure step
# (it re-runs by itself when ZCCACHE_PROGRAM, ZCCACHE_DIR, CC or PATH change).
# Bazel runs this for compile actions only; link, ar and strip use the real tools.
REAL_CC={cc}
ZCCACHE={zccache}
export ZCCACHE_DIR={cache_dir}
# Tells zccache it runs inside a Bazel action: a daemon it would start here ends with the
# action, so it only connects to the daemon the configure step started (it lives as long as
# the Bazel server); without one it says so in the build output and compiles uncached.
export ZCCACHE_IN_BAZEL_ACTION=1
{prefix_map}
if [ -n "$ZCCACHE" ] && [ -x "$ZCCACHE" ]; then
  exec "$ZCCACHE" "$REAL_CC" "$@"
fi
exec "$REAL_CC" "$@"
"""

# gcc has no `-fdebug-compilation-dir`: when the action asks for debug info, map the working
# directory (a per-action `…/sandbox/linux-sandbox/<N>/execroot/<ws>` under linux-sandbox) to `.`.
# gcc records $PWD when it names the working directory (Bazel sets PWD=/proc/self/cwd), so pin
# PWD to the physical path: the map then covers exactly what gcc would record, and zccache sees a
# map of its cwd and can leave the cwd out of the key.
_PREFIX_MAP = """for arg in "$@"; do
  case "$arg" in
    -g0) ;;
    -g|-g[1-3]|-ggdb*|-gdwarf*)
      PWD=$(pwd -P) && export PWD && set -- "$@" "-fdebug-prefix-map=$PWD=."
      break ;;
  esac
done"""

_BUILD = """# Generated by @zccache//:defs.bzl%zccache_cc_configure.
# Compiler:  {cc} ({family})
# zccache:   {zccache}
# Cache dir: {cache_dir}
load("{rules_cc_defs}", "cc_toolchain"{suite_load})
load("{config_bzl}", "zccache_cc_toolchain_config")

package(default_visibility = ["//visibility:public"])

exports_files(["zccache_cc.sh"])

filegroup(
    name = "wrapper",
    srcs = ["zccache_cc.sh"],
)

filegroup(name = "empty")

zccache_cc_toolchain_config(
    name = "config",
    compiler = {cc_q},
    compiler_name = "{family}",
    cpu = "{cpu}",
    toolchain_identifier = "zccache-{family}",
    wrapper = ":zccache_cc.sh",
    tools = {tools},
    cxx_builtin_include_directories = {include_dirs},
    compile_flags = {compile_flags},
    dbg_compile_flags = {dbg_flags},
    opt_compile_flags = {opt_flags},
    cxx_flags = {cxx_flags},
    unfiltered_compile_flags = {unfiltered_flags},
    link_flags = {link_flags},
    opt_link_flags = {opt_link_flags},
    link_libs = {link_libs},
)

cc_toolchain(
    name = "cc_toolchain",
    all_files = ":wrapper",
    ar_files = ":empty",
    as_files = ":wrapper",
    compiler_files = ":wrapper",
    dwp_files = ":empty",
    linker_files = ":empty",
    objcopy_files = ":empty",
    strip_files = ":empty",
    supports_param_files = 1,
    toolchain_config = ":config",
    toolchain_identifier = "zccache-{family}",
)

# Register with `register_toolchains("@{name}//:toolchain")` (WORKSPACE or MODULE.bazel). Bazel < 7
# also needs `--incompatible_enable_cc_toolchain_resolution` (or use :toolchain_suite below).
toolchain(
    name = "toolchain",
    exec_compatible_with = [
        "{platforms}//cpu:{platform_cpu}",
        "{platforms}//os:linux",
    ],
    target_compatible_with = [
        "{platforms}//cpu:{platform_cpu}",
        "{platforms}//os:linux",
    ],
    toolchain = ":cc_toolchain",
    toolchain_type = "@bazel_tools//tools/cpp:toolchain_type",
)
{suite}"""

_SUITE = """
# Legacy selection for Bazel < 7 without toolchain resolution: --crosstool_top=@{name}//:toolchain_suite
cc_toolchain_suite(
    name = "toolchain_suite",
    toolchains = {{
        "{cpu}": ":cc_toolchain",
        "{cpu}|{family}": ":cc_toolchain",
    }},
)
"""

# Starts the daemon from the configure step, owned by the Bazel server: it then lives exactly as
# long as the server (no idle exit), and the next server (after `bazel shutdown`, `clean
# --expunge`, a crash) re-runs this rule (`local = True`: once per server and after `bazel
# clean`), which starts or adopts it again. Args: $1 = zccache.
#
# Bazel 4+ runs `repository_ctx.execute` under its `process-wrapper`, which makes itself a child
# subreaper (PR_SET_CHILD_SUBREAPER), runs the command in a new session and, once the command
# exits, SIGKILLs that session's process group and then every process reparented to it, until
# it has no children left: setsid, double forks and closed fds do not escape it. So, once the
# daemon answers (`zccache start` returns), this kills the process-wrapper itself: its
# orphans (the daemon, this shell) are reparented past it, to init, and survive. Bazel then
# sees exit status 137 for this command, which the rule ignores (it checks `zccache status`).
# Only a parent named `process-wrapper` is ever killed; without one (another Bazel, another
# OS) the parent is the server itself.
_START_DAEMON = """
parent=$PPID
comm=$(cat "/proc/$parent/comm" 2>/dev/null)
server=$parent
if [ "$comm" = process-wrapper ]; then
  server=
  while read -r key value _; do
    if [ "$key" = PPid: ]; then server=$value; fi
  done < "/proc/$parent/status"
fi
if [ -z "$server" ] || [ "$server" -le 1 ]; then
  echo "cannot find the Bazel server process (parent $parent: $comm)" >&2
  exit 3
fi
"$1" start --owner "$server" || exit
if [ "$comm" = process-wrapper ]; then
  kill -KILL "$parent"
fi
"""

def _start_daemon(rctx, zccache, cache_dir):
    """Starts (or adopts) the daemon owned by the Bazel server; warns in the build output if not."""
    env = {"ZCCACHE_DIR": cache_dir} if cache_dir else {}
    res = rctx.execute(["/bin/sh", "-c", _START_DAEMON, "zccache-start", zccache], environment = env, timeout = 60)
    status = rctx.execute([zccache, "status"], environment = env, timeout = 30)
    if status.return_code != 0:
        why = (res.stderr or res.stdout).strip() or "exit status %d" % res.return_code
        print(("zccache_cc_configure: could not start the zccache daemon for %s (%s); compiles " +
               "run uncached until one runs: run `zccache start` outside Bazel") % (cache_dir or "its default cache dir", why))

def _impl(rctx):
    cc = _find_compiler(rctx)
    zccache = _find_zccache(rctx)
    cache_dir = rctx.os.environ.get("ZCCACHE_DIR", "")
    if not cache_dir:
        home = _home(rctx)
        cache_dir = home + "/.cache/zccache" if home else ""
    clang = _is_clang(rctx, cc)
    family = "clang" if clang else "gcc"
    cpu, platform_cpu = _cpu(rctx)

    compile_flags = ["-U_FORTIFY_SOURCE", "-fstack-protector", "-Wall", "-fno-omit-frame-pointer"]
    if clang:
        compile_flags += ["-Wthread-safety", "-Wself-assign"]
    else:
        compile_flags += ["-Wunused-but-set-parameter", "-Wno-free-nonheap-object"]

    unfiltered = []
    if not clang and _supports(rctx, cc, "-fno-canonical-system-headers"):
        unfiltered.append("-fno-canonical-system-headers")
    unfiltered += [
        "-Wno-builtin-macro-redefined",
        "-D__DATE__=\"redacted\"",
        "-D__TIMESTAMP__=\"redacted\"",
        "-D__TIME__=\"redacted\"",
    ]

    dbg_flags = []
    prefix_map = ""
    if rctx.os.environ.get("ZCCACHE_BAZEL_NO_PREFIX_MAP", "") not in ["", "0"]:
        pass
    elif _supports(rctx, cc, "-fdebug-compilation-dir=."):
        dbg_flags.append("-fdebug-compilation-dir=.")
    elif _supports(rctx, cc, "-fdebug-prefix-map=/zccache-probe=."):
        prefix_map = _PREFIX_MAP

    link_flags = ["-Wl,-no-as-needed", "-Wl,-z,relro,-z,now"]
    if not clang:
        link_flags.append("-pass-exit-codes")

    if zccache and rctx.attr.start_daemon:
        _start_daemon(rctx, zccache, cache_dir)

    rctx.file("zccache_cc.sh", _WRAPPER.format(
        cc = _sh_quote(cc),
        zccache = _sh_quote(zccache or ""),
        cache_dir = _sh_quote(cache_dir) if cache_dir else "\"${ZCCACHE_DIR:-}\"",
        prefix_map = prefix_map,
    ), executable = True)

    major = _bazel_major()
    suite = _SUITE.format(name = rctx.name, cpu = cpu, family = family) if major < 7 else ""
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    rctx.file("BUILD.bazel", _BUILD.format(
        name = rctx.name,
        cc = cc,
        cc_q = repr(cc),
        family = family,
        zccache = zccache or "(not found: compiles run uncached)",
        cache_dir = cache_dir or "(zccache default)",
        cpu = cpu,
        platform_cpu = platform_cpu,
        tools = repr(_tools(rctx)),
        include_dirs = _starlark_list(_builtin_include_dirs(rctx, cc)),
        compile_flags = _starlark_list(compile_flags),
        dbg_flags = _starlark_list(dbg_flags),
        opt_flags = _starlark_list(["-g0", "-O2", "-D_FORTIFY_SOURCE=1", "-DNDEBUG", "-ffunction-sections", "-fdata-sections"]),
        cxx_flags = _starlark_list(["-std=c++17"]),
        unfiltered_flags = _starlark_list(unfiltered),
        link_flags = _starlark_list(link_flags),
        opt_link_flags = _starlark_list(["-Wl,--gc-sections"]),
        link_libs = _starlark_list(["-lstdc++", "-lm"]),
        rules_cc_defs = str(Label("@rules_cc//cc:defs.bzl")),
        config_bzl = str(Label("//private:cc_toolchain_config.bzl")),
        platforms = str(Label("@platforms//os:linux")).split("//")[0],
        suite_load = ", \"cc_toolchain_suite\"" if suite else "",
        suite = suite,
    ))

zccache_cc_configure = repository_rule(
    implementation = _impl,
    doc = "Generates a C/C++ toolchain whose compile actions are cached by zccache.",
    attrs = {
        "compiler": attr.string(doc = "C/C++ compiler driver (name on PATH or absolute path). Default: $CC, else gcc, cc, clang."),
        "zccache": attr.string(doc = "zccache binary (name or absolute path). Default: $ZCCACHE_PROGRAM, else `zccache` on PATH."),
        "start_daemon": attr.bool(
            default = True,
            doc = "Start the zccache daemon at configure time, owned by the Bazel server (it exits with the server). " +
                  "Without it, start one yourself (`zccache start`) before building.",
        ),
    },
    environ = _ENV,
    local = True,
    configure = True,
)
