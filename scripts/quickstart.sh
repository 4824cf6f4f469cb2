#!/usr/bin/env bash
# One command to install zccache and watch it work: installs the system packages (as root),
# installs zccache and cargo-zccache with cargo, then builds a small C project twice through
# zccache (cold, then after `make clean`) and shows the hits.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/install-deps.sh
fi
echo "==> building zccache (release) and installing it"
outdir="$(bash scripts/build-release.sh)"
root="${ZCCACHE_INSTALL_ROOT:-$HOME/.cargo}"
mkdir -p "$root/bin"
install -m 0755 "$outdir/zccache" "$outdir/cargo-zccache" "$root/bin/"
bin="$root/bin/zccache"
echo "    installed $bin and $root/bin/cargo-zccache"

demo="$repo/target/quickstart"
rm -rf "$demo"
mkdir -p "$demo/src"
export ZCCACHE_DIR="$demo/cache"
n=40
objs=""
for i in $(seq 1 $n); do
  cat > "$demo/src/unit$i.c" <<C
#include <stdio.h>
#include <string.h>
int unit$i(const char *s) { return (int)strlen(s) * $i; }
C
  objs="$objs obj/unit$i.o"
done
cat > "$demo/src/main.c" <<'C'
#include <stdio.h>
int unit1(const char *);
int main(void) { printf("unit1(\"zccache\") = %d\n", unit1("zccache")); return 0; }
C
cat > "$demo/Makefile" <<MK
CC = $bin gcc
OBJS = obj/main.o$objs
app: \$(OBJS)
	gcc \$(OBJS) -o app
obj/%.o: src/%.c
	@mkdir -p obj
	\$(CC) -O2 -MMD -c \$< -o \$@
clean:
	rm -rf obj app
MK

cd "$demo"
echo "==> cold build (misses)"
time make -s -j"$(nproc)"
./app
"$bin" stats --zero >/dev/null
make -s clean
echo "==> rebuild after make clean (hits)"
time make -s -j"$(nproc)"
./app
echo
"$bin" stats
"$bin" stop >/dev/null
