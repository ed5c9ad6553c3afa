# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Real hosts: systemd as PID 1, a nix-daemon, sudo. Who is root in this suite:
#   sb1  build node, reached as the non-root `fleet` user (fleet-builder installed)
#   st1  delegated to sb1, reached as `fleet` from the laptop and from sb1; no fleet-builder
#   st2  delegated to sb1, reached as root; no fleet-builder
#   st3  builds itself, reached as `fleet`; fleet-builder installed, and a nixos-rebuild on PATH
# `fleet` may use sudo only for what `fleet-builder sudoers fleet` prints. Run by tests/lab/run.

LAB_SYSTEMD=1

probe() {
  lab_binaries_built || {
    echo "fleet and fleet-builder are not built (FLEET_BIN_DIR='${FLEET_BIN_DIR:-}')"
    return 1
  }
  local tool
  for tool in systemd-nspawn debootstrap; do
    command -v "$tool" >/dev/null || {
      echo "'$tool' is not installed (scripts/setup.sh installs it)"
      return 1
    }
  done
}

setup() {
  local host
  for host in st1 st2 st3; do
    lab reset "$host" >/dev/null
  done
  lab install "$FLEET_BIN_DIR" >/dev/null
  # A nixos-rebuild that only says it was run: the agent must never need it.
  cat >"$(lab path st3 /usr/local/bin/nixos-rebuild)" <<'EOF'
#!/bin/sh
echo "$*" >>/var/lib/lab/nixos-rebuild-calls
echo "nixos-rebuild must not be used by fleet-builder" >&2
exit 1
EOF
  chmod 0755 "$(lab path st3 /usr/local/bin/nixos-rebuild)"
  copy_demo_fleet
  FILE=$FLEET_DIR/systemd.json
  jq --slurpfile ips "$LAB/hosts.json" --slurpfile keys "$LAB/host-keys.json" '
      .builders = {sb1: {host: $ips[0].sb1, user: "fleet", systems: ["x86_64-linux"], maxJobs: 2, speed: 1}}
    | .nodes = {
        st1: {host: $ips[0].st1, user: "fleet", system: "x86_64-linux", build: "sb1", hostKey: $keys[0].st1},
        st2: {host: $ips[0].st2, user: "root", system: "x86_64-linux", build: "sb1", hostKey: $keys[0].st2},
        st3: {host: $ips[0].st3, user: "fleet", system: "x86_64-linux", build: "self", hostKey: $keys[0].st3}}
    | .admins = [$admin]
    | .nodes.st1.secrets = {app: {file: "secrets/app.age", dest: "/run/keys/app", owner: "nobody",
                                   group: "nogroup", mode: "0440"}}' \
    --arg admin "$(cut -d' ' -f1,2 "$LAB/keys/laptop/id_ed25519.pub")" "$FLEET_DIR/fleet.json" >"$FILE"
  set_secret "secret one"
}

# Encrypts TEXT as st1's secret `app` for the next deployment.
set_secret() {
  printf '%s' "$1" | fleet secrets -c "$FILE" encrypt app --for st1 >/dev/null
}

# "content|owner group mode" of st1's secret.
# shellcheck disable=SC2016 # expanded by the inner sh
secret_on_st1() {
  lab exec st1 sh -c 'printf "%s|" "$(cat /run/keys/app)"; stat -c "%U %G %a" /run/keys/app'
}

# The file of HOST at PATH, as seen from outside.
on() {
  lab path "$1" "$2"
}

# The record of HOST's latest activation (fleet's state dir is /var/lib/fleet for root and fleet).
last_record() {
  local dir
  dir=$(on "$1" /var/lib/fleet/activations)
  printf '%s/%s/record.json' "$dir" "$(ls -t "$dir" | head -n 1)"
}

# The toplevel that hosts/NODE.nix evaluates to now, from the last report.
report_path() {
  jq -r --arg n "$2" '.nodes[$n].storePath // empty' "$1"
}

