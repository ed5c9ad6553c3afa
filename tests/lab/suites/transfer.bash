# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# How the source reaches the build locations: the laptop uploads it once, the nodes relay it
# to each other, a changed source travels as a delta, and a failed relay falls back to another
# source with the report saying so. Run by tests/lab/run.

setup() {
  lab reset all >/dev/null
  copy_demo_fleet
  # The laptop's tarball cache is part of what is tested: start without one.
  rm -rf "$LAB/hosts/laptop/root/.cache/fleet"
}

laptop_transfers() {
  jq -c '[.transfers[] | select(.from == "laptop")]' "$1"
}

holds_source() {
  local dir=$LAB/hosts/$1/var-lib-fleet/sources
  [[ -d $dir/$2 && -f $dir/$2.tar ]]
}

test_first_deploy_uploads_once_and_the_nodes_relay_the_rest() {
  deploy -c "$FLEET_DIR/fleet.json" --report "$LAB_SCRATCH/first.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  local report=$LAB_SCRATCH/first.json hash compressed laptop_bytes h
  hash=$(jq -r '.source' "$report")
  expect_eq 1 "$(laptop_transfers "$report" | jq 'length')" "transfers from the laptop: $(jq -c .transfers "$report")"
  expect_eq 3 "$(jq '.transfers | length' "$report")" "transfers (b1, b2 and the self-building t3)"
  expect_eq 2 "$(jq '[.transfers[] | select(.from != "laptop" and .skipped == false and .bytes > 0)] | length' "$report")" \
    "relayed transfers"
  compressed=$(fleet pack -c "$FLEET_DIR/fleet.json" --json | jq -r '.compressedBytes')
  laptop_bytes=$(jq -r '.uploadedBytes' "$report")
  expect_eq "$compressed" "$laptop_bytes" "the laptop sent the tarball once, whole"
  for h in b1 b2 t3; do
    holds_source "$h" "$hash" || fail "$h does not hold $hash (unpacked and as a tar)"
  done
  expect_contains "$(fleet report --json | jq -r '.transfers | map(.from + ">" + .to) | join(" ")')" "laptop>b1"
  echo "  first deploy: laptop sent $laptop_bytes bytes (tarball $compressed); $(jq -c '[.transfers[] | {from, to, bytes}]' "$report")"
}

test_a_one_file_change_travels_as_a_delta() {
  sed -i 's/message = "\(.*\)";/message = "\1 (changed)";/' "$FLEET_DIR/hosts/t1.nix"
  grep -q changed "$FLEET_DIR/hosts/t1.nix" || fail "the fixture edit did not apply"
  deploy -c "$FLEET_DIR/fleet.json" --report "$LAB_SCRATCH/change.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  local report=$LAB_SCRATCH/change.json sent
  expect_eq 1 "$(laptop_transfers "$report" | jq 'length')" "transfers from the laptop"
  sent=$(jq -r '.uploadedBytes' "$report")
  ((sent > 0 && sent < 4096)) || fail "the laptop sent $sent bytes for a one-line change"
  expect_eq "true" "$(jq '[.transfers[] | select(.skipped == false) | .base != null] | all' "$report")" \
    "every transfer is a delta: $(jq -c .transfers "$report")"
  expect_eq ok "$(result_of "$report" t1)" "result of t1"
  expect_eq 2 "$(activation_count t1)" "activations on t1"
  echo "  one-file change: laptop sent $sent bytes; $(jq -c '[.transfers[] | {from, to, bytes}]' "$report")"
}

test_a_relay_that_cannot_get_through_falls_back_and_says_so() {
  # b2 stops accepting b1's key: b1 cannot relay to it, t3 (a target) never could.
  local keys=$LAB/hosts/b2/root/.ssh/authorized_keys
  cp "$keys" "$LAB_SCRATCH/b2-keys"
  grep -v "root@b1" "$LAB_SCRATCH/b2-keys" >"$keys"
  echo "# fallback" >>"$FLEET_DIR/hosts/t4.nix"
  deploy -c "$FLEET_DIR/fleet.json" --report "$LAB_SCRATCH/fallback.json"
  cp "$LAB_SCRATCH/b2-keys" "$keys"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  local report=$LAB_SCRATCH/fallback.json to_b2
  to_b2=$(jq -c '[.transfers[] | select(.to == "b2")] | last' "$report")
  expect_eq laptop "$(jq -r '.from' <<<"$to_b2")" "b2's source came from: $to_b2"
  expect_contains "$(jq -r '.note' <<<"$to_b2")" "no node could relay it"
  expect_contains "$OUT" "could not send the source to b2"
  expect_eq ok "$(result_of "$report" t4)" "result of t4"
}

test_with_delegated_targets_only_the_laptop_talks_to_build_nodes_alone() {
  local file laptop_ip h before=() count
  file=$(variant delegated '.nodes.t3.build = "auto"')
  laptop_ip=$(lab_ip laptop)
  for h in t1 t2 t3 t4; do
    before+=("$(grep -c "Accepted publickey for .* from $laptop_ip " "$LAB/hosts/$h/log/sshd.log" || true)")
  done
  echo "# delegated" >>"$FLEET_DIR/hosts/t3.nix"
  deploy -c "$file" --on t1,t2,t3,t4 --report "$LAB_SCRATCH/delegated.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  local i=0
  for h in t1 t2 t3 t4; do
    expect_eq ok "$(result_of "$LAB_SCRATCH/delegated.json" "$h")" "result of $h"
    count=$(grep -c "Accepted publickey for .* from $laptop_ip " "$LAB/hosts/$h/log/sshd.log" || true)
    expect_eq "${before[$i]}" "$count" "SSH logins from the laptop on $h"
    i=$((i + 1))
  done
  expect_eq "b1 b2" "$(jq -r '[.transfers[].to] | sort | join(" ")' "$LAB_SCRATCH/delegated.json")" "transfers"
}
