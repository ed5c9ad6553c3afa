# shellcheck shell=bash disable=SC2034 # the variables are used by the other lab.d files
# SPDX-License-Identifier: MIT
# Settings, naming and process identity shared by the lab commands. Sourced by scripts/lab.

LAB_DIR=${FLEET_LAB_DIR:-/var/tmp/fleet-lab}
LAB_BRIDGE=${FLEET_LAB_BRIDGE:-fleetlab0}
LAB_SUBNET=${FLEET_LAB_SUBNET:-10.231.7}

# The fixed set of hosts and the last octet of each one's address. The light hosts are network
# and mount namespaces sharing this machine's programs, all reached as root; the systemd hosts
# (container.bash) boot a systemd of their own, run a nix-daemon and offer a non-root `fleet` user.
LAB_NS_HOSTS=(laptop b1 b2 t1 t2 t3 t4 t5)
LAB_SYSTEMD_HOSTS=(sb1 st1 st2 st3)
LAB_HOSTS=("${LAB_NS_HOSTS[@]}" "${LAB_SYSTEMD_HOSTS[@]}")
declare -gA LAB_OCTET=([laptop]=10 [b1]=11 [b2]=12 [t1]=21 [t2]=22 [t3]=23 [t4]=24 [t5]=25
  [sb1]=31 [st1]=41 [st2]=42 [st3]=43)
# Hosts that run sshd (everything but the laptop, which only ever connects out).
LAB_SSHD_HOSTS=(b1 b2 t1 t2 t3 t4 t5 sb1 st1 st2 st3)
LAB_BUILDERS=(b1 b2 sb1)
# Systemd hosts that have fleet-builder installed: the build node and the self-building target.
# st1 and st2 have never seen fleet; their build node brings the agent.
LAB_AGENT_SYSTEMD_HOSTS=(sb1 st3)

# A minimal PATH for everything the lab starts, independent of the caller's.
LAB_PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin

die() {
  printf 'lab: %s\n' "$*" >&2
  exit 1
}

say() {
  printf 'lab: %s\n' "$*" >&2
}

lab_check_settings() {
  [[ $LAB_DIR == /* && $LAB_DIR != *[[:space:]]* ]] \
    || die "FLEET_LAB_DIR='$LAB_DIR' must be an absolute path without whitespace"
  [[ $LAB_BRIDGE =~ ^[A-Za-z][A-Za-z0-9_]{0,11}$ ]] \
    || die "FLEET_LAB_BRIDGE='$LAB_BRIDGE' must be 1-12 letters, digits or '_' (veth names add 3 characters, the kernel allows 15)"
  [[ $LAB_SUBNET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] \
    || die "FLEET_LAB_SUBNET='$LAB_SUBNET' must be the first three octets of a /24, e.g. 10.231.7"
}

lab_is_host() {
  [[ -n ${LAB_OCTET[$1]+set} ]]
}

lab_require_host() {
  lab_is_host "$1" || die "unknown host '$1'; lab hosts are: ${LAB_HOSTS[*]}"
}

lab_has_sshd() {
  [[ $1 != laptop ]]
}

lab_is_systemd_host() {
  local h
  for h in "${LAB_SYSTEMD_HOSTS[@]}"; do
    [[ $1 == "$h" ]] && return 0
  done
  return 1
}

lab_ip() {
  printf '%s.%s' "$LAB_SUBNET" "${LAB_OCTET[$1]}"
}

# Network namespace name; prefixed by the bridge so labs with different bridges coexist.
lab_netns() {
  printf '%s-%s' "$LAB_BRIDGE" "$1"
}

# Root-namespace end of the host's veth pair (the other end is eth0 inside the host).
lab_veth() {
  printf '%s-%s' "$LAB_BRIDGE" "${LAB_OCTET[$1]}"
}

lab_hostdir() {
  printf '%s/hosts/%s' "$LAB_DIR" "$1"
}

# The value of FLEET_LAB_MARK in the environment of every long-lived process the lab starts.
lab_mark() {
  printf '%s %s %s' "$1" "$LAB_BRIDGE" "$2"
}

lab_read_pid() {
  local file=$1 pid=
  if [[ -r $file ]]; then
    read -r pid <"$file" || true
  fi
  [[ $pid =~ ^[0-9]+$ ]] && printf '%s' "$pid"
}

# Inode of a network namespace as seen through a path (/run/netns/X or /proc/PID/ns/net).
lab_ns_inode() {
  stat -L -c %i "$1" 2>/dev/null
}

# True when PID is alive, runs the program EXE and carries HOST's marker of KIND in its
# environment. A pid file can outlive its process and the pid be reused; this check makes that
# harmless.
lab_is_marked() {
  local pid=$1 exe=$2 kind=$3 host=$4
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/environ ]] || return 1
  [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */"$exe" ]] || return 1
  grep -qzxF "FLEET_LAB_MARK=$(lab_mark "$kind" "$host")" "/proc/$pid/environ" 2>/dev/null
}

# The pid in FILE when lab_is_marked() says it is HOST's EXE of KIND, or nothing.
lab_marked_pid() {
  local file=$1 exe=$2 kind=$3 host=$4 pid
  pid=$(lab_read_pid "$file") || return 1
  lab_is_marked "$pid" "$exe" "$kind" "$host" || return 1
  printf '%s' "$pid"
}

# HOST's holder: a `sleep` that keeps its namespaces.
lab_is_holder() {
  lab_is_marked "$1" sleep holder "$2"
}

lab_holder_pid() {
  lab_marked_pid "$(lab_hostdir "$1")/state/holder.pid" sleep holder "$1"
}

# True when PID is an sshd inside HOST's network namespace. sshd rewrites its process title over
# its environment, so it is identified by its executable and its namespace instead of a marker.
lab_is_sshd_of() {
  local pid=$1 host=$2 ns
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == /usr/sbin/sshd ]] || return 1
  ns=$(lab_ns_inode "/run/netns/$(lab_netns "$host")") || return 1
  [[ $(lab_ns_inode "/proc/$pid/ns/net") == "$ns" ]]
}

lab_sshd_pid() {
  local pid
  pid=$(lab_read_pid "$(lab_hostdir "$1")/state/sshd.pid") || return 1
  lab_is_sshd_of "$pid" "$1" || return 1
  printf '%s' "$pid"
}

# Pids of every process whose network namespace has the given inode.
lab_pids_in_netns() {
  local ino=$1 p
  for p in /proc/[0-9]*; do
    [[ $(lab_ns_inode "$p/ns/net") == "$ino" ]] && printf '%s\n' "${p#/proc/}"
  done
  return 0
}

# Pids of holders of this lab that carry HOST's marker, whatever their pid file says.
lab_marked_holders() {
  local host=$1 p mark
  mark="FLEET_LAB_MARK=$(lab_mark holder "$host")"
  for p in /proc/[0-9]*; do
    grep -qzxF "$mark" "$p/environ" 2>/dev/null && printf '%s\n' "${p#/proc/}"
  done
  return 0
}

# Sends TERM to the given pids, waits up to 5 s, then KILLs what is left.
lab_stop_pids() {
  local pid alive i
  (($# > 0)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "$@"; do
      if [[ -e /proc/$pid && $(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) != Z ]]; then
        alive=1
      fi
    done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
}
