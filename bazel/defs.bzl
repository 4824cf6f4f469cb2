"""Public API of the `@zccache` Bazel repository.

WORKSPACE usage (see docs/bazel.md):

    local_repository(name = "zccache", path = "/path/to/zccache/bazel")
    load("@zccache//:defs.bzl", "zccache_cc_configure")
    zccache_cc_configure(name = "zccache_cc")
    register_toolchains("@zccache_cc//:toolchain")

and, for Bazel < 7, `build --incompatible_enable_cc_toolchain_resolution` in `.bazelrc`.
"""

load("//private:cc_toolchain_config.bzl", _zccache_cc_toolchain_config = "zccache_cc_toolchain_config")
load("//private:configure.bzl", _zccache_cc_configure = "zccache_cc_configure")

zccache_cc_configure = _zccache_cc_configure
zccache_cc_toolchain_config = _zccache_cc_toolchain_config
