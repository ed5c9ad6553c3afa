# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The demo fleet's one flake input, nixpkgs-lib (github:nix-community/nixpkgs.lib, locked in
# examples/lab-fleet/flake.lock), put into the store of every host that evaluates the fleet. The
# lab has no network, and needs none for it: for a lock with rev, narHash and lastModified, nix
# (2.8's Input::fetch) first looks for the store path the lock implies, the NAR hash's
# fixed-output path named "source", and uses it when it is valid. `nix-store --add-fixed
# --recursive sha256 DIR/source` of the same tree makes exactly that path.

LAB_SEED_LOCK=$LAB_REPO/examples/lab-fleet/flake.lock

# Prints the store path of the locked nixpkgs-lib.
lab_seed_path() {
  local hash
  hash=$(jq -er '.nodes["nixpkgs-lib"].locked.narHash' "$LAB_SEED_LOCK") \
    || die "$LAB_SEED_LOCK locks no nixpkgs-lib with a narHash"
  nix-store --print-fixed-path --recursive sha256 "$hash" source 2>/dev/null \
    || die "nix-store cannot compute the store path of narHash $hash"
}

# Prints a directory named "source" holding the tree (scripts/nixpkgs-lib checks its NAR hash),
# kept under $LAB_DIR/seed.
lab_seed_source() {
  local dir=$LAB_DIR/seed/source lib
  if [[ ! -d $dir ]]; then
    lib=$("$LAB_REPO/scripts/nixpkgs-lib") || die "no copy of nixpkgs-lib to seed the hosts' stores with (see above)"
    rm -rf "$dir.new"
    mkdir -p "${dir%/*}"
    # -a keeps the executable bits (part of the NAR hash); the cache is read-only, the copy not.
    cp -a "$lib" "$dir.new"
    chmod -R u+w "$dir.new"
    mv "$dir.new" "$dir"
  fi
  printf '%s' "$dir"
}

# Adds the locked nixpkgs-lib to the store whose root (holding nix/store and nix/var/nix) is ROOT:
# a light host's state dir or the systemd hosts' image, written from outside either way.
lab_seed_store() {
  local root=$1 want tree got
  want=$(lab_seed_path) || exit 1
  [[ -d $root/$want ]] && return 0
  tree=$(lab_seed_source) || exit 1
  # The machine's own nix.conf may name build users it lacks; nothing is built here.
  got=$(nix-store --store "local?root=$root" --add-fixed --recursive sha256 "$tree" \
    2> >(grep -v "build-users-group" >&2)) || die "cannot add $tree to the store under $root"
  [[ $got == "$want" ]] || die "$tree is $got in a store, not $want, which $LAB_SEED_LOCK locks"
}

# Seeds the light hosts that evaluate (all but the laptop, whose /nix stays empty): HOST or "all".
lab_seed_light() {
  local host hosts=("$1")
  [[ $1 == all ]] && hosts=("${LAB_NS_HOSTS[@]}")
  for host in "${hosts[@]}"; do
    [[ $host == laptop ]] && continue
    lab_seed_store "$(lab_hostdir "$host")"
  done
}
