#!/usr/bin/env python3
"""bench/link_miss.py — the cost of a link miss, one link at a time, finer than bench/link.sh.

Each round compiles a fresh object into the link (so every zccache link misses), then runs the
bare link and each given zccache build's link once, in random order; reports per variant the
median wall time, the median of per-round differences to the bare link, the CPU of the wrapper
and its children, and the daemon's CPU per link (over the whole run).

Usage (from the repo root), on the make project bench/link.sh keeps with KEEP=1:
    KEEP=1 ONLY=miss RUNS=1 bash bench/link.sh           # prints "kept <dir>"
    python3 bench/link_miss.py <dir>/make-O2-bare 40 /path/to/zccache [/path/to/other/zccache]
    BIG=1 python3 bench/link_miss.py …                    # the 181-object link instead
    TINY=1 python3 bench/link_miss.py …                   # one object and libc: the fixed cost
"""
import glob
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time

project, rounds, builds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]


def zenv(build):
    env = dict(os.environ, ZCCACHE_DIR=f"/tmp/link-miss-{os.getuid()}-{abs(hash(build))}")
    env.pop("ZCCACHE_LOG", None)
    return env


def daemon_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


pids = {}
for build in builds:
    subprocess.run([build, "start"], env=zenv(build), stdout=subprocess.DEVNULL, check=True)
    pidfile = glob.glob(zenv(build)["ZCCACHE_DIR"] + "/v/*/daemon.pid")[0]
    pids[build] = int(open(pidfile).read().split()[0])

link = ["gcc", "-O2", "-g", "-o", "progx", "prog0_0.o", "prog0_1.o", "prog0_2.o", "x.o",
        "-L.", "-lcore", "-lm"]
if os.environ.get("BIG"):
    natural = lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
    objects = sorted((os.path.basename(p) for p in glob.glob(project + "/core*.o")
                      + glob.glob(project + "/big*_*.o")), key=natural)
    link = ["gcc", "-O2", "-g", "-o", "bigx", "bigmain.o"] + objects + ["x.o", "-lm"]

if os.environ.get("TINY"):
    link = ["gcc", "-O2", "-o", "tinyx", "x.o"]

variants = ["bare"] + builds
results = {v: [] for v in variants}
ticks_at_start = {}
for r in range(rounds + 2):  # two warm-up rounds
    if r == 2:
        ticks_at_start = {b: daemon_ticks(pids[b]) for b in builds}
    order = variants[:]
    random.shuffle(order)
    for v in order:
        with open(os.path.join(project, "x.c"), "w") as f:
            f.write(f"int link_miss_{r}_{time.time_ns()} = {r};\n")
            if os.environ.get("TINY"):
                f.write("int main(void) { return 0; }\n")
        subprocess.run(["gcc", "-c", "x.c", "-o", "x.o"], cwd=project, check=True)
        time.sleep(0.03)
        cmd, env = (link, os.environ) if v == "bare" else ([v] + link, zenv(v))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=project, env=env, check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if v != "bare":  # waits for the store to finish
            subprocess.run([v, "stats"], env=env, stdout=subprocess.DEVNULL)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if r >= 2:
            results[v].append((wall, cpu))

for v in variants:
    walls = [w for w, _ in results[v]]
    cpus = [c for _, c in results[v]]
    line = (f"{os.path.basename(v):24s} wall {statistics.median(walls) * 1000:7.2f} ms"
            f"  wrapper+children cpu {statistics.median(cpus) * 1000:7.2f} ms")
    if v != "bare":
        diffs = [a[0] - b[0] for a, b in zip(results[v], results["bare"])]
        daemon_ms = ((daemon_ticks(pids[v]) - ticks_at_start[v]) * 1000
                     / os.sysconf("SC_CLK_TCK") / rounds)
        line += (f"  paired +{statistics.median(diffs) * 1000:.2f} ms (quartiles "
                 f"{statistics.quantiles(diffs, n=4)[0] * 1000:+.1f} / {statistics.quantiles(diffs, n=4)[2] * 1000:+.1f})"
                 f", mean {statistics.fmean(diffs) * 1000:+.2f} ± {statistics.stdev(diffs) / len(diffs) ** 0.5 * 1000:.2f} ms)"
                 f"  daemon cpu {daemon_ms:.2f} ms/link")
    print(line)
for build in builds:
    subprocess.run([build, "stop"], env=zenv(build), stdout=subprocess.DEVNULL)
