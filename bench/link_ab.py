#!/usr/bin/env python3
"""bench/link_ab.py — warm rebuilds of bench/link.sh's make project, several zccache builds and
ccache interleaved in random order (so the machine's drift hits every variant alike).

Each variant gets its own copy of the project and its own cache; one untimed build fills each
cache, then every round times `make clean && make -j<nproc>` once per variant, in random order.
Prints per variant the median, its ratio to ccache's median and the quartiles.

Usage (from the repo root), on the project `KEEP=1 bash bench/link.sh` leaves behind:
    KEEP=1 ONLY=make RUNS=1 bash bench/link.sh       # prints "kept <dir>"
    python3 bench/link_ab.py <dir>/make-O2-zccache 15 /path/to/zccache-a [/path/to/zccache-b …]
"""
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

src, rounds, builds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
jobs = str(os.cpu_count())
scratch = tempfile.mkdtemp(prefix="zccache-link-ab-")
variants = {}
for i, build in enumerate(builds + ["ccache"]):
    project = f"{scratch}/p{i}"
    shutil.copytree(src, project)
    env = dict(os.environ, ZCCACHE_DIR=f"{scratch}/z{i}", CCACHE_DIR=f"{scratch}/ccache")
    make = ["make", "-C", project, "-j", jobs, "CFLAGS=-O2 -g", "LDFLAGS="]
    if build == "ccache":
        make += ["CC=ccache gcc", "LINK=gcc"]
    else:
        make += [f"CC={build} gcc", f"LINK={build} gcc", f"AR={build} ar"]
    variants[build] = (make, env)
    subprocess.run(make + ["clean"], env=env, stdout=subprocess.DEVNULL, check=True)
    subprocess.run(make, env=env, stdout=subprocess.DEVNULL, check=True)
times = {build: [] for build in variants}
for _ in range(rounds):
    for build in random.sample(list(variants), len(variants)):
        make, env = variants[build]
        subprocess.run(make + ["clean"], env=env, stdout=subprocess.DEVNULL, check=True)
        time.sleep(0.3)
        t0 = time.perf_counter()
        subprocess.run(make, env=env, stdout=subprocess.DEVNULL, check=True)
        times[build].append(time.perf_counter() - t0)
ccache = statistics.median(times["ccache"])
for build, t in times.items():
    q = statistics.quantiles(t, n=4)
    print(f"{os.path.basename(build):24s} median {statistics.median(t) * 1000:7.1f} ms"
          f"  / ccache {statistics.median(t) / ccache:.3f}  quartiles {q[0] * 1000:.0f} / {q[2] * 1000:.0f} ms")
for build in builds:
    subprocess.run([build, "stop"], env=variants[build][1], stdout=subprocess.DEVNULL)
shutil.rmtree(scratch, ignore_errors=True)
