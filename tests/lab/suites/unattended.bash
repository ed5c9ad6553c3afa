# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Unattended runs in the lab: the run lock, phase timeouts, SSH retries, run history and
# reports, --skip-unchanged, --update-inputs, --notify, and a cron-style invocation with no
# terminal, no stdin and a minimal environment. Run by tests/lab/run.

setup() {
  lab reset all >/dev/null
  copy_demo_fleet
  # Each test keeps its own history; lab exec passes XDG_* through to the laptop.
  export XDG_STATE_HOME=$LAB_SCRATCH/state
}

# A copy of the demo fleet with a jq filter applied to fleet.json: DIR NAME FILTER.
fleet_variant() {
  local dir=$LAB_SCRATCH/$1
  rm -rf "$dir"
  cp -r "$FLEET_DIR" "$dir"
  jq "$2" "$FLEET_DIR/fleet.json" >"$dir/fleet.json"
  printf '%s' "$dir"
}

runs_dir() {
  printf '%s' "$XDG_STATE_HOME/fleet/runs"
}

test_overlapping_runs_second_exits_3_naming_the_holder() {
  export XDG_STATE_HOME=$LAB_SCRATCH/state-lock
  local dir pid rc=0 out started elapsed i
  dir=$(fleet_variant slow '.')
  printf '{ message = "slow t1"; slowActivation = 15; }\n' >"$dir/hosts/t1.nix"
  fleet sync-and-build -c "$dir/fleet.json" --on t1 --unattended --report "$LAB_SCRATCH/slow.json" \
    >"$LAB_SCRATCH/slow.out" 2>&1 &
  pid=$!
  # The first run records itself in the lock as soon as its configuration is valid.
  for ((i = 0; i < 100; i++)); do
    [[ -s $XDG_STATE_HOME/fleet/lock ]] && break
    sleep 0.1
  done
  [[ -s $XDG_STATE_HOME/fleet/lock ]] || fail "the first run wrote no lock record"
  started=$(date +%s)
  out=$(fleet sync-and-build -c "$FLEET_DIR/fleet.json" --on t2 --unattended 2>&1) || rc=$?
  elapsed=$(($(date +%s) - started))
  expect_eq 3 "$rc" "exit code of the second run; output: $out"
  ((elapsed <= 5)) || fail "the second run took ${elapsed}s to give up"
  expect_contains "$out" "holds the lock"
  expect_contains "$out" "pid "
  expect_contains "$out" "--on t1"
  rc=0
  wait "$pid" || rc=$?
  expect_eq 0 "$rc" "exit code of the first run: $(cat "$LAB_SCRATCH/slow.out")"
  expect_eq ok "$(result_of "$LAB_SCRATCH/slow.json" t1)"
  # A clean end leaves the lock free and its record empty.
  [[ ! -s $XDG_STATE_HOME/fleet/lock ]] || fail "the lock record was left behind: $(cat "$XDG_STATE_HOME/fleet/lock")"
}

test_hanging_activation_fails_by_timeout_and_others_succeed() {
  export XDG_STATE_HOME=$LAB_SCRATCH/state-hang
  local dir rc=0 out started elapsed
  dir=$(fleet_variant hang '.timeouts = {"activate": 5}')
  printf '{ message = "hanging t2"; hangActivation = true; }\n' >"$dir/hosts/t2.nix"
  printf '{ message = "hanging t3"; hangActivation = true; }\n' >"$dir/hosts/t3.nix"
  started=$(date +%s)
  out=$(fleet sync-and-build -c "$dir/fleet.json" --on t1,t2,t3,t4 --unattended --report "$LAB_SCRATCH/hang.json" 2>&1) || rc=$?
  elapsed=$(($(date +%s) - started))
  expect_eq 1 "$rc" "exit code; output: $out"
  ((elapsed < 120)) || fail "the run took ${elapsed}s despite a 5 s activation timeout"
  expect_eq ok "$(result_of "$LAB_SCRATCH/hang.json" t1)" "result of t1"
  expect_eq ok "$(result_of "$LAB_SCRATCH/hang.json" t4)" "result of t4"
  local n
  for n in t2 t3; do  # t2 delegated (timed out on the target), t3 self-building
    expect_eq failed "$(result_of "$LAB_SCRATCH/hang.json" "$n")" "result of $n"
    expect_contains "$(jq -r --arg n "$n" '.nodes[$n].error' "$LAB_SCRATCH/hang.json")" "timed out after 5 s"
  done
  echo "  hanging activations ended the run after ${elapsed}s"
}

