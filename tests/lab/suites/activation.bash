# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Safe activation in the lab: actions as nixos-rebuild has them, hooks, health checks of every
# kind, and the automatic rollback when checks fail or the deployer cannot get back in (a
# configuration that takes the network down). Run by tests/lab/run.

setup() {
  lab reset all >/dev/null
  copy_demo_fleet
  # A first deployment everywhere, so there is a previous generation to return to.
  OUT=$(lab exec laptop fleet sync-and-build -c "$FLEET_DIR/fleet.json" 2>&1) || {
    echo "$OUT" >&2
    return 1
  }
}

profile_generation() {
  readlink "$LAB/hosts/$1/nix/var/nix/profiles/system" | sed -E 's/system-([0-9]+)-link/\1/'
}

last_activation() {
  tail -n 1 "$LAB/hosts/$1/var-lib-lab/activations" | cut -d' ' -f2-
}

test_network_cut_by_the_new_configuration_rolls_back_by_itself() {
  local before report=$LAB_SCRATCH/cut.json file
  before=$(profile_path t1)
  configure t1 "this one cuts the network" "cutNetwork = true;"
  file=$(variant cut '.nodes.t1.confirmTimeout = 8')
  deploy -c "$file" --on t1 --report "$report"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq rolled-back "$(report_field "$report" t1 result)" "result of t1"
  expect_contains "$(report_field "$report" t1 error)" "no confirmation within 8 s"
  # Reachable again, and back on the previous system, in the profile and running.
  expect_eq t1 "$(lab ssh laptop t1 hostname)" "t1 over ssh after the rollback"
  expect_eq "$before" "$(profile_path t1)" "system profile of t1"
  expect_eq "$before" "$(current_system t1)" "running system of t1"
  # The previous system tested again: the boot default never moved.
  expect_eq "test $before" "$(last_activation t1)" "last activation on t1"
  configure t1 "hello from t1"
}

test_self_building_target_that_cuts_its_network_rolls_back_and_reports_it() {
  local before report=$LAB_SCRATCH/cut-self.json file
  before=$(profile_path t3)
  configure t3 "this one cuts the network too" "cutNetwork = true;"
  file=$(variant cut-self '.nodes.t3.confirmTimeout = 8')
  deploy -c "$file" --on t3 --report "$report"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq rolled-back "$(report_field "$report" t3 result)" "result of t3"
  expect_contains "$(report_field "$report" t3 error)" "no confirmation within 8 s"
  expect_eq t3 "$(lab ssh laptop t3 hostname)" "t3 over ssh after the rollback"
  expect_eq "$before" "$(profile_path t3)" "system profile of t3"
  configure t3 "hello from t3"
}

test_each_failing_health_check_kind_rolls_back_with_its_output() {
  local before kind check report file
  before=$(profile_path t2)
  configure t2 "checked configuration"
  for kind in command tcp http systemd system-running; do
    case $kind in
      command) check='{type: "command", command: "echo disk full; exit 3"}' ;;
      tcp) check='{type: "tcp", port: 9, timeout: 2}' ;;
      http) check='{type: "http", url: "http://127.0.0.1:9/health", timeout: 2}' ;;
      systemd) check='{type: "systemd", units: ["fleet-lab-absent.service"]}' ;;
      system-running) check='{type: "system-running", timeout: 5}' ;;
    esac
    report=$LAB_SCRATCH/check-$kind.json
    file=$(variant "check-$kind" ".nodes.t2.healthChecks = [$check] | .nodes.t2.confirmTimeout = 5")
    deploy -c "$file" --on t2 --report "$report"
    expect_eq 1 "$RC" "$kind: exit code; output: $OUT"
    expect_eq rolled-back "$(report_field "$report" t2 result)" "$kind: result"
    expect_contains "$(report_field "$report" t2 error)" "health check failed"
    expect_eq "$before" "$(profile_path t2)" "$kind: system profile"
    expect_eq "$before" "$(current_system t2)" "$kind: running system"
  done
  expect_contains "$(report_field "$LAB_SCRATCH/check-command.json" t2 error)" "disk full"
  expect_contains "$(report_field "$LAB_SCRATCH/check-tcp.json" t2 error)" "refused"
}

test_passing_checks_confirm_and_advance_the_profile() {
  local before_generation report=$LAB_SCRATCH/good.json file
  before_generation=$(profile_generation t2)
  configure t2 "a good configuration"
  file=$(variant good '.nodes.t2.healthChecks = [{type: "command", command: "test -e /run/current-system"},
      {type: "tcp", port: 22, host: "'"$(lab_ip t2)"'"}] | .nodes.t2.confirmTimeout = 10')
  deploy -c "$file" --on t2 --report "$report"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(report_field "$report" t2 result)"
  local store
  store=$(report_field "$report" t2 storePath)
  expect_eq "$store" "$(profile_path t2)" "system profile of t2"
  [[ $(profile_generation t2) -gt $before_generation ]] || fail "the profile generation did not advance"
  expect_eq "$store" "$(current_system t2)" "running system of t2"
}

