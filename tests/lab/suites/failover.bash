# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Failover between build nodes: a builder whose agent is killed mid-build, and a builder that is
# down from the start, both have their targets rebuilt by the other builder within the same run.
# Also checks that a builder's targets are evaluated in memory-sized batches. Run by tests/lab/run.

setup() {
  lab reset all >/dev/null
  copy_demo_fleet
  # t1's build sleeps, so there is time to kill the agent building it.
  printf '{\n  message = "hello from t1";\n  slowBuild = 12;\n}\n' >"$FLEET_DIR/hosts/t1.nix"
}

t1_building_on_b1() {
  grep -q '"node":"t1","phase":"build","status":"start"' "$LAB_SCRATCH/kill.jsonl" 2>/dev/null
}

test_killed_agent_moves_its_targets_to_the_other_builder() {
  local plan pid rc=0 report=$LAB_SCRATCH/kill.json
  plan=$(fleet plan -c "$FLEET_DIR/fleet.json" --on t1,t2 --json)
  expect_eq b1 "$(jq -r '.nodes.t1.location' <<<"$plan")" "t1 planned on b1"
  expect_eq b2 "$(jq -r '.nodes.t2.location' <<<"$plan")" "t2 planned on b2"
  fleet sync-and-build -c "$FLEET_DIR/fleet.json" --on t1,t2 --json --report "$report" \
    >"$LAB_SCRATCH/kill.jsonl" 2>"$LAB_SCRATCH/kill.err" &
  local fleet_pid=$!
  wait_for "t1's build on b1" 120 t1_building_on_b1
  pid=$(agent_pid b1)
  [[ $pid =~ ^[0-9]+$ ]] || fail "no single fleet-builder build process in b1: '$pid'"
  expect_eq "fleet-builder build " "$(tr '\0' ' ' </proc/"$pid"/cmdline)" "command line of $pid"
  local -a below
  wait_for "nix under b1's agent" 30 eval 'below=($(descendants_of "$pid")); ((${#below[@]} > 0))'
  lab exec b1 kill -KILL "$pid"
  # t1's build sleeps 12 s: its nix and the builder end with the agent, not when the sleep does.
  wait_for "the killed agent's nix processes (${below[*]}) to end" 5 all_ended "${below[@]}"
  wait "$fleet_pid" || rc=$?
  expect_eq 0 "$rc" "exit code; stderr: $(tail -20 "$LAB_SCRATCH/kill.err")"
  expect_eq ok "$(jq -r '.nodes.t1.result' "$report")" "result of t1"
  expect_eq ok "$(jq -r '.nodes.t2.result' "$report")" "result of t2"
  expect_eq b2 "$(jq -r '.nodes.t1.builtOn' "$report")" "t1 finally built on"
  expect_eq b1 "$(jq -r '.nodes.t1.moves[0].from' "$report")" "t1 moved from"
  expect_eq b2 "$(jq -r '.nodes.t1.moves[0].to' "$report")" "t1 moved to"
  expect_contains "$(jq -r '.nodes.t1.moves[0].reason' "$report")" "b1 died"
  expect_eq null "$(jq -r '.nodes.t2.moves' "$report")" "t2 did not move"
  expect_eq 1 "$(activation_count t1)" "activations on t1"
  expect_eq 1 "$(activation_count t2)" "activations on t2"
}

test_builder_down_from_the_start_moves_its_targets() {
  local file report=$LAB_SCRATCH/down.json rc=0 out
  # Nothing listens on port 2222 of b1: connection refused.
  file=$(variant down '.builders.b1.port = 2222')
  out=$(fleet sync-and-build -c "$file" --on t1,t2 --report "$report" 2>&1) || rc=$?
  expect_eq 0 "$rc" "exit code; output: $out"
  local n
  for n in t1 t2; do
    expect_eq ok "$(jq -r --arg n "$n" '.nodes[$n].result' "$report")" "result of $n"
    expect_eq b2 "$(jq -r --arg n "$n" '.nodes[$n].builtOn' "$report")" "$n built on"
  done
  expect_eq b1 "$(jq -r '.nodes.t1.moves[0].from' "$report")" "t1 moved from"
  expect_contains "$(jq -r '.nodes.t1.moves[0].reason' "$report")" "unreachable"
}

test_pinned_node_on_a_dead_builder_fails_alone() {
  local file report=$LAB_SCRATCH/pinned.json rc=0 out
  file=$(variant pinned '.builders.b1.port = 2222 | .nodes.t4.build = "b1"')
  out=$(fleet sync-and-build -c "$file" --on t2,t4 --report "$report" 2>&1) || rc=$?
  expect_eq 1 "$rc" "exit code; output: $out"
  expect_eq ok "$(jq -r '.nodes.t2.result' "$report")" "result of t2"
  expect_eq failed "$(jq -r '.nodes.t4.result' "$report")" "result of t4"
  expect_contains "$(jq -r '.nodes.t4.error' "$report")" "a pinned node is never moved"
}

test_targets_are_evaluated_in_memory_sized_batches() {
  local file out rc=0
  # Each evaluation is said to need 16 TiB: one target per batch.
  file=$(variant batches '.evalMemoryMB = 16777216 | .nodes.t1.build = "b2" | .nodes.t2.build = "b2"')
  out=$(fleet sync-and-build -c "$file" --on t1,t2 --json 2>/dev/null) || rc=$?
  expect_eq 0 "$rc" "exit code"
  out=$(jq -r 'select(.phase == "eval" and .status == "progress") | "\(.node) \(.msg)"' <<<"$out")
  expect_contains "$out" "t1 batch 1/2 (1 of 2 targets; MemAvailable"
  expect_contains "$out" "t2 batch 2/2 (1 of 2 targets; MemAvailable"
}