# Stops HOST's sshd, runs sync-and-build on NODE in the background, restarts sshd after 2 s,
# and leaves the report in $LAB_SCRATCH/retry-NODE.json.
deploy_while_sshd_restarts() {
  local host=$1 node=$2 dir=$3 pid rc=0
  kill "$(cat "$LAB/hosts/$host/state/sshd.pid")"
  sleep 0.5
  fleet sync-and-build -c "$dir/fleet.json" --on "$node" --unattended --report "$LAB_SCRATCH/retry-$node.json" \
    >"$LAB_SCRATCH/retry-$node.out" 2>&1 &
  pid=$!
  sleep 2
  lab up >/dev/null 2>&1 # restarts the missing sshd
  wait "$pid" || rc=$?
  expect_eq 0 "$rc" "exit code; output: $(cat "$LAB_SCRATCH/retry-$node.out")"
  expect_eq ok "$(result_of "$LAB_SCRATCH/retry-$node.json" "$node")" "result of $node"
}

test_dropped_ssh_connections_are_retried() {
  export XDG_STATE_HOME=$LAB_SCRATCH/state-retry
  local dir
  dir=$(fleet_variant retry '.retries = {"count": 5, "delay": 1}')
  # t3 builds itself: the laptop's connection is retried.
  deploy_while_sshd_restarts t3 t3 "$dir"
  expect_file_contains "$(runs_dir)/$(jq -r .run "$LAB_SCRATCH/retry-t3.json")/t3.log" "probe progress retry 1 of 5"
  # t1 is delegated: the build node's probe is retried.
  deploy_while_sshd_restarts t1 t1 "$dir"
  expect_file_contains "$(runs_dir)/$(jq -r .run "$LAB_SCRATCH/retry-t1.json")/t1.log" "transient failure"
}

test_history_lists_three_runs_and_reports_each() {
  export XDG_STATE_HOME=$LAB_SCRATCH/state-history
  local i out ids id
  for i in 1 2 3; do
    printf '{ message = "history run %s"; }\n' "$i" >"$FLEET_DIR/hosts/t1.nix"
    fleet sync-and-build -c "$FLEET_DIR/fleet.json" --on t1,t3 --unattended >/dev/null 2>&1 || fail "run $i failed"
  done
  local list
  list=$(fleet runs)
  expect_eq 4 "$(printf '%s\n' "$list" | grep -c .)" "lines of fleet runs (header + 3): $list"
  expect_eq 3 "$(fleet runs --json | jq length)" "runs in fleet runs --json"
  mapfile -t ids < <(fleet runs --json | jq -r '.[].run')
  for id in "${ids[@]}"; do
    expect_contains "$list" "$id"
    out=$(fleet report "$id")
    expect_contains "$out" "run $id"
    expect_contains "$out" "t1  ok  built on b"
    expect_contains "$out" "activate"
    expect_eq "$id" "$(fleet report "$id" --json | jq -r .run)"
    [[ -s $(runs_dir)/$id/t1.log ]] || fail "no full log for t1 in run $id"
  done
  expect_eq "${ids[2]}" "$(fleet report --json | jq -r .run)" "the default report is the newest"
  # t1 changed between runs: the second and third record what replaced what.
  expect_contains "$(fleet report "${ids[2]}" --json | jq -r .nodes.t1.previousPath)" "-nixos-system-t1"
  [[ $(fleet report "${ids[2]}" --json | jq -r '.nodes.t1.closureDiff | length') -gt 0 ]] || fail "no closure difference recorded"
}

