#!/usr/bin/env python3
"""zccache soak test driver (run through scripts/soak.sh, which owns the knobs and the trap).

Owns: a scratch dir (copies of real C/C++ sources, two cache dirs, the objects) and the zccache
daemons of those cache dirs; nothing else. Rounds of compiling every source through zccache at
-j$JOBS with mixed flags, random header edits between rounds, a killer that SIGKILLs the
daemon every few seconds, `zccache clear` and `zccache stop` + `zccache start` in the middle of
a round, a disk-full episode (the cache dir on a small tmpfs). Every object compiled through
zccache is compared with a bare compile of the same source and flags at the same header state.

How outcomes are counted (the daemon is SIGKILLed, so its own counters lose what it had not
persisted): zccache's log (ZCCACHE_LOG, a filter that keeps one line per decision) is
appended to one file outside every cache dir (a symlink in each cache dir points to it), by
the wrapper and by every daemon instance, unbuffered, so SIGKILL loses nothing written.
  hits        = daemon lines `hit (direct|preprocessor) <src> -> <out>` (logged after the
                answer was sent; the wrapper needs no daemon after that)
  fallbacks   = wrapper lines `running the compiler uncached` (no daemon reachable, or the
                conversation broke) and `re-running uncached` (the daemon died after the
                compiler ran): compiles the wrapper ran uncached because of a daemon fault
  uncacheable = wrapper lines `uncacheable: <reason>` (the daemon answered "run it uncached")
  misses      = compiles - hits - fallbacks - uncacheable (the daemon told the wrapper to
                compile and store); the daemon's own `miss <src> -> <out>` lines are counted
                too as a cross-check (a miss whose daemon was killed between answering and
                journaling has no line).
Bare references are memoized by (source, flags, SHA-256 of every file in the bare compile's
depfile): a bare compile is re-run whenever any file the source reads changed.
"""

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

# ---------------------------------------------------------------------------------------------
# Sources

CARGO_REG = os.path.expanduser("~/.cargo/registry/src")


def registry_dir(prefix):
    if not os.path.isdir(CARGO_REG):
        return None
    for index in sorted(os.listdir(CARGO_REG)):
        base = os.path.join(CARGO_REG, index)
        for name in sorted(os.listdir(base), reverse=True):
            if name.startswith(prefix):
                return os.path.join(base, name)
    return None


def find_files(root, exts, exclude=()):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            if f.endswith(exts) and not any(re.search(x, rel) for x in exclude):
                out.append(rel)
    return out


def gather_projects(src_root, log):
    """Copies the source trees into src_root; returns (name, lang, rel source, include flags)."""
    projects = []
    zstd = registry_dir("zstd-sys-")
    if zstd and os.path.isdir(os.path.join(zstd, "zstd/lib")):
        projects.append(("zstd", os.path.join(zstd, "zstd/lib"), "c",
                         ["-Izstd", "-Izstd/common", "-DZSTD_MULTITHREAD=0",
                          "-DZSTD_LEGACY_SUPPORT=0"], (r"legacy/", r"deprecated/")))
    awslc = registry_dir("aws-lc-sys-")
    if awslc and os.path.isdir(os.path.join(awslc, "aws-lc")):
        projects.append(("awslc", os.path.join(awslc, "aws-lc"), "c",
                         ["-Iawslc/include"],
                         (r"test", r"^crypto/fipsmodule/", r"^tool", r"^util", r"^ssl/",
                          r"^third_party/", r"^tests/", r"_win\.c$", r"windows", r"^provider")))
    ring = registry_dir("ring-0.17")
    if ring:
        projects.append(("ring", ring, "c", ["-Iring/include"],
                         (r"test", r"^third_party", r"^pregenerated", r"^src/", r"^tests/")))
    blake3 = registry_dir("blake3-")
    if blake3 and os.path.isdir(os.path.join(blake3, "c")):
        projects.append(("blake3", os.path.join(blake3, "c"), "c",
                         ["-DBLAKE3_NO_AVX512", "-DBLAKE3_NO_AVX2", "-DBLAKE3_NO_SSE41",
                          "-DBLAKE3_NO_SSE2"],
                         (r"avx|sse|neon|tbb|example|main\.c|dependencies|cmake",)))
    gtest = "/usr/src/googletest"
    if os.path.isdir(gtest):
        projects.append(("gtest", gtest, "c++",
                         ["-std=c++17", "-Igtest/googletest/include", "-Igtest/googletest",
                          "-Igtest/googlemock/include", "-Igtest/googlemock"],
                         (r"gtest-all\.cc", r"gmock-all\.cc", r"samples/", r"_\.cc$",
                          r"death-test", r"(?<!googletest)-param-test", r"pcre")))
    out = []
    for name, path, lang, incs, exclude in projects:
        dest = os.path.join(src_root, name)
        if not os.path.isdir(dest):
            shutil.copytree(path, dest, symlinks=False,
                            ignore=shutil.ignore_patterns(".git", "target", "*.o", "*.a"))
        exts = (".c",) if lang == "c" else (".cc", ".cpp")
        files = find_files(dest, exts, exclude)
        log(f"  {name}: {len(files)} candidate {lang} sources from {path}")
        for rel in files:
            out.append((name, lang, os.path.join(name, rel), incs))
    return out


