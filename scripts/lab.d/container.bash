# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# One systemd lab host: systemd-nspawn booting the shared image (image.bash) on an overlay of its
# own, so it has its own /nix, /etc and /var, a real systemd as PID 1, a nix-daemon, sshd, sudo
# and the users root and fleet. It sits on the lab's bridge like every other host.
#
# Files under $hd: upper/ work/ (the overlay's), merged/ (the host's root, also how the lab
# writes into it from outside), state/nspawn.pid, log/console.log. $LAB_DIR/scratch is shared
# with every host at the same path.

lab_ct_merged() {
  printf '%s/merged' "$(lab_hostdir "$1")"
}

# HOST's systemd-nspawn, started by this lab (it carries our marker).
lab_nspawn_pid() {
  lab_marked_pid "$(lab_hostdir "$1")/state/nspawn.pid" systemd-nspawn nspawn "$1"
}

# The container's PID 1 (its systemd), as seen from outside: nspawn's only child.
lab_ct_init_pid() {
  local pid child
  pid=$(lab_nspawn_pid "$1") || return 1
  # The file has no final newline, which `read` reports as a failure.
  child=$(awk '{ print $1 }' "/proc/$pid/task/$pid/children" 2>/dev/null)
  [[ $child =~ ^[0-9]+$ ]] && printf '%s' "$child"
}

lab_ct_running() {
  local pid
  pid=$(lab_ct_init_pid "$1") || return 1
  # Booted: degraded (a unit failed) is up too, and `scripts/lab status` says which.
  case $(nsenter -t "$pid" -a systemctl is-system-running 2>/dev/null) in
    running | degraded) return 0 ;;
    *) return 1 ;;
  esac
}

lab_ct_healthy() {
  local host=$1
  mountpoint -q "$(lab_ct_merged "$host")" && lab_ct_running "$host" || return 1
  [[ $(cat "/sys/class/net/vb-$host/master/ifindex" 2>/dev/null) \
    == $(cat "/sys/class/net/$LAB_BRIDGE/ifindex" 2>/dev/null) ]]
}

lab_ct_mount() {
  local host=$1 hd image
  hd=$(lab_hostdir "$host")
  mountpoint -q "$hd/merged" && return 0
  image=$(lab_image)
  mkdir -p "$hd/upper" "$hd/work" "$hd/merged" "$hd/state" "$hd/log"
  mount -t overlay overlay -o "lowerdir=$image,upperdir=$hd/upper,workdir=$hd/work" "$hd/merged" \
    || die "cannot mount the overlay of $host on $hd/merged"
}

# The files that make the shared image this host: its name, address, keys and logins.
lab_ct_write_files() {
  local host=$1 root home user other
  root=$(lab_ct_merged "$host")
  printf '%s\n' "$host" >"$root/etc/hostname"
  {
    printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$host"
    for other in "${LAB_SSHD_HOSTS[@]}"; do
      printf '%s %s\n' "$(lab_ip "$other")" "$other"
    done
  } >"$root/etc/hosts"
  mkdir -p "$root/etc/systemd/network"
  printf '[Match]\nName=host0\n\n[Network]\nAddress=%s/24\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
    "$(lab_ip "$host")" >"$root/etc/systemd/network/10-lab-host0.network"
  install -m 0600 "$(lab_keydir "$host")/ssh_host_ed25519_key" "$root/etc/ssh/ssh_host_ed25519_key"
  install -m 0644 "$(lab_keydir "$host")/ssh_host_ed25519_key.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
  # root and fleet log in with the same keys, so a suite chooses the deploy user in fleet.json.
  for user in root fleet; do
    home=$root/root
    [[ $user == fleet ]] && home=$root/var/lib/fleet
    rm -rf "$home/.ssh"
    cp -R "$(lab_hostdir "$host")/root/.ssh" "$home/.ssh"
    sed -i "s/^  User root$/  User $user/" "$home/.ssh/config"
    if [[ $user == fleet ]]; then
      chown -R "$LAB_FLEET_UID:$LAB_FLEET_UID" "$home/.ssh"
    fi
  done
}

