# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# One lab host: a network namespace on the bridge, a holder process that owns the host's mount
# and UTS namespaces (hostname = host name), and (except on the laptop) an sshd started inside both.

# Mount points on the real filesystem that every host overmounts.
lab_make_mount_points() {
  mkdir -p /nix /etc/nix /etc/ssh /var/lib/fleet /var/lib/lab /usr/local/bin
}

lab_ensure_bridge() {
  if ! ip link show dev "$LAB_BRIDGE" >/dev/null 2>&1; then
    ip link add name "$LAB_BRIDGE" type bridge
  fi
  # Keep the machine's firewall (br_netfilter) out of traffic between lab hosts.
  ip link set dev "$LAB_BRIDGE" type bridge nf_call_iptables 0 nf_call_ip6tables 0 \
    nf_call_arptables 0 2>/dev/null || true
  ip link set dev "$LAB_BRIDGE" up
}

# True when HOST's holder, namespace, link and (where it runs one) sshd are all in place.
lab_host_healthy() {
  local host=$1 ns pid
  ns=/run/netns/$(lab_netns "$host")
  pid=$(lab_holder_pid "$host") || return 1
  [[ -e $ns && $(lab_ns_inode "/proc/$pid/ns/net") == "$(lab_ns_inode "$ns")" ]] || return 1
  # A state dir deleted under a running lab leaves the host's mounts on deleted directories.
  [[ /proc/$pid/root/nix -ef $(lab_hostdir "$host")/nix ]] || return 1
  [[ $(cat "/sys/class/net/$(lab_veth "$host")/master/ifindex" 2>/dev/null) \
    == $(cat "/sys/class/net/$LAB_BRIDGE/ifindex" 2>/dev/null) ]] || return 1
  ip -n "$(lab_netns "$host")" -4 addr show dev eth0 2>/dev/null | grep -qF " $(lab_ip "$host")/24 " || return 1
  if lab_has_sshd "$host"; then
    lab_sshd_pid "$host" >/dev/null || return 1
  fi
}

