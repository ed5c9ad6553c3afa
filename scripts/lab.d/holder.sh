#!/bin/sh
# SPDX-License-Identifier: MIT
# Sets up one lab host's mount namespace, then becomes the process that keeps it alive.
# Run by scripts/lab as `ip netns exec NS unshare -m -u --propagation private sh holder.sh LAB HOST`.
# The lab dir is held open on fd 9 so that it stays reachable after /tmp (or wherever it lives)
# is overmounted, and is bound back at its own path at the end: every host sees it at one place.
set -eu
lab=$1
host=$2
hostname "$host"
exec 9<"$lab"
src=/proc/self/fd/9/hosts/$host
# Inherited network namespace mounts (/run/netns/*) would keep the other hosts' namespaces alive
# after `ip netns del`; drop them.
awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "nsfs") print $5; break } }' \
  /proc/self/mountinfo | while read -r m; do
  umount -l "$m" 2>/dev/null || true
done
# -c: mount must not canonicalize /proc/self/fd/9 back into the path being overmounted.
mount -c --bind "$src/nix" /nix
mount -c --bind "$src/etc-nix" /etc/nix
mount -c --bind "$src/root" /root
mount -c --bind "$src/etc-ssh" /etc/ssh
mount -c --bind "$src/var-lib-fleet" /var/lib/fleet
mount -c --bind "$src/var-lib-lab" /var/lib/lab
mount -c --bind "$src/bin" /usr/local/bin
mount -c --bind "$src/tmp" /tmp
mount -t tmpfs -o mode=0755,size=64m lab-run /run
mkdir -p /run/sshd /run/keys
chmod 0755 /run/sshd
chmod 0750 /run/keys
if [ "$(stat -L -c %d:%i "$lab" 2>/dev/null)" != "$(stat -L -c %d:%i /proc/self/fd/9)" ]; then
  mkdir -p "$lab"
  mount -c --bind /proc/self/fd/9 "$lab"
fi
# The pid file doubles as the "ready" signal for scripts/lab.
echo $$ >"$src/state/holder.pid"
exec 9<&-
exec sleep infinity
