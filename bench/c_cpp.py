#!/usr/bin/env python3
"""bench/c_cpp.py — C/C++ benchmark engine: bare gcc/g++ vs our zccache, ccache and the
reference zccache 1.15, timed with hyperfine.

Run it through `bash bench/c_cpp.sh`, which installs the peers and exports:
  BENCH_DIR, REPO_ROOT   where state and results go / the repo
  OURS_BIN, CCACHE_BIN, REF_BIN, SQLITE_C   (each may be empty: that column/row is n/a)

Knobs (environment):
  BENCH_ONLY=spawn,tiny,heavy,make,edit,sqlite   scenarios to run (default: all)
  BENCH_TOOLS=bare,ours,ccache,ref               contestants (default: all available)
  BENCH_QUICK=1                                   fewer runs, sqlite at -O0 (smoke test)
  BENCH_TINY_RUNS, BENCH_HEAVY_HIT_RUNS, BENCH_HEAVY_MISS_RUNS, BENCH_MAKE_RUNS,
  BENCH_EDIT_RUNS, BENCH_SQLITE_COLD_RUNS, BENCH_SQLITE_HIT_RUNS, BENCH_MAKE_FILES,
  BENCH_SQLITE_CFLAGS (default "-O2"), BENCH_CXXFLAGS (default "-O2 -std=c++17"),
  BENCH_CFLAGS (default "-O2")

Outputs: a table on stdout, $BENCH_DIR/results.md, $BENCH_DIR/results.json and every
hyperfine export under $BENCH_DIR/json/.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(os.environ.get("BENCH_DIR", "target/bench")).resolve()
REPO_ROOT = Path(os.environ.get("REPO_ROOT", Path(__file__).resolve().parent.parent))
FIXTURES = REPO_ROOT / "bench" / "fixtures"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


def knob(name: str, default: int, quick: int) -> int:
    return int(os.environ.get(name, quick if QUICK else default))


TINY_RUNS = knob("BENCH_TINY_RUNS", 100, 30)
HEAVY_HIT_RUNS = knob("BENCH_HEAVY_HIT_RUNS", 30, 10)
HEAVY_MISS_RUNS = knob("BENCH_HEAVY_MISS_RUNS", 3, 1)
MAKE_RUNS = knob("BENCH_MAKE_RUNS", 3, 1)
MAKE_FILES = knob("BENCH_MAKE_FILES", 200, 200)
EDIT_RUNS = knob("BENCH_EDIT_RUNS", 3, 1)
SQLITE_COLD_RUNS = knob("BENCH_SQLITE_COLD_RUNS", 1, 1)
SQLITE_HIT_RUNS = knob("BENCH_SQLITE_HIT_RUNS", 10, 5)
CFLAGS = shlex.split(os.environ.get("BENCH_CFLAGS", "-O2"))
CXXFLAGS = shlex.split(os.environ.get("BENCH_CXXFLAGS", "-O2 -std=c++17"))
SQLITE_CFLAGS = shlex.split(os.environ.get("BENCH_SQLITE_CFLAGS", "-O0" if QUICK else "-O2"))

SCENARIOS = ["spawn", "tiny", "heavy", "make", "edit", "sqlite"]
ONLY = [s for s in os.environ.get("BENCH_ONLY", ",".join(SCENARIOS)).split(",") if s]
TOOL_FILTER = [t for t in os.environ.get("BENCH_TOOLS", "bare,ours,ccache,ref").split(",") if t]

EDIT_MARK = "// bench-comment: "


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def loud(msg: str) -> None:
    bar = "!" * 72
    print(f"\n[bench] {bar}\n[bench] !!! {msg}\n[bench] {bar}\n", file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=cwd, check=check, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def clean_env() -> dict[str, str]:
    """The caller's environment minus every cache knob, so no contestant sees another's."""
    return {k: v for k, v in os.environ.items()
            if not (k.startswith("ZCCACHE_") or k.startswith("CCACHE_") or k.startswith("SCCACHE_"))}


# ----------------------------------------------------------------------------- contestants

class Tool:
    """One contestant: a wrapper prefix, its private cache dir and its admin commands."""

    name = "bare"
    label = "bare compiler"

    def __init__(self) -> None:
        self.cache_dir = BENCH_DIR / "caches" / self.name
        self.env = clean_env()
        self.prefix: list[str] = []

    # Shell snippet that empties the cache (used inside hyperfine --prepare).
    def clear_sh(self) -> str:
        return "true"

    def clear(self) -> None:
        r = run(["bash", "-c", self.clear_sh()], env=self.env, check=False)
        if r.returncode != 0:
            loud(f"{self.name}: clearing the cache failed: {r.stderr.strip()[:300]}")

    def fresh(self) -> None:
        """Stop any daemon, wipe the cache dir, start again."""

    def stop(self) -> None:
        pass

    def stats(self) -> tuple[int | None, int | None]:
        """(hits, misses) since the last clear, or None where unknown."""
        return (None, None)

    def version(self) -> str:
        r = run(["gcc", "--version"], check=False)
        return (r.stdout.splitlines() or ["?"])[0]


class Ccache(Tool):
    name = "ccache"
    label = "ccache"

    def __init__(self, binary: str) -> None:
        super().__init__()
        self.bin = binary
        self.prefix = [binary]
        self.env["CCACHE_DIR"] = str(self.cache_dir)
        # An empty config file of our own: no user/system ccache.conf leaks in.
        self.env["CCACHE_CONFIGPATH"] = str(BENCH_DIR / "caches" / "ccache.conf")

    def clear_sh(self) -> str:
        return f"{shlex.quote(self.bin)} -C >/dev/null && {shlex.quote(self.bin)} -z >/dev/null"

    def fresh(self) -> None:
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        self.cache_dir.mkdir(parents=True)
        Path(self.env["CCACHE_CONFIGPATH"]).write_text("")

    def stats(self) -> tuple[int | None, int | None]:
        r = run([self.bin, "--print-stats"], env=self.env, check=False)
        d = {}
        for line in r.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[1].strip().lstrip("-").isdigit():
                d[parts[0]] = int(parts[1])
        hits = d.get("direct_cache_hit", 0) + d.get("preprocessed_cache_hit", 0)
        return (hits, d.get("cache_miss"))

    def version(self) -> str:
        return run([self.bin, "--version"], check=False).stdout.splitlines()[0]


class DaemonCache(Tool):
    """zccache-style: `BIN <compiler> args`, `BIN clear`, `BIN stop`, a per-cache-dir daemon."""

    dir_var = "ZCCACHE_DIR"

    def __init__(self, binary: str) -> None:
        super().__init__()
        self.bin = binary
        self.prefix = [binary]
        self.env[self.dir_var] = str(self.cache_dir)

    def clear_sh(self) -> str:
        return f"{shlex.quote(self.bin)} clear >/dev/null"

    def stop(self) -> None:
        run([self.bin, "stop"], env=self.env, check=False)

    def start(self) -> None:
        # Spawn the daemon with a throwaway compile so no timed run pays for its start-up.
        scratch = BENCH_DIR / "work" / self.name / "start"
        scratch.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "tiny.c", scratch / "start.c")
        r = run(self.prefix + ["gcc", "-c", "start.c", "-o", "start.o"], env=self.env,
                cwd=scratch, check=False)
        if r.returncode != 0:
            loud(f"{self.name}: warm-up compile failed: {r.stderr.strip()[:300]}")

    def fresh(self) -> None:
        self.stop()
        time.sleep(0.3)
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        self.cache_dir.mkdir(parents=True)
        self.start()
        self.clear()

    def version(self) -> str:
        r = run([self.bin, "--version"], env=self.env, check=False)
        return (r.stdout.strip() or r.stderr.strip() or "?").splitlines()[0]


class Ours(DaemonCache):
    name = "ours"
    label = "zccache (ours)"
    dir_var = "ZCCACHE_DIR"

    def stats(self) -> tuple[int | None, int | None]:
        r = run([self.bin, "stats", "--json"], env=self.env, check=False)
        try:
            data = json.loads(r.stdout)
        except ValueError:
            return (None, None)
        flat: dict[str, float] = {}

        def walk(obj, path=""):
            if isinstance(obj, dict):
                for k, v in obj.items():
                    walk(v, f"{path}.{k}" if path else k)
            elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
                flat[path] = obj

        walk(data)

        def pick(names):
            for k, v in flat.items():
                if k.split(".")[-1] in names:
                    return int(v)
            return None

        return (pick({"hits", "cache_hits", "hit"}), pick({"misses", "cache_misses", "miss"}))


class Reference(DaemonCache):
    name = "ref"
    label = "zccache 1.15 (reference)"
    dir_var = "ZCCACHE_CACHE_DIR"  # the reference's name for the cache root

    def __init__(self, binary: str) -> None:
        super().__init__(binary)
        self.env["ZCCACHE_QUIET"] = "1"

    def start(self) -> None:
        run([self.bin, "start"], env=self.env, check=False)
        super().start()

    def stats(self) -> tuple[int | None, int | None]:
        r = run([self.bin, "status", "--json"], env=self.env, check=False)
        try:
            d = json.loads(r.stdout)["daemon"]
            return (d.get("cache_hits"), d.get("cache_misses"))
        except (ValueError, KeyError, TypeError):
            return (None, None)


def build_tools() -> list[Tool]:
    tools: list[Tool] = []
    wanted = set(TOOL_FILTER)
    if "bare" in wanted:
        tools.append(Tool())
    for name, var, cls in (("ours", "OURS_BIN", Ours), ("ccache", "CCACHE_BIN", Ccache),
                           ("ref", "REF_BIN", Reference)):
        if name not in wanted:
            log(f"{name}: skipped by BENCH_TOOLS")
            continue
        binary = os.environ.get(var, "")
        if binary and os.access(binary, os.X_OK):
            tools.append(cls(binary))
        else:
            loud(f"{name}: no binary ({var}={binary!r}) — its column will be n/a")
    return tools


# ----------------------------------------------------------------------------- measuring

class Bench:
    def __init__(self, tools: list[Tool]) -> None:
        self.tools = tools
        self.results: dict[str, dict[str, dict]] = {}  # row -> tool -> {median, ...}
        (BENCH_DIR / "json").mkdir(parents=True, exist_ok=True)

    def hyperfine(self, row: str, tool: Tool, cmd: list[str], cwd: Path, runs: int,
                  warmup: int = 0, prepare: str | None = None) -> None:
        export = BENCH_DIR / "json" / f"{row}.{tool.name}.json"
        hf = ["hyperfine", "-N", "--style", "none", "--runs", str(runs), "--warmup", str(warmup),
              "--export-json", str(export)]
        if prepare:
            hf += ["--prepare", shlex.join(["bash", "-c", prepare])]
        hf.append(shlex.join(cmd))
        before = tool.stats()
        log(f"{row:<16} {tool.name:<7} {runs} run(s): {shlex.join(cmd)[:110]}")
        r = subprocess.run(hf, env=tool.env, cwd=cwd, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            loud(f"{row}/{tool.name} FAILED (hyperfine exit {r.returncode}): "
                 f"{(r.stderr or r.stdout).strip()[-600:]}")
            self.results.setdefault(row, {})[tool.name] = {"error": r.stderr.strip()[-600:]}
            return
        res = json.loads(export.read_text())["results"][0]
        after = tool.stats()
        delta = [None if a is None or b is None else a - b for a, b in zip(after, before)]
        if any(x is not None and x < 0 for x in delta):
            # The prepare step cleared the cache and its counters: report what the last
            # run alone did.
            delta = list(after)
        entry = {"median_ms": res["median"] * 1e3, "mean_ms": res["mean"] * 1e3,
                 "min_ms": res["min"] * 1e3, "max_ms": res["max"] * 1e3,
                 "runs": len(res["times"]), "hits": delta[0], "misses": delta[1]}
        self.results.setdefault(row, {})[tool.name] = entry
        hm = "" if delta[0] is None else f"  (hits +{delta[0]}, misses +{delta[1]})"
        log(f"{'':<16} {'':<7} median {fmt_ms(entry['median_ms'])}{hm}")

    def record(self, row: str, tool: Tool, entry: dict) -> None:
        self.results.setdefault(row, {})[tool.name] = entry


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    if ms >= 10000:
        return f"{ms / 1000:.1f} s"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


# ----------------------------------------------------------------------------- fixtures

OLD = time.time() - 3600  # fixture mtimes: an hour ago (no "file too new" special cases)


def place(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    os.utime(dst, (OLD, OLD))
    return dst


def workdir(tool: Tool, scenario: str) -> Path:
    d = BENCH_DIR / "work" / tool.name / scenario
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def gen_make_project(d: Path, n: int) -> None:
    """n small C files, each a few functions over libc headers, and a plain Makefile."""
    (d / "src").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = f"""/* generated by bench/c_cpp.py: file {i} of {n} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item_{i} {{ int id; char name[32]; double weight; }};

static int cmp_{i}(const void *a, const void *b) {{
    const struct item_{i} *x = a, *y = b;
    return (x->weight > y->weight) - (x->weight < y->weight);
}}

double unit_{i}(int n) {{
    struct item_{i} *v = calloc((size_t)n, sizeof *v);
    double sum = 0;
    if (!v) return -1;
    for (int k = 0; k < n; k++) {{
        v[k].id = k;
        snprintf(v[k].name, sizeof v[k].name, "item-%d-%d", {i}, k);
        v[k].weight = (double)((k * {i + 7}) % 101) / 3.0 + (double)strlen(v[k].name);
    }}
    qsort(v, (size_t)n, sizeof *v, cmp_{i});
    for (int k = 0; k < n; k++) sum += v[k].weight * (k + 1);
    free(v);
    return sum;
}}
"""
        p = d / "src" / f"unit_{i:03d}.c"
        p.write_text(body)
        os.utime(p, (OLD, OLD))
    (d / "Makefile").write_text(
        "# generated by bench/c_cpp.py\n"
        "CC ?= gcc\n"
        f"CFLAGS ?= {shlex.join(CFLAGS)}\n"
        "SRCS := $(wildcard src/*.c)\n"
        "OBJS := $(SRCS:src/%.c=obj/%.o)\n"
        "all: $(OBJS)\n"
        "obj/%.o: src/%.c | obj\n"
        "\t$(CC) $(CFLAGS) -c $< -o $@\n"
        "obj:\n"
        "\tmkdir -p obj\n"
        "clean:\n"
        "\trm -rf obj\n"
        ".PHONY: all clean\n")


# ----------------------------------------------------------------------------- scenarios

def sc_spawn(b: Bench) -> None:
    bare = next((t for t in b.tools if t.name == "bare"), None) or Tool()
    b.hyperfine("spawn", bare, ["/bin/true"], BENCH_DIR, runs=300, warmup=20)


def sc_tiny(b: Bench) -> None:
    for t in b.tools:
        d = workdir(t, "tiny")
        place(FIXTURES / "tiny.c", d / "tiny.c")
        cmd = t.prefix + ["gcc", *CFLAGS, "-c", "tiny.c", "-o", "tiny.o"]
        if t.name == "bare":
            b.hyperfine("tiny_hit", t, cmd, d, runs=max(20, TINY_RUNS // 3), warmup=3)
        else:
            t.clear()
            b.hyperfine("tiny_hit", t, cmd, d, runs=TINY_RUNS, warmup=5)


def heavy_cmd(t: Tool) -> list[str]:
    return t.prefix + ["g++", *CXXFLAGS, "-c", "heavy.cpp", "-o", "heavy.o"]


def sc_heavy(b: Bench) -> None:
    for t in b.tools:
        d = workdir(t, "heavy")
        place(FIXTURES / "heavy.cpp", d / "heavy.cpp")
        if t.name == "bare":
            b.hyperfine("heavy_miss", t, heavy_cmd(t), d, runs=HEAVY_MISS_RUNS)
            continue
        b.hyperfine("heavy_miss", t, heavy_cmd(t), d, runs=HEAVY_MISS_RUNS,
                    prepare=f"{t.clear_sh()}; rm -f heavy.o")
        b.hyperfine("heavy_hit", t, heavy_cmd(t), d, runs=HEAVY_HIT_RUNS, warmup=2)


def sc_edit(b: Bench) -> None:
    """Comment-only edit of heavy.cpp (same line count), then compile, with a warm cache."""
    edit = ("sed -i \"s|^" + EDIT_MARK + ".*|" + EDIT_MARK +
            "$(date +%s%N)|\" heavy.cpp")
    for t in b.tools:
        if t.name == "bare":
            # The bare column is a bare compile of heavy.cpp (the heavy_miss row).
            if med(b.results, "heavy_miss", "bare") is None:
                d = workdir(t, "heavy")
                place(FIXTURES / "heavy.cpp", d / "heavy.cpp")
                b.hyperfine("heavy_miss", t, heavy_cmd(t), d, runs=HEAVY_MISS_RUNS)
            continue
        d = BENCH_DIR / "work" / t.name / "heavy"
        if not (d / "heavy.cpp").exists():
            d = workdir(t, "heavy")
        place(FIXTURES / "heavy.cpp", d / "heavy.cpp")
        # Warm the cache with the unedited file (a hit if `heavy` ran just before).
        r = run(heavy_cmd(t), env=t.env, cwd=d, check=False)
        if r.returncode != 0:
            loud(f"edit/{t.name}: warm-up compile failed: {r.stderr.strip()[:300]}")
        b.hyperfine("edit", t, heavy_cmd(t), d, runs=EDIT_RUNS, prepare=edit)
        place(FIXTURES / "heavy.cpp", d / "heavy.cpp")


def sc_make(b: Bench) -> None:
    for t in b.tools:
        d = workdir(t, "make")
        gen_make_project(d, MAKE_FILES)
        cmd = ["make", "-s", "-j2", "CC=" + shlex.join(t.prefix + ["gcc"])]
        if t.name == "bare":
            b.hyperfine("make_cold", t, cmd, d, runs=MAKE_RUNS, prepare="make -s clean")
            continue
        b.hyperfine("make_cold", t, cmd, d, runs=MAKE_RUNS,
                    prepare=f"make -s clean && {t.clear_sh()}")
        b.hyperfine("make_warm", t, cmd, d, runs=MAKE_RUNS, warmup=1, prepare="make -s clean")


def sc_sqlite(b: Bench) -> None:
    sqlite_c = os.environ.get("SQLITE_C", "")
    if not sqlite_c or not Path(sqlite_c).is_file():
        loud(f"sqlite: no sqlite3.c (SQLITE_C={sqlite_c!r}) — sqlite rows are n/a")
        return
    src = place(Path(sqlite_c), BENCH_DIR / "work" / "sqlite-src" / "sqlite3.c")
    for t in b.tools:
        d = workdir(t, "sqlite")
        cmd = t.prefix + ["gcc", *SQLITE_CFLAGS, "-c", str(src), "-o", "sqlite3.o"]
        if t.name == "bare":
            b.hyperfine("sqlite_miss", t, cmd, d, runs=SQLITE_COLD_RUNS)
            continue
        b.hyperfine("sqlite_miss", t, cmd, d, runs=SQLITE_COLD_RUNS,
                    prepare=f"{t.clear_sh()}; rm -f sqlite3.o")
        b.hyperfine("sqlite_hit", t, cmd, d, runs=SQLITE_HIT_RUNS, warmup=1)


# ----------------------------------------------------------------------------- report

ROWS = [
    # key, label, which bare row to compare against
    ("spawn", "spawn `/bin/true` (baseline)", "spawn"),
    ("tiny_hit", "tiny C: hit (bare = compile)", "tiny_hit"),
    ("heavy_hit", "heavy C++: hit", "heavy_miss"),
    ("heavy_miss", "heavy C++: cold miss", "heavy_miss"),
    ("edit", "heavy C++: comment-only edit", "heavy_miss"),
    ("make_cold", f"{MAKE_FILES}-file make -j2: cold", "make_cold"),
    ("make_warm", f"{MAKE_FILES}-file make -j2: all-hit rebuild", "make_cold"),
    ("sqlite_miss", "sqlite3.c: cold miss", "sqlite_miss"),
    ("sqlite_hit", "sqlite3.c: hit", "sqlite_miss"),
]

TARGETS = [
    ("tiny_hit", "ours", "ccache", "tiny-C hit vs ccache's hit"),
    ("heavy_hit", "ours", "ref", "heavy C++ hit vs the reference's hit"),
    ("make_warm", "ours", "ccache", f"{MAKE_FILES}-file all-hit rebuild vs ccache's"),
    ("make_cold", "ours", "bare", f"{MAKE_FILES}-file cold build vs bare"),
    ("heavy_miss", "ours", "bare", "heavy C++ miss vs bare"),
    ("edit", "ours", "bare", "comment-only edit vs a bare compile of that file"),
    ("sqlite_miss", "ours", "bare", "sqlite3.c cold miss vs bare"),
]


def med(results, row, tool) -> float | None:
    e = results.get(row, {}).get(tool)
    return e.get("median_ms") if e else None


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    r = a / b
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def bare_value(results, row, bare_row) -> float | None:
    return med(results, bare_row, "bare")


def render(results: dict, meta: dict) -> str:
    out = []
    out.append("# zccache C/C++ benchmark results\n")
    out.append(f"- date: {meta['date']}")
    out.append(f"- host: {meta['host']}")
    for k, v in meta["versions"].items():
        out.append(f"- {k}: {v}")
    out.append(f"- load average: {meta['load_before']} before, {meta['load_after']} after")
    out.append(f"- flags: C `{shlex.join(CFLAGS)}`, C++ `{shlex.join(CXXFLAGS)}`, "
               f"sqlite `{shlex.join(SQLITE_CFLAGS)}`" + ("  (BENCH_QUICK)" if QUICK else ""))
    out.append("")
    out.append("Medians of wall time. The `bare` column of a hit row is a bare compile of the "
               "same file; ratios < 1 mean the left-hand side is faster.\n")
    head = ["scenario", "bare", "ours", "ccache", "ref", "ours/bare", "ours/ccache",
            "ours/ref", "ccache/bare", "ref/bare"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for key, label, bare_row in ROWS:
        if key not in results:
            continue
        bare = bare_value(results, key, bare_row)
        o, c, r = (med(results, key, t) for t in ("ours", "ccache", "ref"))
        cells = [label, fmt_ms(bare), fmt_ms(o), fmt_ms(c), fmt_ms(r),
                 ratio(o, bare), ratio(o, c), ratio(o, r), ratio(c, bare), ratio(r, bare)]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("## Targets\n")
    out.append("| target | ours | vs | ratio |")
    out.append("|---|---:|---:|---:|")
    for key, a, bname, label in TARGETS:
        if key not in results:
            continue
        bare_row = next(br for k, _, br in ROWS if k == key)
        av = med(results, key, a)
        bv = bare_value(results, key, bare_row) if bname == "bare" else med(results, key, bname)
        out.append(f"| {label} | {fmt_ms(av)} | {bname} {fmt_ms(bv)} | {ratio(av, bv)} |")
    out.append("")
    out.append("## Cache counters per measurement (hits / misses added during the timed runs,"
               " incl. warm-up)\n")
    out.append("| scenario | ours | ccache | ref |")
    out.append("|---|---:|---:|---:|")
    for key, label, _ in ROWS:
        if key not in results or key == "spawn":
            continue
        cells = []
        for t in ("ours", "ccache", "ref"):
            e = results[key].get(t)
            if not e:
                cells.append("n/a")
            elif "error" in e:
                cells.append("FAILED")
            elif e.get("hits") is None:
                cells.append("?")
            else:
                cells.append(f"{e['hits']} / {e['misses']}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    failed = [(k, t) for k, v in results.items() for t, e in v.items() if "error" in e]
    if failed:
        out.append("")
        out.append("**Failed measurements:** " + ", ".join(f"{k}/{t}" for k, t in failed))
    return "\n".join(out) + "\n"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    if shutil.which("hyperfine") is None:
        loud("hyperfine is not installed (apt-get install hyperfine)")
        return 1
    tools = build_tools()
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": f"{os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs",
        "versions": {t.name: t.version() for t in tools},
        "load_before": loadavg(),
    }
    if "bare" not in meta["versions"]:
        meta["versions"]["gcc"] = Tool().version()
    for t in tools:
        log(f"contestant {t.name}: {meta['versions'][t.name]}")
        t.fresh()
    b = Bench(tools)
    funcs = {"spawn": sc_spawn, "tiny": sc_tiny, "heavy": sc_heavy, "edit": sc_edit,
             "make": sc_make, "sqlite": sc_sqlite}
    t0 = time.time()
    try:
        for s in SCENARIOS:
            if s in ONLY:
                log(f"=== scenario {s} ===")
                funcs[s](b)
            else:
                log(f"=== scenario {s}: skipped by BENCH_ONLY ===")
    finally:
        for t in tools:
            t.stop()
    meta["load_after"] = loadavg()
    meta["elapsed_s"] = round(time.time() - t0, 1)
    md = render(b.results, meta)
    (BENCH_DIR / "results.md").write_text(md)
    (BENCH_DIR / "results.json").write_text(json.dumps({"meta": meta, "results": b.results},
                                                       indent=2))
    print()
    print(md)
    log(f"done in {meta['elapsed_s']} s; wrote {BENCH_DIR / 'results.md'} and results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
