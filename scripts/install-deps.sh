#!/usr/bin/env bash
# Installs the system packages zccache's tests and demo use (Debian/Ubuntu), when missing.
# Runs apt-get only as root; otherwise prints what is missing and fails.
set -euo pipefail
packages=(gcc g++ make cmake ninja-build clang lld ccache googletest bazel-bootstrap emscripten nodejs)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
