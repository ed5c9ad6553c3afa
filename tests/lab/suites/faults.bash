# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The fault matrix: a build node's agent that misbehaves on purpose (a 1 MB event line, deeply
# nested JSON, an upload it takes and never answers). Each run must end within its limits, the
# unaffected node ok, the affected one reported truthfully. Other faults live with the suites of
# what they break: a killed agent (failover), full disks (unattended: the report; secrets),
# hanging hooks and checks (activation), dropped connections (unattended). Run by tests/lab/run.

setup() {
  lab reset all >/dev/null
  copy_demo_fleet
  restore_agent b2
  # Short limits, so a fault that is not handled shows as a run that overstays them.
  jq '.timeouts = {"connect": 5, "upload": 15, "build": 120, "copy": 60, "activate": 60}' \
    "$FLEET_DIR/fleet.json" >"$FLEET_DIR/faults.json"
}

agent_path() {
  printf '%s' "$LAB/hosts/$1/bin/fleet-builder"
}

# Replaces HOST's agent with a script whose `receive` or `build` (MODE's first word) runs the
# shell code MODE_CODE first; every other command, and $real after the code, is the real agent.
hostile_agent() {
  local host=$1 command=$2 code=$3 bin
  bin=$(agent_path "$host")
  [[ -f $bin.real ]] || mv "$bin" "$bin.real"
  cat >"$bin" <<EOF
#!/bin/sh
real=$bin.real
if [ "\$1" = "$command" ]; then
  $code
fi
exec "\$real" "\$@"
EOF
  chmod 0755 "$bin"
}

restore_agent() {
  local bin
  bin=$(agent_path "$1")
  if [[ -f $bin.real ]]; then
    mv -f "$bin.real" "$bin"
  fi
}

# Deploys t3 (builds itself) and t4 (built on b2) with the short limits; sets RC, OUT, ELAPSED.
deploy_t3_t4() {
  local started=$SECONDS
  deploy -c "$FLEET_DIR/faults.json" --on t3,t4 --report "$LAB_SCRATCH/$1.json"
  ELAPSED=$((SECONDS - started))
  restore_agent b2
}

test_a_1mb_event_line_is_ignored_and_the_build_goes_on() {
  hostile_agent b2 build 'head -c 1000000 /dev/zero | tr "\0" x; echo'
  deploy_t3_t4 long-line
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/long-line.json" t3)" "result of t3"
  expect_eq ok "$(result_of "$LAB_SCRATCH/long-line.json" t4)" "result of t4"
  expect_contains "$OUT" "ignored output from b2"
}

test_deeply_nested_json_from_an_agent_is_refused_without_harm() {
  # 30,000 levels of valid JSON within the 64 KiB of an event line: enough to overflow a
  # recursive parser's stack.
  hostile_agent b2 build 'printf "{\"node\":"; head -c 30000 /dev/zero | tr "\0" "["; head -c 30000 /dev/zero | tr "\0" "]"; echo "}"'
  deploy_t3_t4 nested
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/nested.json" t4)" "result of t4"
  expect_contains "$OUT" "ignored output from b2"
  expect_contains "$OUT" "event line nests deeper than 128 levels"
}

test_an_agent_that_takes_the_upload_and_never_answers_fails_only_its_node_in_time() {
  # The greeting is the real one (it holds nothing); then the agent reads nothing and says nothing.
  hostile_agent b2 receive '"$real" "$@" </dev/null | head -1; exec sleep 600'
  date +%s%N >"$FLEET_DIR/new-source"  # a source b2 does not hold yet
  deploy_t3_t4 silent
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/silent.json" t3)" "result of t3"
  expect_eq failed "$(result_of "$LAB_SCRATCH/silent.json" t4)" "result of t4"
  expect_contains "$(report_field "$LAB_SCRATCH/silent.json" t4 error)" "b2"
  # timeouts.upload is 15 s: the run may not wait much longer for b2.
  ((ELAPSED < 90)) || fail "the run took ${ELAPSED}s with a silent upload"
  echo "  a silent upload ended the run after ${ELAPSED}s; t4: $(report_field "$LAB_SCRATCH/silent.json" t4 error | head -1)"
}

test_a_hook_and_a_check_that_close_their_output_and_hang_end_at_their_limits() {
  local before3 before4 count3 file report=$LAB_SCRATCH/hang.json started
  # A first deployment to roll back to, then a changed configuration for each.
  deploy -c "$FLEET_DIR/faults.json" --on t3,t4 --report "$LAB_SCRATCH/before.json"
  expect_eq 0 "$RC" "first deployment; output: $OUT"
  before3=$(profile_path t3)
  before4=$(profile_path t4)
  count3=$(activation_count t3)
  configure t3 "t3 with a hanging hook"
  configure t4 "t4 with a hanging check"
  file=$(variant hang '.timeouts.activate = 90
    | .nodes.t3.hooks = {preActivate: "exec >/dev/null 2>&1; sleep 900", timeout: 5}
    | .nodes.t4.healthChecks = [{type: "command", command: "exec >/dev/null 2>&1; sleep 900", timeout: 5}]
    | .nodes.t4.confirmTimeout = 30')
  started=$SECONDS
  deploy -c "$file" --on t3,t4 --report "$report"
  ELAPSED=$((SECONDS - started))
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq failed "$(result_of "$report" t3)" "result of t3"
  expect_contains "$(report_field "$report" t3 error)" "5 s"
  expect_eq "$count3" "$(activation_count t3)" "activations of t3 after its hook hung"
  expect_eq "$before3" "$(profile_path t3)" "profile of t3"
  expect_eq rolled-back "$(result_of "$report" t4)" "result of t4"
  expect_contains "$(report_field "$report" t4 error)" "health check failed"
  expect_eq "$before4" "$(profile_path t4)" "profile of t4 after its check hung"
  expect_eq "$before4" "$(current_system t4)" "running system of t4"
  # Each limit is 5 s (the check's, within a 30 s confirmation): far below timeouts.activate.
  ((ELAPSED < 80)) || fail "the run took ${ELAPSED}s with 5 s limits"
  echo "  a hanging hook and a hanging check ended the run after ${ELAPSED}s"
}