test_bare_targets_and_non_root_users_are_deployed_on_the_first_try() {
  local host
  for host in st1 st2; do
    [[ ! -e $(on "$host" /usr/local/bin/fleet-builder) ]] || fail "$host has fleet-builder installed"
    if lab exec "$host" sh -c 'command -v fleet-builder' >/dev/null 2>&1; then
      fail "$host has fleet-builder on its PATH"
    fi
  done
  deploy -c "$FILE" --report "$LAB_SCRATCH/first.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  for host in st1 st2 st3; do
    expect_eq ok "$(result_of "$LAB_SCRATCH/first.json" "$host")" "result of $host"
    expect_eq "$(report_path "$LAB_SCRATCH/first.json" "$host")" "$(current_system "$host")" "running system of $host"
    expect_eq "$(current_system "$host")" "$(profile_path "$host")" "boot default of $host"
    # Tested first, made the boot default once confirmed.
    expect_eq "test $(current_system "$host")|boot $(current_system "$host")" \
      "$(tail -n 2 "$(on "$host" /var/lib/lab/activations)" | cut -d' ' -f2- | paste -sd'|')" "activations of $host"
    expect_eq switch "$(jq -r .action "$(last_record "$host")")" "the action in $host's activation record"
  done
  [[ ! -e $(on st3 /var/lib/lab/nixos-rebuild-calls) ]] || fail "nixos-rebuild was run on st3"
  expect_eq "secret one|nobody nogroup 440" "$(secret_on_st1)" "st1's secret, as the non-root fleet user deployed it"
}

test_a_change_is_deployed_again_through_the_agent_the_build_node_brought() {
  configure st1 "st1, second"
  configure st2 "st2, second"
  local before1 before2
  before1=$(current_system st1)
  before2=$(current_system st2)
  deploy -c "$FILE" --on st1,st2 --report "$LAB_SCRATCH/second.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  [[ $(current_system st1) != "$before1" ]] || fail "st1 still runs $before1"
  [[ $(current_system st2) != "$before2" ]] || fail "st2 still runs $before2"
  expect_eq "$(current_system st1)" "$(profile_path st1)" "boot default of st1"
  expect_eq 2 "$(grep -c ' boot ' "$(on st1 /var/lib/lab/activations)")" "generations made the boot default on st1"
  expect_eq switch "$(jq -r .action "$(last_record st1)")" "the action in st1's activation record"
}

# A configuration of NODE whose activation stops in its confirmation window: its command check
# leaves a marker on the host, then waits SECONDS.
window_check() {
  jq --arg n "$1" --argjson s "$2" '.nodes[$n].healthChecks = [{type: "command", timeout: ($s + 30),
      command: ("touch /var/lib/lab/in-window; sleep " + ($s | tostring))}]' "$FILE"
}

# Deploys NODE with window_check in the background (report $LAB_SCRATCH/NAME.json, output
# NAME.out; its pid in WINDOW_RUN) and returns once NODE is in its confirmation window.
deploy_into_window() {
  local node=$1 seconds=$2 name=$3 marker i
  window_check "$node" "$seconds" >"$FLEET_DIR/$name.json"
  marker=$(on "$node" /var/lib/lab/in-window)
  rm -f "$marker"
  (fleet sync-and-build -c "$FLEET_DIR/$name.json" --on "$node" --report "$LAB_SCRATCH/$name.json" \
    >"$LAB_SCRATCH/$name.out" 2>&1 || true) &
  WINDOW_RUN=$!
  for ((i = 0; i < 600; i++)); do
    [[ -e $marker ]] && return 0
    sleep 0.1
  done
  fail "$node never reached its confirmation window"
}