# Stops everything of HOST (recorded or marked processes and whatever else lives in its network
# namespace) and deletes its namespace and veth. Safe on a half-built or already removed host.
lab_host_teardown() {
  local host=$1 hd name ns pid pids=() ino
  hd=$(lab_hostdir "$host")
  name=$(lab_netns "$host")
  ns=/run/netns/$name
  if pid=$(lab_sshd_pid "$host"); then
    lab_stop_pids "$pid"
  fi
  # Everything in the namespace was started by the lab or through its sshd. A holder whose
  # namespace name was already deleted is still found by its marker, and its namespace with it.
  for pid in $(lab_marked_holders "$host"); do
    ino=$(lab_ns_inode "/proc/$pid/ns/net") || continue
    mapfile -t -O "${#pids[@]}" pids < <(lab_pids_in_netns "$ino")
    pids+=("$pid")
  done
  if ino=$(lab_ns_inode "$ns"); then
    mapfile -t -O "${#pids[@]}" pids < <(lab_pids_in_netns "$ino")
  fi
  if ((${#pids[@]} > 0)); then
    mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
    lab_stop_pids "${pids[@]}"
  fi
  if [[ -e $ns ]]; then
    ip netns del "$name" || say "could not delete network namespace $name"
  fi
  if ip link show dev "$(lab_veth "$host")" >/dev/null 2>&1; then
    # Deleting the namespace may free the pair while we look; that is fine.
    ip link del dev "$(lab_veth "$host")" 2>/dev/null || true
  fi
  rm -f "$hd/state/holder.pid" "$hd/state/sshd.pid"
  lab_cgroup_remove "$host"
}

lab_make_netns() {
  local host=$1 name veth
  name=$(lab_netns "$host")
  veth=$(lab_veth "$host")
  ip netns add "$name"
  ip link add name "$veth" type veth peer name "${veth}p"
  ip link set dev "${veth}p" netns "$name"
  ip -n "$name" link set dev "${veth}p" name eth0
  ip link set dev "$veth" master "$LAB_BRIDGE" up
  ip -n "$name" link set dev lo up
  ip -n "$name" addr add "$(lab_ip "$host")/24" dev eth0
  ip -n "$name" link set dev eth0 up
}

lab_start_holder() {
  local host=$1 hd i
  hd=$(lab_hostdir "$host")
  rm -f "$hd/state/holder.pid"
  # setsid: the lab outlives the shell or test runner that brought it up.
  env -i PATH="$LAB_PATH" FLEET_LAB_MARK="$(lab_mark holder "$host")" \
    setsid ip netns exec "$(lab_netns "$host")" \
    unshare -m -u --propagation private sh "$LAB_REPO/scripts/lab.d/holder.sh" "$LAB_DIR" "$host" \
    </dev/null >>"$hd/log/holder.log" 2>&1 8>&- &
  for ((i = 0; i < 100; i++)); do
    lab_holder_pid "$host" >/dev/null && return 0
    sleep 0.05
  done
  die "holder of $host did not come up; see $hd/log/holder.log"
}

lab_start_sshd() {
  local host=$1 hd holder i
  hd=$(lab_hostdir "$host")
  holder=$(lab_holder_pid "$host") || die "no holder for $host"
  rm -f "$hd/state/sshd.pid"
  nsenter -t "$holder" -m -n -u -- env -i PATH="$LAB_PATH" \
    /usr/sbin/sshd -f /etc/ssh/sshd_config -E "$hd/log/sshd.log" </dev/null 8>&- \
    || die "sshd of $host failed to start; see $hd/log/sshd.log"
  for ((i = 0; i < 100; i++)); do
    lab_sshd_pid "$host" >/dev/null && return 0
    sleep 0.05
  done
  die "sshd of $host wrote no pid file; see $hd/log/sshd.log"
}

# Brings HOST to a healthy state, rebuilding it from scratch when any part is missing or stale.
lab_host_up() {
  local host=$1
  if lab_host_healthy "$host"; then
    return 0
  fi
  if lab_holder_pid "$host" >/dev/null && [[ -e /run/netns/$(lab_netns "$host") ]] \
    && lab_has_sshd "$host" && ! lab_sshd_pid "$host" >/dev/null; then
    say "$host: restarting sshd"
    lab_start_sshd "$host"
    lab_host_healthy "$host" && return 0
  fi
  say "$host: (re)creating"
  lab_host_teardown "$host"
  lab_make_netns "$host"
  lab_start_holder "$host"
  if lab_has_sshd "$host"; then
    lab_start_sshd "$host"
  fi
}

# Limits the rate at which HOST sends (tbf on its eth0); RATE "off" removes the limit.
lab_shape() {
  local host=$1 rate=$2 name
  name=$(lab_netns "$host")
  if [[ $rate == off ]]; then
    ip -n "$name" link show dev eth0 >/dev/null
    tc -n "$name" qdisc del dev eth0 root 2>/dev/null || true
    return 0
  fi
  # The burst must let veth's GSO packets through.
  tc -n "$name" qdisc replace dev eth0 root tbf rate "$rate" burst 64kb latency 50ms
}

# The cgroup of CONTROLLER (cpu or memory) that limits HOST: cgroup v2 where that controller is
# available there, else its v1 hierarchy. Prints "v2 DIR" or "v1 DIR"; fails when neither.
lab_cgroup() {
  local controller=$1 host=$2 root v1
  for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    if [[ -f $root/cgroup.controllers ]] && grep -qw "$controller" "$root/cgroup.controllers"; then
      printf 'v2 %s/fleet-%s-%s\n' "$root" "$LAB_BRIDGE" "$host"
      return 0
    fi
  done
  v1=$(awk -v c="$controller" '$3 == "cgroup" && $4 ~ ("(^|,)" c "(,|$)") { print $2; exit }' /proc/mounts)
  [[ -n $v1 && -d $v1 ]] || return 1
  printf 'v1 %s/fleet-%s-%s\n' "$v1" "$LAB_BRIDGE" "$host"
}

# Puts PID into HOST's CONTROLLER cgroup (made when missing); what it starts later inherits it.
lab_cgroup_join() {
  local host=$1 controller=$2 pid=$3 kind dir
  read -r kind dir < <(lab_cgroup "$controller" "$host") || return 0
  if [[ $kind == v2 ]]; then
    grep -qw "$controller" "${dir%/*}/cgroup.subtree_control" \
      || echo "+$controller" >"${dir%/*}/cgroup.subtree_control"
  fi
  mkdir -p "$dir"
  echo "$pid" >"$dir/cgroup.procs" 2>/dev/null || true
}

# Writes LIMIT into HOST's CONTROLLER cgroup: cpu as PERCENT of one CPU, memory in MB; "off" lifts it.
lab_cgroup_limit() {
  local controller=$1 host=$2 limit=$3 kind dir period=100000
  read -r kind dir < <(lab_cgroup "$controller" "$host") \
    || die "no cgroup with a $controller controller here (v2, or v1 /sys/fs/cgroup/$controller)"
  mkdir -p "$dir"
  case $controller/$kind in
    cpu/v2) if [[ $limit == off ]]; then echo "max $period"; else echo "$((limit * period / 100)) $period"; fi >"$dir/cpu.max" ;;
    cpu/v1)
      echo "$period" >"$dir/cpu.cfs_period_us"
      if [[ $limit == off ]]; then echo -1; else echo "$((limit * period / 100))"; fi >"$dir/cpu.cfs_quota_us"
      ;;
    memory/v2) if [[ $limit == off ]]; then echo max; else echo "$((limit * 1024 * 1024))"; fi >"$dir/memory.max" ;;
    memory/v1) if [[ $limit == off ]]; then echo -1; else echo "$((limit * 1024 * 1024))"; fi >"$dir/memory.limit_in_bytes" ;;
  esac
  printf '%s %s' "$kind" "$dir"
}

