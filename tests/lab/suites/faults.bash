# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The fault matrix: build nodes' agents that misbehave on purpose (a 1 MB event line, deeply
# nested JSON, an upload taken and never answered, a flipped byte), full disks on build nodes
# and targets at each step, a build node killed during a closure copy, targets whose sshd dies
# mid-activation. Each run must end within its limits, the unaffected nodes ok, the affected one
# reported truthfully, nothing half-activated. Other faults live with the suites of what they
# break: a killed agent mid-build (failover), the laptop's full disk (unattended), dropped
# connections (unattended). Run by tests/lab/run.

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

# Mounts a tmpfs of SIZE at DIR inside HOST (for the rest of the test), filled up unless FILL is
# "empty".
small_disk() {
  local host=$1 dir=$2 size=$3 fill=${4:-full}
  lab exec "$host" mkdir -p "$dir"
  lab exec "$host" mount -t tmpfs -o "size=$size,mode=0755" fault-disk "$dir"
  UNDO+=("lab exec $host umount -l $dir")
  if [[ $fill == full ]]; then
    lab exec "$host" sh -c "dd if=/dev/zero of='$dir/filler' bs=4k 2>/dev/null || true"
  fi
}

# HOST's /nix with room for SIZE more (an overlay whose upper layer is a tmpfs of that size).
small_nix() {
  local host=$1 size=$2 room=$LAB_SCRATCH/room-$1
  mkdir -p "$room"
  small_disk "$host" "$room" "$size" empty
  lab exec "$host" mkdir "$room/upper" "$room/work"
  lab exec "$host" mount -t overlay fault-nix \
    -o "lowerdir=$LAB/hosts/$host/nix,upperdir=$room/upper,workdir=$room/work" /nix
  UNDO+=("lab exec $host umount -l /nix")
}