test_skip_unchanged_and_notify() {
  export XDG_STATE_HOME=$LAB_SCRATCH/state-skip
  local before out notify=$LAB_SCRATCH/notify.txt
  fleet sync-and-build -c "$FLEET_DIR/fleet.json" --on t1,t3 --unattended >/dev/null 2>&1 || fail "first run failed"
  before=$(activation_count t1)
  out=$(fleet sync-and-build -c "$FLEET_DIR/fleet.json" --on t1,t3 --unattended --skip-unchanged \
    --report "$LAB_SCRATCH/skip.json" --notify "{ cat; env | grep ^FLEET_ | sort; } >$notify; exit 4" 2>&1) \
    || fail "the skipped run failed: $out"
  expect_contains "$(jq -r .skipped "$LAB_SCRATCH/skip.json")" "unchanged since run"
  expect_eq skipped "$(result_of "$LAB_SCRATCH/skip.json" t1)"
  expect_eq "$before" "$(activation_count t1)" "activations on t1 after a skipped run"
  expect_file_contains "$notify" "FLEET_EXIT_CODE=0"
  expect_file_contains "$notify" "FLEET_RUN_ID=$(jq -r .run "$LAB_SCRATCH/skip.json")"
  expect_file_contains "$notify" "t1  skipped"
  expect_contains "$out" "notify command exited with 4"
  # Another selection is not "unchanged".
  fleet sync-and-build -c "$FLEET_DIR/fleet.json" --on t1 --unattended --skip-unchanged \
    --report "$LAB_SCRATCH/noskip.json" >/dev/null 2>&1 || fail "the t1-only run failed"
  expect_eq null "$(jq -r .skipped "$LAB_SCRATCH/noskip.json")"
  expect_eq ok "$(result_of "$LAB_SCRATCH/noskip.json" t1)"
}

# A nightly run must say when it could not deploy or keep its report: --notify runs then too.
test_notify_runs_when_the_run_fails_early_or_the_report_cannot_be_saved() {
  export XDG_STATE_HOME=$LAB_SCRATCH/state-notify
  local notify=$LAB_SCRATCH/notify-early.txt full=$LAB_SCRATCH/full rc=0 out
  out=$(fleet sync-and-build -c "$LAB_SCRATCH/no-such-fleet.json" --unattended \
    --notify "{ cat; env | grep ^FLEET_ | sort; } >$notify" 2>&1) || rc=$?
  expect_eq 2 "$rc" "exit code of a run without its fleet.json; output: $out"
  expect_file_contains "$notify" "fleet sync-and-build ended before a report: "
  expect_file_contains "$notify" "no-such-fleet.json"
  expect_file_contains "$notify" "FLEET_EXIT_CODE=2"

  # The laptop's disk is full where --report FILE goes (a 64 KiB tmpfs, filled up).
  mkdir -p "$full"
  lab exec laptop mount -t tmpfs -o size=64k tmpfs "$full"
  lab exec laptop dd if=/dev/zero of="$full/filler" bs=4k 2>/dev/null || true
  notify=$LAB_SCRATCH/notify-full.txt
  rc=0
  out=$(fleet sync-and-build -c "$FLEET_DIR/fleet.json" --on t1 --unattended --report "$full/report.json" \
    --notify "{ cat; env | grep ^FLEET_ | sort; } >$notify" 2>&1) || rc=$?
  lab exec laptop umount "$full"
  expect_eq 0 "$rc" "exit code of a deployment whose report cannot be saved; output: $out"
  expect_contains "$out" "the report could not be saved: "
  expect_contains "$out" "No space left on device"
  expect_file_contains "$notify" "t1  ok"
  expect_file_contains "$notify" "the report could not be saved: "
  expect_file_contains "$notify" "FLEET_EXIT_CODE=0"
  grep -qx "FLEET_REPORT=" "$notify" || fail "FLEET_REPORT names a report that was not saved: $(cat "$notify")"
}

