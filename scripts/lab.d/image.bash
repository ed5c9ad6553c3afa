# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The root filesystem every systemd lab host boots (read-only, under an overlay of its own): a
# minimal Debian 12 with systemd, sshd, a nix-daemon with build users, sudo and a non-root `fleet`
# user. Built once with debootstrap and cached by the hash of this file, so changing the recipe
# builds a new image and an unchanged one is reused (by CI too).

LAB_IMAGE_CACHE=${FLEET_LAB_IMAGE_CACHE:-/var/cache/fleet}
# The deploy user that systemd hosts offer besides root; its uid is fixed so that files the lab
# writes from outside (its keys) belong to it inside.
LAB_FLEET_UID=1990
LAB_IMAGE_PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,openssh-client,sudo,iproute2,procps
# nix-setup-systemd: the daemon's units; libdbi-perl: without it debootstrap cannot resolve
# nix-bin's perl dependencies. The libraries are fleet-builder's, for hosts where it is installed.
LAB_IMAGE_PACKAGES+=,nix-bin,nix-setup-systemd,libdbi-perl,libarchive13,libsodium23,libssl3,libzstd1

lab_cache_key() {
  printf '%s' "$1" | sha256sum | cut -c1-12
}

lab_apt_mirror() {
  local mirror
  mirror=$(awk '$1 == "URIs:" { print $2; exit } $1 == "deb" { print $2; exit }' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1)
  printf '%s' "${mirror:-http://deb.debian.org/debian}"
}

# The debootstrapped Debian, cached by its package list (the slow part: downloads).
lab_image_base() {
  local dir tmp
  dir=$LAB_IMAGE_CACHE/lab-base-$(lab_cache_key "bookworm $LAB_IMAGE_PACKAGES")
  if [[ ! -f $dir/ready ]]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap systemd-container)"
    say "debootstrapping the systemd hosts' Debian into $dir (once; about two minutes)"
    tmp=$dir.building
    rm -rf "$tmp"
    mkdir -p "$tmp"
    debootstrap --variant=minbase --include="$LAB_IMAGE_PACKAGES" bookworm "$tmp/root" "$(lab_apt_mirror)" \
      >"$tmp/debootstrap.log" 2>&1 || die "debootstrap failed; see $tmp/debootstrap.log"
    touch "$tmp/ready"
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  printf '%s/root' "$dir"
}

# Prints the image's root directory: the base, configured by this file, with the demo fleet's
# locked nixpkgs-lib in its store (seed.bash; cached by the hash of this file and that path).
lab_image() {
  local base dir tmp
  base=$(lab_image_base)
  dir=$LAB_IMAGE_CACHE/lab-image-$(lab_cache_key "$base $(sha256sum <"$LAB_REPO/scripts/lab.d/image.bash") $(lab_seed_path)")
  if [[ ! -f $dir/ready ]]; then
    tmp=$dir.building
    rm -rf "$tmp"
    mkdir -p "$tmp"
    cp -a "$base" "$tmp/root"
    lab_image_configure "$tmp/root" >"$tmp/configure.log" 2>&1 || die "configuring the image failed; see $tmp/configure.log"
    lab_seed_store "$tmp/root"
    touch "$tmp/ready"
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  printf '%s/root' "$dir"
}

# What every systemd host has in common. Per-host files (address, keys, sudo rules) are written
# into each host's overlay when it comes up.
lab_image_configure() {
  local root=$1
  cat >"$root/etc/nix/nix.conf" <<'EOF'
# The lab's systemd hosts: a nix-daemon that builds as the nixbld users; `fleet` may copy
# unsigned closures in (a nix trusted user), as fleet's README asks of a deploy user.
build-users-group = nixbld
trusted-users = root fleet
sandbox = false
substituters =
experimental-features = nix-command flakes
flake-registry =
EOF
  # In nix-users: Debian's daemon socket is 0770 root:nix-users.
  chroot "$root" useradd --uid "$LAB_FLEET_UID" --user-group --home-dir /var/lib/fleet --create-home \
    --shell /bin/bash --groups nix-users fleet || return 1
  chmod 0755 "$root/var/lib/fleet" || return 1
  # Quiet, quick and reproducible boots: no timers that touch the network or disks, a journal
  # in memory, a machine id made at first boot.
  chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer fstrim.timer e2scrub_all.timer \
    e2scrub_reap.service systemd-timesyncd.service >/dev/null 2>&1 || true
  mkdir -p "$root/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n' >"$root/etc/systemd/journald.conf.d/lab.conf"
  : >"$root/etc/machine-id"
  rm -f "$root"/etc/ssh/ssh_host_*
  chroot "$root" systemctl enable systemd-networkd.service nix-daemon.socket || return 1
  printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n' \
    >"$root/etc/ssh/sshd_config.d/lab.conf"
  printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nMaxStartups 64:30:128\nMaxSessions 64\nClientAliveInterval 10\n' \
    >>"$root/etc/ssh/sshd_config.d/lab.conf"
  # NixOS's stage 2 makes the system profile's generation the running system at boot; the lab's
  # toplevels are not booted, so this unit does that much, and records the boot.
  cat >"$root/etc/systemd/system/lab-boot-system.service" <<'EOF'
[Unit]
Description=lab: the system profile's generation becomes the running system, as NixOS boots it
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mkdir -p /var/lib/lab; p=$(readlink -f /nix/var/nix/profiles/system) || exit 0; [ -d "$p" ] || exit 0; ln -sfn "$p" /run/current-system; echo "$(date +%%s) boot $p" >>/var/lib/lab/boots'

[Install]
WantedBy=sysinit.target
EOF
  # What fleet's NixOS module runs at boot: unfinished activations are ended and the confirmed
  # generation's secrets are put back. The agent is the installed one or the one a build node brought.
  cat >"$root/etc/systemd/system/fleet-recover-boot.service" <<'EOF'
[Unit]
Description=fleet: end activations the reboot interrupted, restore the booted generation's secrets
After=lab-boot-system.service local-fs.target
Before=network-pre.target
Wants=network-pre.target
DefaultDependencies=no

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for a in /usr/local/bin/fleet-builder /var/lib/fleet/agent-in-use/bin/fleet-builder; do [ -x "$a" ] && exec "$a" recover --boot; done; exit 0'

[Install]
WantedBy=multi-user.target
EOF
  chroot "$root" systemctl enable lab-boot-system.service fleet-recover-boot.service || return 1
  mkdir -p "$root/var/lib/lab" "$root/run/keys"
}