test_systemd_checks_pass_and_a_failing_unit_rolls_back() {
  local checked before
  checked=$(jq '.nodes.st1.healthChecks = [{type: "systemd", units: ["lab-app.service"]}, {type: "system-running"}]' "$FILE")
  printf '%s' "$checked" >"$FLEET_DIR/checked.json"
  configure st1 "st1, checked"
  deploy -c "$FLEET_DIR/checked.json" --on st1 --report "$LAB_SCRATCH/checked.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  before=$(current_system st1)
  configure st1 "st1, broken service" "failService = true;"
  set_secret "secret of a broken configuration"
  deploy -c "$FLEET_DIR/checked.json" --on st1 --report "$LAB_SCRATCH/broken.json"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq rolled-back "$(result_of "$LAB_SCRATCH/broken.json" st1)" "result of st1"
  expect_contains "$(report_field "$LAB_SCRATCH/broken.json" st1 error)" "lab-app.service"
  expect_eq "$before" "$(current_system st1)" "running system after the rollback"
  expect_eq "$before" "$(profile_path st1)" "boot default after the rollback"
  lab exec st1 systemctl is-active lab-app.service >/dev/null || fail "lab-app.service is not active after the rollback"
  expect_eq "secret one|nobody nogroup 440" "$(secret_on_st1)" "st1's secret after the rollback"
  set_secret "secret one"
  # The same failed unit seen as a whole: the system is degraded, not running.
  jq '.nodes.st1.healthChecks = [{type: "system-running"}]' "$FILE" >"$FLEET_DIR/running.json"
  configure st1 "st1, degraded" "failService = true;"
  deploy -c "$FLEET_DIR/running.json" --on st1 --report "$LAB_SCRATCH/degraded.json"
  expect_eq rolled-back "$(result_of "$LAB_SCRATCH/degraded.json" st1)" "result of st1 with a failed unit; output: $OUT"
  expect_contains "$(report_field "$LAB_SCRATCH/degraded.json" st1 error)" "is-system-running"
  expect_eq "$before" "$(current_system st1)" "running system after the second rollback"
}

test_a_configuration_that_cuts_the_network_rolls_back_by_itself() {
  local before
  before=$(current_system st1)
  configure st1 "st1, no network" "cutNetwork = true;"
  jq '.nodes.st1.confirmTimeout = 8' "$FILE" >"$FLEET_DIR/short.json"
  deploy -c "$FLEET_DIR/short.json" --on st1 --report "$LAB_SCRATCH/cut.json"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq rolled-back "$(result_of "$LAB_SCRATCH/cut.json" st1)" "result of st1"
  expect_eq "$before" "$(current_system st1)" "running system after the rollback"
  expect_eq "$before" "$(profile_path st1)" "boot default after the rollback"
  lab ssh laptop st1 true || fail "st1 is not reachable after the rollback"
}

test_the_supervisor_is_a_systemd_unit_and_its_death_in_the_window_rolls_back() {
  local before
  configure st2 "st2, killed in the window"
  before=$(current_system st2)
  deploy_into_window st2 60 killed
  local units
  units=$(lab exec st2 systemctl list-units --plain --no-legend 'fleet-activation-*' | awk '{ print $1 }')
  [[ -n $units ]] || fail "no fleet-activation-* unit runs on st2"
  lab exec st2 systemctl kill --signal=KILL "$units"
  wait "$WINDOW_RUN"
  expect_eq rolled-back "$(result_of "$LAB_SCRATCH/killed.json" st2)" "result of st2; output: $(cat "$LAB_SCRATCH/killed.out")"
  expect_eq "$before" "$(current_system st2)" "running system after the supervisor died"
  expect_eq "$before" "$(profile_path st2)" "boot default after the supervisor died"
}

# Reboots st1 in the confirmation window of a new configuration with a new secret (`lab reboot`
# ARGS), then expects the previous generation running and booting, its secret back, and the
# report's error to contain SAYS.
reboot_in_the_window() {
  local says=$1 before result
  shift
  configure st1 "st1, rebooted in the window ($*)"
  set_secret "secret of a configuration never confirmed"
  before=$(current_system st1)
  deploy_into_window st1 60 reboot
  lab reboot "$@" st1 >/dev/null
  wait "$WINDOW_RUN"
  expect_eq "$before" "$(current_system st1)" "running system after the reboot"
  expect_eq "$before" "$(profile_path st1)" "boot default after the reboot"
  result=$(result_of "$LAB_SCRATCH/reboot.json" st1)
  expect_eq rolled-back "$result" "result of st1; output: $(cat "$LAB_SCRATCH/reboot.out")"
  expect_contains "$(report_field "$LAB_SCRATCH/reboot.json" st1 error)" "$says"
  expect_eq "secret one|nobody nogroup 440" "$(secret_on_st1)" "st1's secret after the reboot"
  set_secret "secret one"
}

test_a_power_cut_in_the_window_boots_and_runs_the_previous_generation() {
  # Nothing on st1 gets to roll back before it boots again: the boot-time recovery says so.
  reboot_in_the_window "the host rebooted during the confirmation window" --hard
}

test_a_clean_reboot_in_the_window_rolls_back_as_the_host_goes_down() {
  # systemd stops the supervisor's unit on the way down; its recover rolls back and says why.
  reboot_in_the_window "the host began to shut down"
}