test_first_deployment_with_a_failing_check_is_failed_and_left_as_is() {
  local report=$LAB_SCRATCH/first.json file
  file=$(variant first ".nodes.t5 = {host: \"$(lab_ip t5)\", build: \"b1\", hostKey: $(jq '.t5' "$LAB/host-keys.json"),
      confirmTimeout: 5, healthChecks: [{type: \"command\", command: \"false\"}]}")
  deploy -c "$file" --on t5 --report "$report"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq failed "$(report_field "$report" t5 result)"
  expect_contains "$(report_field "$report" t5 error)" "first deployment"
  # Running, but never made the boot default: it was not confirmed.
  expect_eq "test $(report_field "$report" t5 storePath)" "$(last_activation t5)" "t5 left on its new system"
}

test_hooks_stop_fail_or_roll_back() {
  local before count report file
  before=$(profile_path t4)
  count=$(activation_count t4)
  configure t4 "hooked configuration"
  report=$LAB_SCRATCH/prehook.json
  file=$(variant prehook '.nodes.t4.hooks = {preActivate: "echo not today >&2; exit 1"}')
  deploy -c "$file" --on t4 --report "$report"
  expect_eq 1 "$RC" "pre-hook: exit code"
  expect_eq failed "$(report_field "$report" t4 result)"
  expect_contains "$(report_field "$report" t4 logTail | tr -d '\n')" "not today"
  expect_eq "$count" "$(activation_count t4)" "activations after a failing pre-hook"
  expect_eq "$before" "$(profile_path t4)" "profile after a failing pre-hook"

  report=$LAB_SCRATCH/posthook.json
  file=$(variant posthook '.nodes.t4.hooks = {postActivate: "exit 1"} | .nodes.t4.confirmTimeout = 5')
  deploy -c "$file" --on t4 --report "$report"
  expect_eq 1 "$RC" "post-hook: exit code"
  expect_eq failed "$(report_field "$report" t4 result)"
  expect_eq "$(report_field "$report" t4 storePath)" "$(profile_path t4)" "a failing post-hook keeps the new system"

  configure t4 "hooked configuration, second try"
  report=$LAB_SCRATCH/posthook-rollback.json
  before=$(profile_path t4)
  file=$(variant posthook-rollback '.nodes.t4.hooks = {postActivate: "exit 1"} | .nodes.t4.rollbackOnHookFailure = true')
  deploy -c "$file" --on t4 --report "$report"
  expect_eq 1 "$RC" "post-hook with rollback: exit code"
  expect_eq rolled-back "$(report_field "$report" t4 result)"
  expect_eq "$before" "$(profile_path t4)" "profile after the post-hook rollback"
}

test_actions_leave_profile_and_record_as_nixos_rebuild_does() {
  local before running store report action
  for action in boot test dry-activate build; do
    before=$(profile_path t1)
    running=$(current_system t1)
    configure t1 "action $action"
    report=$LAB_SCRATCH/action-$action.json
    deploy -c "$FLEET_DIR/fleet.json" --on t1 --action "$action" --report "$report"
    expect_eq 0 "$RC" "$action: exit code; output: $OUT"
    store=$(report_field "$report" t1 storePath)
    case $action in
      boot)
        expect_eq "$store" "$(profile_path t1)" "boot: profile"
        expect_eq "$running" "$(current_system t1)" "boot: running system"
        expect_eq "boot $store" "$(last_activation t1)" "boot: activation record"
        ;;
      test)
        expect_eq "$before" "$(profile_path t1)" "test: profile"
        expect_eq "$store" "$(current_system t1)" "test: running system"
        expect_eq "test $store" "$(last_activation t1)" "test: activation record"
        ;;
      dry-activate)
        expect_eq "$before" "$(profile_path t1)" "dry-activate: profile"
        expect_eq "$running" "$(current_system t1)" "dry-activate: running system"
        expect_eq "dry-activate $store" "$(last_activation t1)" "dry-activate: activation record"
        ;;
      build)
        expect_eq "$before" "$(profile_path t1)" "build: profile"
        expect_eq "$running" "$(current_system t1)" "build: running system"
        [[ -d $LAB/hosts/t1/$store ]] || fail "build: the closure is not on t1"
        [[ $(last_activation t1) != *"$store" ]] || fail "build: something was activated"
        ;;
    esac
  done
}

# t2 has no systemd: a supervisor killed in its confirmation window has no ExecStopPost to
# finish it, so the next activation there recovers it first, and says so.
test_the_next_activation_recovers_a_killed_supervisor_first() {
  local before report=$LAB_SCRATCH/killed.json second=$LAB_SCRATCH/after-kill.json file pid i marker
  before=$(current_system t2)
  configure t2 "t2, killed in its window"
  file=$(variant window '.nodes.t2.healthChecks = [{type: "command", timeout: 90,
      command: "touch /var/lib/lab/in-window; sleep 60"}]')
  marker=$LAB/hosts/t2/var-lib-lab/in-window
  rm -f "$marker"
  (fleet sync-and-build -c "$file" --on t2 --report "$report" >"$LAB_SCRATCH/killed.out" 2>&1 || true) &
  local run=$!
  for ((i = 0; i < 600; i++)); do
    [[ ! -e $marker ]] || break
    sleep 0.1
  done
  [[ -e $marker ]] || fail "t2 never reached its confirmation window"
  pid=$(lab exec t2 jq -r .pid /run/fleet/activation-holder.json)
  lab exec t2 kill -KILL "$pid"
  wait "$run"
  expect_eq failed "$(result_of "$report" t2)" "result of t2; output: $(cat "$LAB_SCRATCH/killed.out")"
  expect_contains "$(report_field "$report" t2 error)" "stopped without a result"
  configure t2 "t2, after the killed one"
  deploy -c "$FLEET_DIR/fleet.json" --on t2 --report "$second"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_contains "$OUT" "has no live supervisor"
  expect_eq "$(report_field "$second" t2 storePath)" "$(current_system t2)" "running system of t2"
  expect_eq "$(current_system t2)" "$(profile_path t2)" "boot default of t2"
  [[ $before != "$(current_system t2)" ]] || fail "t2 still runs $before"
}
