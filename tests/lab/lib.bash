# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Helpers shared by the lab suites, sourced by tests/lab/run before the suite (a suite may
# redefine any of them). They use the runner's `lab`, $LAB, $LAB_FLEET and $LAB_SCRATCH.
#   probe                    the default probe: the suite needs fleet and fleet-builder built
#   copy_demo_fleet          copies the demo fleet to FLEET_DIR=$LAB_SCRATCH/fleet (sets FLEET_DIR)
#   fleet ARGS...            fleet on the laptop
#   deploy ARGS...           fleet sync-and-build on the laptop; exit code in $RC, output in $OUT
#   variant NAME FILTER      writes $FLEET_DIR/NAME.json, the demo fleet.json through a jq filter,
#                            and prints its path
#   activation_count HOST    how many activations HOST has recorded (0 when none; a switch's
#                            `test` and the `boot` that follows its confirmation count once)
#   report_field REPORT NODE FIELD   a node's field in a run report (jq path after .nodes[NODE])
#   result_of REPORT NODE    a node's result in a run report
#   wait_for WHAT SECONDS CMD...   runs CMD every 0.5 s until it succeeds; fails naming WHAT
#                            after SECONDS
#   agent_pid HOST           the pid of HOST's `fleet-builder build`, empty when none runs
#   descendants_of PID       every process below PID;  all_ended PID...  true when none runs

probe() {
  lab_binaries_built || {
    echo "fleet and fleet-builder are not built (FLEET_BIN_DIR='${FLEET_BIN_DIR:-}')"
    return 1
  }
}

copy_demo_fleet() {
  FLEET_DIR=$LAB_SCRATCH/fleet
  cp -r "$LAB_FLEET" "$FLEET_DIR"
}

fleet() {
  lab exec laptop fleet "$@"
}

# shellcheck disable=SC2034 # RC and OUT are read by the suites
deploy() {
  RC=0
  OUT=$(fleet sync-and-build "$@" 2>&1) || RC=$?
}

variant() {
  jq "$2" "$FLEET_DIR/fleet.json" >"$FLEET_DIR/$1.json"
  printf '%s' "$FLEET_DIR/$1.json"
}

# Sets NODE's message (a new configuration) and optional extra attributes in hosts/NODE.nix.
configure() {
  printf '{ message = "%s"; %s }\n' "$2" "${3:-}" >"$FLEET_DIR/hosts/$1.nix"
}

# The toplevel HOST's system profile points at.
profile_path() {
  local link
  link=$(readlink "$(lab path "$1" /nix/var/nix/profiles/system)")
  readlink "$(lab path "$1" "/nix/var/nix/profiles/$link")"
}

# /run is the host's own tmpfs: read from inside.
current_system() {
  lab exec "$1" readlink /run/current-system
}

activation_count() {
  local file
  file=$(lab path "$1" /var/lib/lab/activations)
  if [[ ! -f $file ]]; then
    echo 0
    return 0
  fi
  # A confirmed switch is `test` then `boot` of the same toplevel: one activation.
  awk '!($2 == "boot" && prev == "test " $3) { n++ } { prev = $2 " " $3 } END { print n + 0 }' "$file"
}

report_field() {
  jq -r --arg n "$2" ".nodes[\$n].$3" "$1"
}

result_of() {
  report_field "$1" "$2" result
}

wait_for() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out waiting for $what"
    sleep 0.5
  done
}

# Found through /proc in HOST's network namespace and checked by its command line.
agent_pid() {
  # shellcheck disable=SC2016 # expanded inside the host
  lab exec "$1" sh -c 'self=$(readlink /proc/self/ns/net)
    for d in /proc/[0-9]*; do
      [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$self" ] || continue
      [ "$(tr "\0" " " <"$d/cmdline" 2>/dev/null)" = "fleet-builder build " ] && echo "${d#/proc/}"
    done; true'
}

descendants_of() {
  local child
  for child in $(ps -o pid= --ppid "$1" || true); do
    echo "$child"
    descendants_of "$child"
  done
}

# A zombie waiting for init counts as ended.
all_ended() {
  local pid
  for pid in "$@"; do
    [[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* || -z $(ps -o pid= -p "$pid") ]] || return 1
  done
}