test_update_inputs_records_the_new_lock() {
  export XDG_STATE_HOME=$LAB_SCRATCH/state-inputs
  local dir extra=$LAB_SCRATCH/extra-input first second
  mkdir -p "$extra"
  echo one >"$extra/data"
  dir=$(fleet_variant inputs '.')
  # A local input stands in for nixpkgs: `nix flake update` on b1 locks its current content.
  # The lab has no network, so nixpkgs-lib is pinned in full: updating it needs no GitHub.
  sed -i -e "s|^  outputs = |  inputs.extra = { url = \"path:$extra\"; flake = false; };\n  outputs = |" \
    -e 's|inputs.nixpkgs-lib.url = "github:nix-community/nixpkgs.lib";|inputs.nixpkgs-lib = { type = "github"; owner = "nix-community"; repo = "nixpkgs.lib"; rev = "de42d44212d207476489bce163375d8306a26d59"; narHash = "sha256-2LHgHa0CAYjMN1PQ3Y3JSPGyKkpMA2dKFT7agAnZK7U="; lastModified = 1781405675; };|' \
    "$dir/flake.nix"
  grep -q 'inputs.extra' "$dir/flake.nix" && grep -q 'lastModified = 1781405675' "$dir/flake.nix" ||
    fail "the flake of $dir was not edited as expected: $(head -20 "$dir/flake.nix")"
  fleet sync-and-build -c "$dir/fleet.json" --on t1,t3 --unattended --update-inputs --report "$LAB_SCRATCH/in1.json" \
    >"$LAB_SCRATCH/in1.out" 2>&1 || fail "first run failed: $(cat "$LAB_SCRATCH/in1.out")"
  expect_contains "$(jq -r .flakeLock "$LAB_SCRATCH/in1.json")" '"extra"'
  # The new input is named in the report; nixpkgs-lib follows flake.nix's new reference.
  expect_contains "$(jq -r '.inputChanges | join("|")' "$LAB_SCRATCH/in1.json")" "extra: new, path:$extra"
  expect_contains "$(jq -r '.inputChanges | join("|")' "$LAB_SCRATCH/in1.json")" "nixpkgs-lib: github:nix-community/nixpkgs.lib de42d44212d2, as flake.nix now says"
  grep -q '"extra"' "$dir/flake.lock" && fail "the laptop's flake.lock was modified"
  first=$(jq -r .source "$LAB_SCRATCH/in1.json")
  # Unchanged inputs: the updated source hashes the same, so the run is skipped.
  fleet sync-and-build -c "$dir/fleet.json" --on t1,t3 --unattended --update-inputs --skip-unchanged \
    --report "$LAB_SCRATCH/in2.json" >/dev/null 2>&1 || fail "second run failed"
  expect_eq "$first" "$(jq -r .source "$LAB_SCRATCH/in2.json")"
  expect_contains "$(jq -r .skipped "$LAB_SCRATCH/in2.json")" "unchanged"
  # A changed input is a new source.
  echo two >"$extra/data"
  fleet sync-and-build -c "$dir/fleet.json" --on t1,t3 --unattended --update-inputs --skip-unchanged \
    --report "$LAB_SCRATCH/in3.json" >/dev/null 2>&1 || fail "third run failed"
  second=$(jq -r .source "$LAB_SCRATCH/in3.json")
  [[ $second != "$first" ]] || fail "the updated input did not change the source hash"
  expect_eq null "$(jq -r .skipped "$LAB_SCRATCH/in3.json")"
  expect_eq ok "$(result_of "$LAB_SCRATCH/in3.json" t1)"
}

test_cron_style_invocation_deploys_and_leaves_a_report() {
  local rc=0 out dir home=/root
  # No terminal, no stdin, nothing in the environment but PATH and HOME, as cron runs it.
  out=$(lab exec laptop env -i PATH=/usr/bin:/bin HOME=$home setsid /usr/local/bin/fleet sync-and-build --unattended \
    -c "$FLEET_DIR/fleet.json" --report "$LAB_SCRATCH/cron.json" </dev/null 2>&1) || rc=$?
  expect_eq 0 "$rc" "exit code; output: $out"
  local n
  for n in t1 t2 t3 t4; do
    expect_eq ok "$(result_of "$LAB_SCRATCH/cron.json" "$n")" "result of $n"
  done
  # Its report is in the laptop's default history (counting files would not do: history is pruned).
  [[ -f $LAB/hosts/laptop/root/.local/state/fleet/runs/$(jq -r .run "$LAB_SCRATCH/cron.json").json ]] ||
    fail "the cron-style run left no report in the laptop's default history"
  # An unknown host key fails that node at once: nothing waits for a person. (libssh finds
  # known_hosts through the password database, not $HOME: hide the laptop's for this run.)
  dir=$(fleet_variant unknown-key 'del(.nodes.t3.hostKey)')
  known=$LAB/hosts/laptop/root/.ssh/known_hosts # global: the EXIT trap reads it
  mv "$known" "$known.hidden"
  trap 'mv "$known.hidden" "$known"' EXIT
  rc=0
  out=$(lab exec laptop env -i PATH=/usr/bin:/bin HOME=$home timeout 60 /usr/local/bin/fleet \
    sync-and-build --unattended -c "$dir/fleet.json" --on t3 --report "$LAB_SCRATCH/unknown.json" </dev/null 2>&1) || rc=$?
  expect_eq 1 "$rc" "exit code with an unknown host key; output: $out"
  expect_contains "$(jq -r .nodes.t3.error "$LAB_SCRATCH/unknown.json")" "known_hosts"
}