C_VARIANTS = [["-O0"], ["-O2"], ["-O0", "-g"], ["-O2", "-g"], ["-O1", "-DNDEBUG"], ["-Os"]]
CXX_VARIANTS = [["-O0"], ["-O1"], ["-O0", "-g"], ["-O2"]]


# ---------------------------------------------------------------------------------------------
# Daemons of our cache dirs


def our_daemons(exe, cache_dirs):
    """pid -> cache dir of every running `zccache daemon` of this binary serving our dirs."""
    found = {}
    wanted = {os.path.realpath(d) for d in cache_dirs}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.path.realpath(f"/proc/{pid}/exe") != exe:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if len(argv) < 2 or argv[1] != b"daemon":
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        for item in env:
            if item.startswith(b"ZCCACHE_DIR="):
                d = os.path.realpath(item[len(b"ZCCACHE_DIR="):].decode(errors="replace"))
                if d in wanted:
                    found[int(pid)] = d
    return found


def proc_status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def count_reason(counts, line):
    """Counts the reason after `uncacheable: ` in a decision log line."""
    reason = line.split("uncacheable: ", 1)[1].strip()
    counts[reason] = counts.get(reason, 0) + 1


class Monitor:
    """Samples the peak RSS of every daemon instance; SIGKILLs the daemon every few seconds."""

    def __init__(self, exe, cache_dirs, kill_every, rng, log):
        self.exe, self.cache_dirs, self.kill_every = exe, cache_dirs, kill_every
        self.rng, self.log = rng, log
        self.stop = threading.Event()
        self.killing = threading.Event()
        self.busy = threading.Event()  # set while a round's compiles run
        self.kills = 0
        self.kills_busy = 0
        self.peak_hwm_kb = 0
        self.peak_pid = None
        self.instances = set()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._sample, daemon=True),
                        threading.Thread(target=self._kill, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)

    def sample_once(self):
        for pid in our_daemons(self.exe, self.cache_dirs):
            hwm = proc_status_kb(pid, "VmHWM") or proc_status_kb(pid, "VmRSS") or 0
            with self.lock:
                self.instances.add(pid)
                if hwm > self.peak_hwm_kb:
                    self.peak_hwm_kb, self.peak_pid = hwm, pid

    def _sample(self):
        while not self.stop.wait(0.25):
            self.sample_once()

    def _kill(self):
        while True:
            delay = self.kill_every * self.rng.uniform(0.5, 1.5)
            if self.stop.wait(delay):
                return
            if not self.killing.is_set():
                continue
            self.sample_once()  # the victim's last peak
            for pid in our_daemons(self.exe, self.cache_dirs):
                try:
                    os.kill(pid, signal.SIGKILL)
                    with self.lock:
                        self.kills += 1
                        if self.busy.is_set():
                            self.kills_busy += 1
                except ProcessLookupError:
                    pass


# ---------------------------------------------------------------------------------------------
# The soak


