"""bzlmod module extension for zccache (Bazel >= 6.3; not loadable by older Bazel).

MODULE.bazel:

    bazel_dep(name = "zccache", version = "0.1.0")
    local_path_override(module_name = "zccache", path = "/path/to/zccache/bazel")

    zccache = use_extension("@zccache//:extensions.bzl", "zccache")
    zccache.configure()  # optional attrs: compiler = "clang", zccache = "/opt/bin/zccache"
    use_repo(zccache, "zccache_cc")
    register_toolchains("@zccache_cc//:toolchain")

The generated repository is always named `zccache_cc`; if several modules configure it, the
root module's tag wins, then the first one seen.
"""

load("//private:configure.bzl", "zccache_cc_configure")

_configure = tag_class(attrs = {
    "compiler": attr.string(doc = "C/C++ compiler driver; default $CC, else gcc, cc, clang."),
    "zccache": attr.string(doc = "zccache binary; default $ZCCACHE_PROGRAM, else `zccache` on PATH."),
})

def _zccache_impl(mctx):
    chosen = None
    for mod in mctx.modules:
        for tag in mod.tags.configure:
            if chosen == None or (mod.is_root and not chosen[0]):
                chosen = (mod.is_root, tag)
    compiler = chosen[1].compiler if chosen else ""
    program = chosen[1].zccache if chosen else ""
    zccache_cc_configure(name = "zccache_cc", compiler = compiler, zccache = program)

zccache = module_extension(
    implementation = _zccache_impl,
    tag_classes = {"configure": _configure},
)