lab_ct_boot() {
  local host=$1 hd i h
  hd=$(lab_hostdir "$host")
  rm -f "$hd/state/nspawn.pid"
  mkdir -p "$LAB_DIR/scratch"
  (
    # A cgroup of its own per container (else their units mix), also the one the cpu and
    # memory limits are applied to from outside.
    for h in systemd unified; do
      mkdir -p "/sys/fs/cgroup/$h/fleet-lab/$LAB_BRIDGE-$host"
      echo "$BASHPID" >"/sys/fs/cgroup/$h/fleet-lab/$LAB_BRIDGE-$host/cgroup.procs"
    done
    for h in cpu memory; do
      lab_cgroup_join "$host" "$h" "$BASHPID"
    done
    echo "$BASHPID" >"$hd/state/nspawn.pid"
    exec env -i PATH="$LAB_PATH" FLEET_LAB_MARK="$(lab_mark nspawn "$host")" SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 \
      setsid systemd-nspawn --quiet --boot -D "$hd/merged" --machine="$host" --network-bridge="$LAB_BRIDGE" \
      --console=read-only --register=no --keep-unit --resolv-conf=off --timezone=off \
      --bind="$LAB_DIR/scratch" >>"$hd/log/console.log" 2>&1 </dev/null 8>&-
  ) &
  for ((i = 0; i < 300; i++)); do
    lab_ct_running "$host" && return 0
    sleep 0.1
  done
  die "systemd host $host did not reach 'running' in 30 s; see $hd/log/console.log"
}

# Stops HOST's container (clean shutdown, as a reboot would) and waits until it is gone.
lab_ct_stop() {
  local host=$1 pid i
  pid=$(lab_nspawn_pid "$host") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    [[ -e /proc/$pid ]] || return 0
    sleep 0.1
  done
  say "$host: no clean shutdown in 15 s; killing it"
  lab_stop_pids "$pid"
}

lab_ct_teardown() {
  local host=$1 hd h
  hd=$(lab_hostdir "$host")
  lab_ct_stop "$host"
  if mountpoint -q "$hd/merged"; then
    umount "$hd/merged" || umount -l "$hd/merged"
  fi
  rm -f "$hd/state/nspawn.pid"
  for h in systemd unified; do
    rmdir "/sys/fs/cgroup/$h/fleet-lab/$LAB_BRIDGE-$host" 2>/dev/null || true
  done
  lab_cgroup_remove "$host"
}

lab_ct_up() {
  local host=$1
  lab_ct_healthy "$host" && return 0
  say "$host: booting (systemd-nspawn)"
  lab_ct_teardown "$host"
  lab_ct_mount "$host"
  lab_ct_write_files "$host"
  lab_ct_boot "$host"
}

# A reboot on the same overlay (the host keeps its disk): after a clean shutdown, or with HARD
# set after a power cut (its PID 1 killed: nothing on the host gets to run first).
lab_ct_reboot() {
  local host=$1 hard=${2:-} init pid i
  if [[ -n $hard ]] && init=$(lab_ct_init_pid "$host") && pid=$(lab_nspawn_pid "$host"); then
    kill -KILL "$init"
    for ((i = 0; i < 100; i++)); do
      [[ -e /proc/$pid ]] || break
      sleep 0.1
    done
  fi
  lab_ct_stop "$host"
  lab_ct_boot "$host"
}

# A fresh machine: the overlay's upper layer is emptied (its store, fleet's state, everything).
lab_ct_reset() {
  local host=$1 hd
  hd=$(lab_hostdir "$host")
  lab_ct_teardown "$host"
  rm -rf "$hd/upper" "$hd/work"
  lab_ct_up "$host"
}

lab_ct_exec() {
  local host=$1 pid
  shift
  pid=$(lab_ct_init_pid "$host") || die "systemd host $host is not running; run 'scripts/lab up --systemd'"
  # shellcheck disable=SC2016 # expanded by the inner sh
  exec nsenter -t "$pid" -a -- env -i HOME=/root "PATH=$LAB_PATH" TERM="${TERM:-dumb}" \
    sh -c 'cd "$1" 2>/dev/null || cd /; shift; exec "$@"' lab-exec "$PWD" "$@"
}

# Runs CMD in a running systemd host and returns its status (lab_ct_exec replaces the shell).
lab_ct_exec_quiet() {
  local host=$1 pid
  shift
  pid=$(lab_ct_init_pid "$host") || return 1
  nsenter -t "$pid" -a -- env -i "PATH=$LAB_PATH" "$@"
}