class Soak:
    def __init__(self, args):
        self.a = args
        self.work = os.path.abspath(args.work)
        self.src = os.path.join(self.work, "src")
        self.pristine = os.path.join(self.work, "pristine")
        self.out_zc = os.path.join(self.work, "out", "zc")
        self.out_bare = os.path.join(self.work, "out", "bare")
        self.main_cache = os.path.join(self.work, "cache")
        self.full_mount = os.path.join(self.work, "full")
        self.full_cache = os.path.join(self.full_mount, "cache")
        self.logfile = os.path.join(self.work, "zccache.log")
        self.exe = os.path.realpath(args.zccache)
        self.rng = random.Random(args.seed)
        self.cache = self.main_cache
        self.t0 = time.time()
        self.events = []
        self.counts = dict(compiles=0, failed=0, wrong=0, stderr_diff=0, bare_runs=0,
                           bare_memo=0, edits=0, reverts=0, touches=0, comments=0)
        self.wrong_list = []
        self.failed_list = []
        self.bare_memo = {}  # (id, deps digest) -> (sha256 of object, stderr)
        self.deps = {}  # id -> list of dep paths (relative to src)
        self.header_states = {}
        self.mounted = False
        self.log_pos = 0
        self.log_counts = dict(hit_direct=0, hit_pp=0, miss_line=0, miss_uncacheable_line=0,
                               fallback_unavailable=0, fallback_conversation=0,
                               fallback_lost=0, uncacheable=0, hit_unusable=0)
        self.uncacheable_reasons = {}
        self.late_reasons = {}
        self.round_rows = []
        self.monitor = Monitor(self.exe, [self.main_cache, self.full_cache],
                               args.kill_every, random.Random(args.seed + 1), self.say)

    def say(self, msg):
        print(f"[soak {time.time() - self.t0:7.1f}s] {msg}", flush=True)

    def event(self, msg):
        self.events.append(f"{time.time() - self.t0:.0f}s: {msg}")
        self.say(msg)

    # -- environment ----------------------------------------------------------------------

    def zc_env(self, cache):
        env = dict(os.environ)
        env["ZCCACHE_DIR"] = cache
        env["ZCCACHE_LOG"] = ("warn,zccache::daemon::compile=debug,"
                              "zccache::daemon::explain=debug,zccache::client=debug")
        env.pop("ZCCACHE_DISABLE", None)
        return env

    def prepare_cache(self, cache):
        os.makedirs(cache, mode=0o700, exist_ok=True)
        link = os.path.join(cache, "zccache.log")
        if not os.path.islink(link):
            if os.path.exists(link):
                os.remove(link)
            os.symlink(self.logfile, link)

    def zccache(self, *argv, cache=None, timeout=120):
        cache = cache or self.cache
        return subprocess.run([self.exe, *argv], env=self.zc_env(cache), cwd=self.work,
                              capture_output=True, text=True, timeout=timeout)

    # -- setup ----------------------------------------------------------------------------

    def setup(self):
        os.makedirs(self.src, exist_ok=True)
        for d in (self.out_zc, self.out_bare):
            os.makedirs(d, exist_ok=True)
        open(self.logfile, "a").close()
        self.prepare_cache(self.main_cache)
        os.makedirs(self.full_mount, exist_ok=True)
        self.say(f"copying sources into {self.src}")
        candidates = gather_projects(self.src, self.say)
        if not candidates:
            sys.exit("soak: no sources found (cargo fetch in the repo; apt-get install googletest)")
        rng = random.Random(self.a.seed)
        rng.shuffle(candidates)
        cxx = [c for c in candidates if c[1] == "c++"][: self.a.max_cxx]
        cc = [c for c in candidates if c[1] == "c"][: max(0, self.a.max_sources - len(cxx))]
        picked = sorted(cc + cxx, key=lambda c: c[2])
        self.units = []
        for i, (proj, lang, rel, incs) in enumerate(picked):
            variants = C_VARIANTS if lang == "c" else CXX_VARIANTS
            chosen = [rng.choice(variants)]
            if rng.random() < self.a.second_variant:
                other = rng.choice(variants)
                if other != chosen[0]:
                    chosen.append(other)
            for v, flags in enumerate(chosen):
                uid = f"{i:04d}-{v}-{os.path.basename(rel).replace('.', '_')}"
                self.units.append(dict(id=uid, proj=proj, lang=lang, src=rel,
                                       cc="gcc" if lang == "c" else "g++",
                                       args=[*flags, *incs, "-c", rel]))
        self.say(f"probing {len(self.units)} compiles of {len(picked)} sources with a bare "
                 f"compile (-j{self.a.jobs})")
        results = self.pool_map(self.bare_compile_fresh, self.units)
        keep = [u for u, ok in zip(self.units, results) if ok]
        dropped = len(self.units) - len(keep)
        self.units = keep
        n_src = len({u["src"] for u in self.units})
        self.say(f"{len(self.units)} compiles of {n_src} sources kept ({dropped} did not "
                 f"compile bare and were dropped); "
                 f"{sum(u['lang'] == 'c++' for u in self.units)} are C++")
        # Headers the sources read inside the scratch tree: the edit candidates.
        fan = {}
        for u in self.units:
            for d in self.deps.get(u["id"], []):
                if d.endswith((".h", ".hpp", ".inc")) and not os.path.isabs(d):
                    fan.setdefault(d, set()).add(u["src"])
        self.headers = sorted(fan)
        self.fanout = {h: len(s) for h, s in fan.items()}
        os.makedirs(self.pristine, exist_ok=True)
        for h in self.headers:
            dest = os.path.join(self.pristine, h)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.join(self.src, h), dest)
        self.say(f"{len(self.headers)} headers in the scratch tree are edit candidates")

    def pool_map(self, fn, items):
        with cf.ThreadPoolExecutor(max_workers=self.a.jobs) as pool:
            return list(pool.map(fn, items))

    # -- bare references ------------------------------------------------------------------

    def file_digest(self, rel, cache):
        if rel not in cache:
            path = rel if os.path.isabs(rel) else os.path.join(self.src, rel)
            try:
                with open(path, "rb") as f:
                    cache[rel] = hashlib.sha256(f.read()).hexdigest()
            except OSError:
                cache[rel] = "absent"
        return cache[rel]

    def deps_key(self, unit, digests):
        deps = self.deps.get(unit["id"])
        if deps is None:
            return None
        h = hashlib.sha256()
        for d in deps:
            h.update(d.encode() + b"\0" + self.file_digest(d, digests).encode() + b"\0")
        return (unit["id"], h.hexdigest())

    def bare_compile_fresh(self, unit):
        """Bare compile; records deps, memoizes the result. Returns True if it compiled."""
        obj = os.path.join(self.out_bare, unit["id"] + ".o")
        dep = os.path.join(self.out_bare, unit["id"] + ".d")
        for p in (obj, dep):
            if os.path.exists(p):
                os.remove(p)
        p = subprocess.run([unit["cc"], *unit["args"], "-o", obj, "-MD", "-MF", dep],
                           cwd=self.src, capture_output=True)
        self.counts["bare_runs"] += 1
        if p.returncode != 0:
            return False
        with open(dep) as f:
            text = f.read().replace("\\\n", " ")
        deps = sorted(set(text.split(":", 1)[1].split()))
        self.deps[unit["id"]] = deps
        with open(obj, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        key = self.deps_key(unit, {})
        self.bare_memo[key] = (digest, p.stderr)
        return True

    # -- compiles through zccache ---------------------------------------------------------

    def zc_compile(self, unit, cache):
        obj = os.path.join(self.out_zc, unit["id"] + ".o")
        t = time.time()
        try:
            p = subprocess.run([self.exe, unit["cc"], *unit["args"], "-o", obj], cwd=self.src,
                               env=self.zc_env(cache), capture_output=True, timeout=600)
            rc, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            rc, err = "timeout", b""
        return dict(unit=unit, rc=rc, stderr=err, secs=time.time() - t, obj=obj)

    def check(self, results):
        """Compares every zccache object with the bare reference at this header state."""
        digests = {}
        todo = []
        for r in results:
            key = self.deps_key(r["unit"], digests)
            if key is None or key not in self.bare_memo:
                todo.append(r["unit"])
        self.counts["bare_memo"] += len(results) - len(todo)
        ok = self.pool_map(self.bare_compile_fresh, todo)
        for u, good in zip(todo, ok):
            if not good:
                self.say(f"bare compile of {u['id']} failed at this header state")
        digests = {}
        for r in results:
            u = r["unit"]
            self.counts["compiles"] += 1
            if r["rc"] != 0:
                self.counts["failed"] += 1
                self.failed_list.append((u["id"], r["rc"], r["stderr"][-2000:]))
                self.say(f"FAILED compile {u['id']} rc={r['rc']}: "
                         f"{r['stderr'][-500:].decode(errors='replace')}")
                continue
            ref = self.bare_memo.get(self.deps_key(u, digests))
            if ref is None:
                self.counts["wrong"] += 1
                self.wrong_list.append((u["id"], "no bare reference"))
                continue
            try:
                with open(r["obj"], "rb") as f:
                    got = hashlib.sha256(f.read()).hexdigest()
            except OSError as e:
                got = f"missing: {e}"
            if got != ref[0]:
                self.counts["wrong"] += 1
                keep = os.path.join(self.work, "wrong")
                os.makedirs(keep, exist_ok=True)
                if os.path.exists(r["obj"]):
                    shutil.copy(r["obj"], os.path.join(keep, f"{u['id']}.r{self.round}.zc.o"))
                self.wrong_list.append((u["id"], f"round {self.round}: {got} != {ref[0]}"))
                self.say(f"WRONG object {u['id']} (round {self.round})")
            if r["stderr"] != ref[1]:
                self.counts["stderr_diff"] += 1
                if self.counts["stderr_diff"] <= 5:
                    self.say(f"stderr differs for {u['id']}: zccache "
                             f"{r['stderr'][:300]!r} bare {ref[1][:300]!r}")

    # -- header edits ---------------------------------------------------------------------

    def edit_headers(self):
        n = self.rng.randint(1, self.a.edits)
        total = len({u["src"] for u in self.units})
        narrow = [h for h in self.headers if self.fanout[h] <= max(3, total // 6)]
        wide = [h for h in self.headers if h not in narrow]
        done = []
        for _ in range(n):
            pool = wide if (wide and self.rng.random() < 0.12) else narrow or self.headers
            h = self.rng.choice(pool)
            path = os.path.join(self.src, h)
            edited = self.header_states.get(h, 0) > 0
            roll = self.rng.random()
            if edited and roll < 0.3:
                shutil.copyfile(os.path.join(self.pristine, h), path)
                self.header_states[h] = 0
                self.counts["reverts"] += 1
                done.append(f"revert {h}")
            elif roll < 0.4:
                os.utime(path)
                self.counts["touches"] += 1
                done.append(f"touch {h}")
            elif roll < 0.55:
                with open(path, "rb") as f:
                    data = f.read()
                lines = data.rstrip(b"\n").split(b"\n")
                if lines and not lines[-1].rstrip().endswith(b"\\") \
                        and b"//" not in lines[-1] and b"/*" not in lines[-1]:
                    lines[-1] += b" /* soak %d */" % self.rng.randint(0, 1 << 30)
                    with open(path, "wb") as f:
                        f.write(b"\n".join(lines) + b"\n")
                    self.header_states[h] = self.header_states.get(h, 0) + 1
                    self.counts["comments"] += 1
                    done.append(f"comment {h}")
            else:
                n_def = self.rng.randint(0, 1 << 30)
                with open(path, "ab") as f:
                    f.write(b"\n#define ZCCACHE_SOAK_%d %d\n" % (n_def, n_def))
                self.header_states[h] = self.header_states.get(h, 0) + 1
                self.counts["edits"] += 1
                done.append(f"define in {h} (read by {self.fanout[h]} sources)")
        return done

    # -- log accounting -------------------------------------------------------------------

    def read_log(self):
        with open(self.logfile, "rb") as f:
            f.seek(self.log_pos)
            data = f.read()
        # Only whole lines; a partial last line is read next time.
        end = data.rfind(b"\n") + 1
        self.log_pos += end
        c = self.log_counts
        for raw in data[:end].split(b"\n"):
            line = raw.decode(errors="replace")
            if " hit (direct) " in line:
                c["hit_direct"] += 1
            elif " hit (preprocessor) " in line:
                c["hit_pp"] += 1
            elif re.search(r" miss \S+ -> \S+: uncacheable: ", line):
                c["miss_uncacheable_line"] += 1
                count_reason(self.late_reasons, line)
            elif re.search(r" miss \S+ -> \S+: ", line):
                c["miss_line"] += 1
            elif "daemon unavailable" in line and "running the compiler uncached" in line:
                c["fallback_unavailable"] += 1
            elif "daemon conversation failed" in line:
                c["fallback_conversation"] += 1
            elif "daemon lost after compiling" in line:
                c["fallback_lost"] += 1
            elif "cached result unusable" in line:
                c["hit_unusable"] += 1
            elif re.search(r"\buncacheable: ", line):
                c["uncacheable"] += 1
                count_reason(self.uncacheable_reasons, line)

    # -- episodes -------------------------------------------------------------------------

    def retry(self, what, *argv, cache=None, tries=8):
        for attempt in range(1, tries + 1):
            try:
                p = self.zccache(*argv, cache=cache)
                if p.returncode == 0:
                    return attempt
                err = p.stderr.strip()
            except subprocess.TimeoutExpired:
                err = "timeout"
            self.say(f"{what} attempt {attempt} failed ({err}); retrying")
            time.sleep(0.3)
        self.event(f"{what}: gave up after {tries} attempts")
        return None

    def mid_round(self, action, cache):
        time.sleep(self.a.mid_delay)
        if action == "clear":
            a = self.retry("zccache clear", "clear", cache=cache)
            self.event(f"zccache clear mid-round {self.round} (ok on attempt {a})")
        elif action == "stopstart":
            a = self.retry("zccache stop", "stop", cache=cache)
            b = self.retry("zccache start", "start", cache=cache)
            self.event(f"zccache stop (attempt {a}) + start (attempt {b}) mid-round {self.round}")

    def mount_full(self):
        os.makedirs(self.full_mount, exist_ok=True)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.a.full_size},mode=0700",
                            "soak-full", self.full_mount], capture_output=True, text=True)
        if p.returncode != 0:
            self.event(f"disk-full episode skipped: cannot mount a tmpfs ({p.stderr.strip()})")
            return False
        self.mounted = True
        self.prepare_cache(self.full_cache)
        self.fill_from_main()
        return True

    def fill_from_main(self):
        """Copies the main cache's stores into the tmpfs until it is full: the index first,
        then blobs, so the episode starts from a warm store that lost whatever did not fit."""
        self.retry("zccache stop (before the copy)", "stop", cache=self.main_cache)
        src_v = os.path.join(self.main_cache, "v")
        copied = failed = 0
        files = []
        for dirpath, _, names in os.walk(src_v):
            for n in names:
                files.append(os.path.join(dirpath, n))
        # Index and small files first, blobs last (and largest last).
        files.sort(key=lambda f: ("/blobs/" in f, os.path.getsize(f) if os.path.exists(f)
                                  else 0))
        for f in files:
            if f.endswith((".lock", ".sock", ".pid")):
                continue
            dest = os.path.join(self.full_cache, os.path.relpath(f, self.main_cache))
            try:
                os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
                shutil.copy2(f, dest)
                copied += 1
            except OSError:
                failed += 1
                try:
                    os.remove(dest)
                except OSError:
                    pass
        used, size = self.df(self.full_mount)
        self.event(f"disk-full episode: copied {copied} files of the main store into the tmpfs, "
                   f"{failed} did not fit ({used >> 10} of {size >> 10} KiB used)")

    def grow_full(self):
        subprocess.run(["mount", "-o", f"remount,size={self.a.grow_size}", self.full_mount],
                       check=False)

    def df(self, path):
        st = os.statvfs(path)
        return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_blocks * st.f_frsize

    # -- the loop -------------------------------------------------------------------------

    def plan(self):
        r = self.a.rounds
        plan = {}
        if r >= 4:
            plan[max(1, int(r * 0.3))] = ["clear"]
            plan.setdefault(max(2, int(r * 0.45)), []).append("stopstart")
        if r >= 6 and not self.a.no_disk_full:
            d = max(3, int(r * 0.6))
            while d in plan or d + 1 in plan or d + 2 in plan:
                d += 1
            if d + 2 < r:
                plan.setdefault(d, []).append("full-start")
                plan.setdefault(d + 1, []).append("full")
                plan.setdefault(d + 2, []).append("full-grow")
        return plan

    def run(self):
        self.setup()
        self.read_log()
        plan = self.plan()
        self.say(f"plan: {self.a.rounds} rounds of {len(self.units)} compiles at -j{self.a.jobs}; "
                 f"episodes {plan}; killer every ~{self.a.kill_every}s")
        self.monitor.start()
        self.monitor.killing.set()
        deadline = self.t0 + self.a.duration if self.a.duration else None
        for self.round in range(self.a.rounds):
            if deadline and time.time() > deadline:
                self.event(f"DURATION reached before round {self.round}")
                break
            actions = plan.get(self.round, [])
            edits = self.edit_headers() if self.round > 0 else []
            if "full-start" in actions:
                if self.mount_full():
                    self.cache = self.full_cache
                    self.event(f"disk-full episode: cache dir on a {self.a.full_size} tmpfs "
                               f"from round {self.round}")
            elif "full-grow" in actions and self.cache == self.full_cache:
                self.grow_full()
                self.event(f"disk-full episode: tmpfs grown to {self.a.grow_size} (space back) "
                           f"for round {self.round}, same store")
            for p in os.listdir(self.out_zc):
                os.remove(os.path.join(self.out_zc, p))
            cache = self.cache
            units = list(self.units)
            self.rng.shuffle(units)
            t = time.time()
            side = None
            self.monitor.busy.set()
            with cf.ThreadPoolExecutor(max_workers=self.a.jobs) as pool:
                futures = [pool.submit(self.zc_compile, u, cache) for u in units]
                for a in actions:
                    if a in ("clear", "stopstart"):
                        side = threading.Thread(target=self.mid_round, args=(a, cache))
                        side.start()
                results = [f.result() for f in futures]
            self.monitor.busy.clear()
            if side:
                side.join()
            secs = time.time() - t
            if cache == self.full_cache:
                used, size = self.df(self.full_mount)
                self.event(f"round {self.round}: tmpfs {used >> 10} KiB used of {size >> 10} KiB")
            before = dict(self.log_counts)
            self.check(results)
            time.sleep(0.3)
            self.read_log()
            d = {k: self.log_counts[k] - before[k] for k in before}
            fails = sum(r["rc"] != 0 for r in results)
            row = dict(round=self.round, compiles=len(results), secs=secs,
                       hits=d["hit_direct"] + d["hit_pp"], pp_hits=d["hit_pp"],
                       miss_lines=d["miss_line"],
                       fallbacks=d["fallback_unavailable"] + d["fallback_conversation"]
                       + d["fallback_lost"],
                       uncacheable=d["uncacheable"] + d["miss_uncacheable_line"], kills=self.monitor.kills, failed=fails,
                       wrong=self.counts["wrong"], cache=os.path.basename(cache),
                       edits=len(edits), actions=",".join(actions))
            self.round_rows.append(row)
            self.say(f"round {self.round}: {row['compiles']} compiles in {secs:.1f}s, "
                     f"~{row['hits']} hits ({row['pp_hits']} pp), {row['miss_lines']} miss lines, "
                     f"{row['fallbacks']} fallbacks, {row['uncacheable']} uncacheable, "
                     f"{fails} failed, wrong so far {self.counts['wrong']}, "
                     f"kills so far {self.monitor.kills}; edits: {'; '.join(edits) or '-'}")
            if "full-grow" in actions and self.cache == self.full_cache:
                self.leave_full()
        if self.cache == self.full_cache:
            self.leave_full()
        self.monitor.killing.clear()
        # Final counters (approximate across kills) and the log's last lines.
        time.sleep(0.5)
        p = self.zccache("stats", "--json", cache=self.main_cache)
        self.final_stats = json.loads(p.stdout) if p.returncode == 0 else None
        self.monitor.sample_once()
        self.read_log()
        self.monitor.finish()
        return self.report()

    def leave_full(self):
        a = self.retry("zccache stop (tmpfs cache)", "stop", cache=self.full_cache)
        self.event(f"disk-full episode over: stopped its daemon (attempt {a}), back to the "
                   f"main cache dir")
        self.cache = self.main_cache
        self.kill_ours([self.full_cache])
        if self.mounted:
            subprocess.run(["umount", self.full_mount], check=False)
            self.mounted = False

    def kill_ours(self, dirs):
        for pid in our_daemons(self.exe, dirs):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # -- report ---------------------------------------------------------------------------

    def report(self):
        c, lc = self.counts, self.log_counts
        hits = lc["hit_direct"] + lc["hit_pp"]
        fallbacks = lc["fallback_unavailable"] + lc["fallback_conversation"] + lc["fallback_lost"]
        late = lc["miss_uncacheable_line"]
        misses = c["compiles"] - hits - fallbacks - lc["uncacheable"] - late
        elapsed = time.time() - self.t0
        rows = [
            ("duration", f"{elapsed / 60:.1f} min ({len(self.round_rows)} rounds, "
                         f"-j{self.a.jobs}, seed {self.a.seed})"),
            ("sources", f"{len({u['src'] for u in self.units})} "
                        f"({len(self.units)} compiles per round)"),
            ("compiles", c["compiles"]),
            ("hits", f"{hits} ({lc['hit_direct']} direct, {lc['hit_pp']} preprocessor)"),
            ("misses", f"{misses} ({lc['miss_line']} journaled by the daemon)"),
            ("fallbacks", f"{fallbacks} (no daemon {lc['fallback_unavailable']}, conversation "
                          f"cut {lc['fallback_conversation']}, daemon lost after compiling "
                          f"{lc['fallback_lost']})"),
            ("uncacheable", f"{lc['uncacheable']} answered up front "
                            f"{dict(sorted(self.uncacheable_reasons.items()))}, {late} found "
                            f"after compiling {dict(sorted(self.late_reasons.items()))}"),
            ("hit restores failed", lc["hit_unusable"]),
            ("kills survived", f"{self.monitor.kills} ({self.monitor.kills_busy} while "
                               f"compiles ran)"),
            ("daemon instances", len(self.monitor.instances)),
            ("daemon peak RSS", f"{self.monitor.peak_hwm_kb / 1024:.1f} MiB (VmHWM)"),
            ("header edits", f"{c['edits']} defines, {c['comments']} comments, "
                             f"{c['touches']} touches, {c['reverts']} reverts"),
            ("bare compiles", f"{c['bare_runs']} run, {c['bare_memo']} references reused"),
            ("stderr differs", c["stderr_diff"]),
            ("failed compiles", c["failed"]),
            ("wrong objects", c["wrong"]),
        ]
        print("\n==== zccache soak summary ====")
        for k, v in rows:
            print(f"  {k:<20} {v}")
        print("  episodes:")
        for e in self.events:
            print(f"    {e}")
        if self.final_stats:
            s = self.final_stats
            print(f"  daemon counters at the end (approximate across kills): hits {s.get('hits')}"
                  f", misses {s.get('misses')}, uncacheable {s.get('uncacheable')}, errors "
                  f"{s.get('errors')}, entries {s.get('entries')}, "
                  f"reasons {s.get('reasons')}")
        for w in self.wrong_list[:20]:
            print(f"  WRONG {w}")
        for f in self.failed_list[:20]:
            print(f"  FAILED {f[0]} rc={f[1]}")
        summary = {k: v for k, v in rows}
        summary.update(compiles=c["compiles"], hits=hits, misses=misses, fallbacks=fallbacks,
                       kills=self.monitor.kills, wrong=c["wrong"], failed=c["failed"],
                       peak_rss_kb=self.monitor.peak_hwm_kb, events=self.events,
                       rounds=self.round_rows)
        with open(os.path.join(self.work, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1, default=str)
        return 1 if c["wrong"] or c["failed"] else 0


def cleanup(work, exe):
    """Stops and kills the daemons of the soak's cache dirs and unmounts its tmpfs."""
    work = os.path.abspath(work)
    dirs = [os.path.join(work, "cache"), os.path.join(work, "full", "cache")]
    for d in dirs:
        if os.path.isdir(d):
            env = dict(os.environ, ZCCACHE_DIR=d)
            try:
                subprocess.run([exe, "stop"], env=env, capture_output=True, timeout=20)
            except (subprocess.TimeoutExpired, OSError):
                pass
    for pid in our_daemons(os.path.realpath(exe), dirs):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    full = os.path.join(work, "full")
    with open("/proc/mounts") as f:
        mounted = any(line.split()[1] == full for line in f)
    if mounted:
        if subprocess.run(["umount", full], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", full], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--zccache", required=True)
    ap.add_argument("--cleanup", action="store_true")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--kill-every", type=float, default=3)
    ap.add_argument("--max-sources", type=int, default=300)
    ap.add_argument("--max-cxx", type=int, default=24)
    ap.add_argument("--second-variant", type=float, default=0.15)
    ap.add_argument("--edits", type=int, default=3)
    ap.add_argument("--full-size", default="8M")
    ap.add_argument("--grow-size", default="512M")
    ap.add_argument("--no-disk-full", action="store_true")
    ap.add_argument("--mid-delay", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.cleanup:
        cleanup(a.work, a.zccache)
        return 0
    soak = Soak(a)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        return soak.run()
    finally:
        soak.monitor.stop.set()
        cleanup(a.work, a.zccache)


if __name__ == "__main__":
    sys.exit(main())
