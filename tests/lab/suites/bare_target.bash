# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# A delegated target without fleet-builder, or with another release, is deployed with the agent
# its build node brings: a store path copied with the closure. Run by tests/lab/run.

setup() {
  lab reset all >/dev/null
  copy_demo_fleet
  export XDG_STATE_HOME=$LAB_SCRATCH/state
}

# t1's /usr/local/bin, where `lab install` put its fleet-builder.
t1_agent() {
  printf '%s' "$LAB/hosts/t1/bin/fleet-builder"
}

set_aside_t1_agent() {
  mv -f "$(t1_agent)" "$LAB_SCRATCH/t1-fleet-builder"
}

restore_t1_agent() {
  rm -f "$(t1_agent)"
  mv -f "$LAB_SCRATCH/t1-fleet-builder" "$(t1_agent)"
}

t1_log() {
  printf '%s' "$XDG_STATE_HOME/fleet/runs/$(jq -r .run "$1")/t1.log"
}

brought_agents_on_t1() {
  find "$LAB/hosts/t1/nix/store" -maxdepth 1 -name '*-fleet-builder-*' | wc -l
}

test_a_target_without_fleet_builder_gets_its_build_nodes_agent() {
  local report=$LAB_SCRATCH/bare.json
  set_aside_t1_agent
  printf '{ message = "deployed with a brought agent"; }\n' >"$FLEET_DIR/hosts/t1.nix"
  deploy -c "$FLEET_DIR/fleet.json" --on t1 --report "$report"
  restore_t1_agent
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$report" t1)" "result of t1"
  expect_file_contains "$(t1_log "$report")" "target has no fleet-builder: bringing /nix/store/"
  expect_eq 1 "$(brought_agents_on_t1)" "bundles in t1's store"
}

test_a_target_with_another_release_gets_its_build_nodes_agent() {
  local report=$LAB_SCRATCH/other.json
  set_aside_t1_agent
  printf '#!/bin/sh\necho %s\n' "'{\"agent\":\"fleet-builder\",\"version\":\"0.0.9\",\"protocol\":1}'" >"$(t1_agent)"
  chmod 755 "$(t1_agent)"
  printf '{ message = "deployed over an old agent"; }\n' >"$FLEET_DIR/hosts/t1.nix"
  deploy -c "$FLEET_DIR/fleet.json" --on t1 --report "$report"
  restore_t1_agent
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$report" t1)" "result of t1"
  expect_file_contains "$(t1_log "$report")" "target's fleet-builder 0.0.9 (protocol 1) differs from this build node's"
}

test_a_target_with_this_release_uses_its_own() {
  local report=$LAB_SCRATCH/own.json
  printf '{ message = "deployed with its own agent"; }\n' >"$FLEET_DIR/hosts/t1.nix"
  deploy -c "$FLEET_DIR/fleet.json" --on t1 --report "$report"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_file_contains "$(t1_log "$report")" "using the target's fleet-builder"
}