# Limits HOST to LIMIT (see lab_cgroup_limit; "off" lifts it). A systemd host's container joined
# its cgroups when it booted. Of another host, the holder, its sshd and everything now in its
# network namespace move into the cgroup, and whatever they start later (every ssh session, hence
# builds and activations) inherits it. Recreating the host (`up`) drops the limit.
lab_limit() {
  local controller=$1 host=$2 limit=$3 where pid ino
  [[ $limit == off || $limit =~ ^[1-9][0-9]*$ ]] || die "limit-$controller: the limit must be a positive integer or 'off', not '$limit'"
  where=$(lab_cgroup_limit "$controller" "$host" "$limit")
  if ! lab_is_systemd_host "$host"; then
    pid=$(lab_holder_pid "$host") || die "host $host is not running; run 'scripts/lab up'"
    ino=$(lab_ns_inode "/proc/$pid/ns/net") || die "host $host has no network namespace"
    for pid in $(lab_pids_in_netns "$ino"); do
      echo "$pid" >"${where#* }/cgroup.procs" 2>/dev/null || true
    done
  fi
  if [[ $limit == off ]]; then
    say "$host: $controller limit lifted ($where)"
  elif [[ $controller == cpu ]]; then
    say "$host: cpu limited to ${limit}% of one CPU ($where)"
  else
    say "$host: memory limited to $limit MB ($where)"
  fi
}

# Deletes HOST's cgroups once their processes are gone (a no-op when it never had one).
lab_cgroup_remove() {
  local controller kind dir
  for controller in cpu memory; do
    read -r kind dir < <(lab_cgroup "$controller" "$1") || continue
    if [[ -d $dir ]]; then
      rmdir "$dir" 2>/dev/null || true
    fi
  done
}