test_two_deployments_of_one_target_at_once_one_fails_naming_the_other() {
  # The second deployer has a copy of the fleet with another configuration of st2.
  local second_dir=$LAB_SCRATCH/fleet2
  rm -rf "$second_dir"
  cp -R "$FLEET_DIR" "$second_dir"
  printf '{ message = "st2, second of two"; }\n' >"$second_dir/hosts/st2.nix"
  configure st2 "st2, first of two"
  deploy_into_window st2 15 one
  local started=$SECONDS
  RC=0
  # Another deployer: a run lock of its own (as on another laptop).
  OUT=$(XDG_STATE_HOME=$LAB_SCRATCH/second-deployer fleet sync-and-build -c "$second_dir/systemd.json" --on st2 \
    --report "$LAB_SCRATCH/two.json" 2>&1) || RC=$?
  local took=$((SECONDS - started))
  wait "$WINDOW_RUN"
  expect_eq ok "$(result_of "$LAB_SCRATCH/one.json" st2)" "result of the first; output: $(cat "$LAB_SCRATCH/one.out")"
  expect_eq 1 "$RC" "exit code of the second; output: $OUT"
  expect_eq failed "$(result_of "$LAB_SCRATCH/two.json" st2)" "result of the second"
  expect_contains "$(report_field "$LAB_SCRATCH/two.json" st2 error)" "$(jq -r .run "$LAB_SCRATCH/one.json")"
  ((took < 15)) || fail "the second deployment waited ${took} s instead of failing at once"
  expect_eq "$(report_path "$LAB_SCRATCH/one.json" st2)" "$(current_system st2)" "running system"
  expect_eq "$(current_system st2)" "$(profile_path st2)" "boot default"
}

test_a_self_building_target_with_nixos_rebuild_gets_hooks_checks_and_rollback() {
  local before checked
  before=$(current_system st3)
  checked=$(jq '.nodes.st3.hooks = {preActivate: "touch /var/lib/lab/pre-hook-ran"}
    | .nodes.st3.healthChecks = [{type: "systemd", units: ["lab-app.service"]}]' "$FILE")
  printf '%s' "$checked" >"$FLEET_DIR/self.json"
  configure st3 "st3, broken service" "failService = true;"
  deploy -c "$FLEET_DIR/self.json" --on st3 --report "$LAB_SCRATCH/self.json"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq rolled-back "$(result_of "$LAB_SCRATCH/self.json" st3)" "result of st3"
  [[ -e $(on st3 /var/lib/lab/pre-hook-ran) ]] || fail "the preActivate hook did not run on st3"
  expect_eq "$before" "$(current_system st3)" "running system after the rollback"
  [[ ! -e $(on st3 /var/lib/lab/nixos-rebuild-calls) ]] || fail "nixos-rebuild was run on st3"
}

test_a_build_node_with_an_older_agent_stops_the_run_before_anything_is_sent() {
  local agent
  agent=$(on sb1 /usr/local/bin/fleet-builder)
  cp "$agent" "$LAB_SCRATCH/fleet-builder.current"
  # What the agent of protocol 1 answered; anything else it was asked is written down.
  cat >"$agent.old" <<'EOF2'
#!/bin/sh
echo "$*" >>/var/lib/fleet/old-agent-calls
case "$*" in
  "version --json") echo '{"agent":"fleet-builder","version":"0.0.9","protocol":1}' ;;
  *) echo "fleet-builder 0.0.9: unknown command" >&2; exit 2 ;;
esac
EOF2
  chmod 0755 "$agent.old"
  mv -f "$agent.old" "$agent"
  configure st1 "st1, never sent"
  deploy -c "$FILE" --on st1 --report "$LAB_SCRATCH/old.json"
  cp "$LAB_SCRATCH/fleet-builder.current" "$agent.new"
  mv -f "$agent.new" "$agent"
  [[ $RC != 0 ]] || fail "the run succeeded with an agent of protocol 1 on sb1; output: $OUT"
  expect_contains "$OUT" "0.0.9"
  expect_contains "$OUT" "protocol 1"
  expect_eq "version --json" "$(sort -u "$(on sb1 /var/lib/fleet/old-agent-calls)")" "what the old agent was asked"
}
