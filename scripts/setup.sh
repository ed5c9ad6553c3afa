#!/usr/bin/env bash
# Installs what fleet needs to build, test and run its lab on Debian 12, then builds it.
# Idempotent. Usage: scripts/setup.sh [BUILD_DIR] [extra cmake args…]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git
  libssh-dev libarchive-dev libzstd-dev zstd libsodium-dev libssl-dev nlohmann-json3-dev libboost-dev libcli11-dev catch2
  nix-bin openssh-server openssh-client iproute2 util-linux procps age python3 jq
  systemd-container debootstrap # the lab's systemd hosts
  sudo # visudo checks the output of fleet-builder sudoers
  curl # scripts/nixpkgs-lib fetches the nixpkgs lib the module tests evaluate with
  rsync # scripts/bench-deploy only
  clang libclang-rt-14-dev # scripts/fuzz: clang's libFuzzer and sanitizer runtimes
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]}; run as root or install them" >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The NixOS-module test (nix.eval-modules) needs nixpkgs' lib, fetched once into /var/cache/fleet;
# building fleet does not, so its absence is only a warning here.
scripts/nixpkgs-lib >/dev/null || echo "setup: warning: without nixpkgs' lib the test nix.eval-modules fails" >&2

build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLEET_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