# Undoes what small_disk and small_nix did, newest first: the test's EXIT trap.
undo_all() {
  local i
  for ((i = ${#UNDO[@]} - 1; i >= 0; i--)); do
    ${UNDO[i]} || true
  done
}

# Sets NODE's shared base to LINES lines of `seq` (8 bytes each, about; 1,500,000 by default): a
# new path of that size to build and copy.
bigger_base() {
  configure "$1" "$1 with a bigger base" "baseLines = $2;"
}

# Writes $FLEET_DIR/secret.json (the short limits, and t4 given the secret `fault` at
# /run/keys/fault) and encrypts TEXT as that secret for t4.
secret_for_t4() {
  local admin
  admin=$(cut -d' ' -f1,2 "$LAB/keys/laptop/id_ed25519.pub")
  jq --arg admin "$admin" '.admins = [$admin]
    | .nodes.t4.secrets = {fault: {file: "secrets/fault.age", dest: "/run/keys/fault", mode: "0400"}}' \
    "$FLEET_DIR/faults.json" >"$FLEET_DIR/secret.json"
  printf '%s' "$1" | fleet secrets -c "$FLEET_DIR/secret.json" encrypt fault --for t4 >/dev/null
}

# True when the --json event stream in FILE has an event about NODE in PHASE with STATUS.
saw_event() {
  grep -q "\"node\":\"$2\",\"phase\":\"$3\",\"status\":\"$4\"" "$1" 2>/dev/null
}

expect_failed_for_lack_of_space() {
  local report=$1 node=$2 step=$3
  expect_eq failed "$(result_of "$report" "$node")" "result of $node"
  expect_contains "$(report_field "$report" "$node" error)" "No space left on device" "$node's error"
  echo "  full disk $step: $node: $(report_field "$report" "$node" error | head -c 300)"
}

test_a_full_disk_on_a_build_node_during_receive_fails_only_its_node() {
  UNDO=()
  trap undo_all EXIT
  small_disk b2 /var/lib/fleet/sources 64k
  date +%s%N >"$FLEET_DIR/new-source"
  deploy_t3_t4 full-receive
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/full-receive.json" t3)" "result of t3"
  expect_failed_for_lack_of_space "$LAB_SCRATCH/full-receive.json" t4 "during receive"
  ((ELAPSED < 90)) || fail "the run took ${ELAPSED}s"
  expect_eq filler "$(lab exec b2 ls -A /var/lib/fleet/sources)" "what b2 kept of the failed receive"
}

test_a_full_disk_on_a_build_node_during_unpack_fails_only_its_node() {
  UNDO=()
  trap 'undo_all; rm -f "$FLEET_DIR/bulk"' EXIT
  # A 4 MB file that compresses to almost nothing: the tar fits, the tree beside it does not.
  { yes fleet || true; } | head -c 4000000 >"$FLEET_DIR/bulk"
  small_disk b2 /var/lib/fleet/sources 6m empty
  deploy_t3_t4 full-unpack
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/full-unpack.json" t3)" "result of t3"
  expect_failed_for_lack_of_space "$LAB_SCRATCH/full-unpack.json" t4 "during unpack"
  ((ELAPSED < 90)) || fail "the run took ${ELAPSED}s"
  # No partial tree is left behind.
  expect_eq "" "$(lab exec b2 find /var/lib/fleet/sources -mindepth 1 -maxdepth 1 -type d)" "trees on b2"
}

test_a_full_disk_on_a_build_node_during_the_build_fails_only_its_node() {
  UNDO=()
  trap undo_all EXIT
  small_nix b2 4m
  bigger_base t4 1600000
  deploy_t3_t4 full-build
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/full-build.json" t3)" "result of t3"
  expect_failed_for_lack_of_space "$LAB_SCRATCH/full-build.json" t4 "during the build"
  ((ELAPSED < 90)) || fail "the run took ${ELAPSED}s"
}

test_a_full_disk_on_a_target_during_the_copy_leaves_it_as_it_was() {
  local before4 count4
  UNDO=()
  trap undo_all EXIT
  deploy -c "$FLEET_DIR/faults.json" --on t4
  expect_eq 0 "$RC" "first deployment; output: $OUT"
  before4=$(profile_path t4)
  count4=$(activation_count t4)
  small_nix t4 4m
  bigger_base t4 1700000
  deploy_t3_t4 full-copy
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/full-copy.json" t3)" "result of t3"
  expect_failed_for_lack_of_space "$LAB_SCRATCH/full-copy.json" t4 "during the copy"
  expect_eq copy "$(report_field "$LAB_SCRATCH/full-copy.json" t4 'phases[] | select(.status == "fail") | .phase')" "phase t4 failed in"
  expect_eq "$count4" "$(activation_count t4)" "activations of t4"
  expect_eq "$before4" "$(profile_path t4)" "profile of t4"
  ((ELAPSED < 90)) || fail "the run took ${ELAPSED}s"
}

test_a_full_disk_on_a_target_during_secret_install_keeps_the_old_system_and_secret() {
  local before4 count4
  UNDO=()
  trap undo_all EXIT
  small_disk t4 /run/keys 16k empty
  secret_for_t4 "first secret"
  deploy -c "$FLEET_DIR/secret.json" --on t4 --report "$LAB_SCRATCH/secret-before.json"
  expect_eq 0 "$RC" "first deployment; output: $OUT"
  before4=$(profile_path t4)
  count4=$(activation_count t4)
  lab exec t4 sh -c 'dd if=/dev/zero of=/run/keys/filler bs=4k 2>/dev/null || true'
  secret_for_t4 "second secret, which has no room"
  configure t4 "t4 with a new secret"
  deploy -c "$FLEET_DIR/secret.json" --on t4 --report "$LAB_SCRATCH/secret-full.json"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_contains "$(report_field "$LAB_SCRATCH/secret-full.json" t4 error)" "No space left on device" "t4's error"
  echo "  full disk during secret install: t4 $(result_of "$LAB_SCRATCH/secret-full.json" t4): $(report_field "$LAB_SCRATCH/secret-full.json" t4 error | head -c 300)"
  expect_eq "$count4" "$(activation_count t4)" "activations of t4"
  expect_eq "$before4" "$(profile_path t4)" "profile of t4"
  expect_eq "$before4" "$(current_system t4)" "running system of t4"
  expect_eq "first secret" "$(lab exec t4 cat /run/keys/fault)" "t4's secret"
  expect_eq "" "$(lab exec t4 find /run/keys -name '.*' -type f)" "temporary files on t4"
}

test_a_build_node_killed_during_a_closure_copy_has_its_target_moved() {
  local pid report=$LAB_SCRATCH/killed-copy.json events=$LAB_SCRATCH/killed-copy.jsonl fleet_pid rc=0 count1
  UNDO=("lab shape b1 off")
  trap undo_all EXIT
  count1=$(activation_count t1)
  # ~23 MB to copy at 8 Mbit/s: about 20 s of copying to kill b1 in.
  bigger_base t1 3000000
  lab shape b1 8mbit
  fleet sync-and-build -c "$FLEET_DIR/faults.json" --on t1 --json --report "$report" >"$events" 2>&1 &
  fleet_pid=$!
  wait_for "t1's copy from b1" 120 saw_event "$events" t1 copy start
  pid=$(agent_pid b1)
  [[ $pid =~ ^[0-9]+$ ]] || fail "no single fleet-builder build process in b1: '$pid'"
  local -a below
  mapfile -t below < <(descendants_of "$pid")
  ((${#below[@]} > 0)) || fail "nothing runs below b1's agent during the copy"
  lab exec b1 kill -KILL "$pid"
  wait_for "the killed agent's copy processes (${below[*]}) to end" 5 all_ended "${below[@]}"
  wait "$fleet_pid" || rc=$?
  expect_eq 0 "$rc" "exit code; output: $(tail -20 "$events")"
  expect_eq ok "$(result_of "$report" t1)" "result of t1"
  expect_eq b2 "$(report_field "$report" t1 builtOn)" "t1 finally built on"
  expect_contains "$(report_field "$report" t1 'moves[0].reason')" "b1 died"
  expect_eq $((count1 + 1)) "$(activation_count t1)" "activations of t1"
  echo "  b1 killed during t1's copy: t1 ok on b2 after $(report_field "$report" t1 seconds) s"
}

# Kills HOST's sshd and every connection it serves, as a crash of sshd would; `lab up` starts it
# again.
kill_sshd() {
  local pid sessions
  pid=$(cat "$LAB/hosts/$1/state/sshd.pid")
  read -ra sessions <<<"$(ps -o pid= --ppid "$pid" | tr '\n' ' ')"
  kill -KILL "$pid" "${sessions[@]}"
}

# True when HOST runs TOPLEVEL and would boot it.
runs() {
  [[ $(profile_path "$1") == "$2" && $(current_system "$1") == "$2" ]]
}

test_targets_whose_sshd_dies_mid_activation_roll_themselves_back() {
  local before3 before4 report=$LAB_SCRATCH/sshd.json events=$LAB_SCRATCH/sshd.jsonl fleet_pid rc=0 file started
  UNDO=("lab up")
  trap undo_all EXIT
  deploy -c "$FLEET_DIR/faults.json" --on t3,t4
  expect_eq 0 "$RC" "first deployment; output: $OUT"
  before3=$(profile_path t3)
  before4=$(profile_path t4)
  # Activating sleeps 5 s first: the time to kill sshd in. t3 builds itself, so the laptop
  # follows its activation; b2 follows t4's.
  configure t3 "t3 whose sshd dies" "slowActivation = 5;"
  configure t4 "t4 whose sshd dies" "slowActivation = 5;"
  file=$(variant sshd '.timeouts = {"connect": 5, "upload": 15, "build": 120, "copy": 60, "activate": 20}
    | .nodes.t3.confirmTimeout = 20 | .nodes.t4.confirmTimeout = 20')
  started=$SECONDS
  fleet sync-and-build -c "$file" --on t1,t3,t4 --json --report "$report" >"$events" 2>&1 &
  fleet_pid=$!
  wait_for "t3's activation" 120 saw_event "$events" t3 activate start
  kill_sshd t3
  wait_for "t4's activation" 120 saw_event "$events" t4 activate start
  kill_sshd t4
  wait "$fleet_pid" || rc=$?
  ELAPSED=$((SECONDS - started))
  expect_eq 1 "$rc" "exit code; output: $(tail -20 "$events")"
  expect_eq ok "$(result_of "$report" t1)" "result of t1"
  local node
  for node in t3 t4; do
    expect_eq failed "$(result_of "$report" "$node")" "result of $node"
    expect_contains "$(report_field "$report" "$node" error)" "rolls back by itself" "$node's error"
    echo "  $node's sshd killed mid-activation: $(report_field "$report" "$node" error | head -3)"
  done
  # The activations' limits: 20 s to activate, 20 s to confirm, 5 s to connect.
  ((ELAPSED < 100)) || fail "the run took ${ELAPSED}s"
  echo "  the run ended after ${ELAPSED}s"
  lab up >/dev/null
  # Unconfirmed, both went back to what ran before.
  wait_for "t3 to roll back" 60 runs t3 "$before3"
  wait_for "t4 to roll back" 60 runs t4 "$before4"
}

# Replaces b2's receive with one that flips a byte in the middle of the payload it is sent.
flipping_receive() {
  # shellcheck disable=SC2016 # expanded by the agent's shell
  hostile_agent b2 receive 'perl -e '"'"'binmode STDIN; binmode STDOUT; local $/; my $in = <STDIN>;
    my $at = index($in, "
") + 1; $at += int((length($in) - $at) / 2);
    substr($in, $at, 1) = chr(ord(substr($in, $at, 1)) ^ 0x20) if $at < length($in); print $in'"'"' | "$real" "$@"; exit'
}

test_bytes_flipped_on_the_wire_are_caught_and_nothing_is_kept() {
  local report=$LAB_SCRATCH/flipped.json
  flipping_receive
  date +%s%N >"$FLEET_DIR/new-source"
  deploy_t3_t4 flipped
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$report" t3)" "result of t3"
  expect_eq failed "$(result_of "$report" t4)" "result of t4"
  echo "  a flipped byte: t4: $(report_field "$report" t4 error | head -c 400)"
  expect_eq "" "$(lab exec b2 find /var/lib/fleet/sources -name "$(jq -r .source "$report")*")" "what b2 kept of the source"
}
