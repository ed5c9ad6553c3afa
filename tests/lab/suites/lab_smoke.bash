# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The lab itself: reachability, host key pinning, private stores, a real build, copy and
# activation. Run by tests/lab/run.

probe() {
  if ! command -v nix >/dev/null; then
    echo "nix is not installed (apt-get install nix-bin)"
    return 1
  fi
}

toplevel_attr() {
  printf 'path:%s#nixosConfigurations.%s.config.system.build.toplevel' "$1" "$2"
}

# Lines in HOST's activation record (0 when there is none yet).
activation_count() {
  local file=$LAB/hosts/$1/var-lib-lab/activations
  if [[ -f $file ]]; then
    wc -l <"$file"
  else
    echo 0
  fi
}

setup() {
  # Other suites leave closures behind; this one checks stores start out private and empty.
  lab reset all >/dev/null
  SSHD_HOSTS=(b1 b2 t1 t2 t3 t4 t5)
  ALL_HOSTS=(laptop "${SSHD_HOSTS[@]}")
}

test_every_host_reachable_from_laptop() {
  local h
  for h in "${SSHD_HOSTS[@]}"; do
    expect_eq "$h" "$(lab ssh laptop "$h" hostname)" "hostname of $h over ssh"
    expect_eq "$h" "$(lab ssh laptop "$(lab_ip "$h")" hostname)" "hostname of $h by address"
  done
}

test_builder_reaches_target_with_pinned_host_key() {
  expect_eq t1 "$(lab ssh b1 t1 hostname)"
  expect_eq t1 "$(lab ssh b2 t1 hostname)"
  expect_eq b2 "$(lab ssh b1 b2 hostname)"
  # Strict checking: an unknown key and a wrong key are both refused.
  expect_exit 255 lab exec b1 ssh -o UserKnownHostsFile=/dev/null t1 true
  local wrong=/var/lib/lab/smoke-wrong-known-hosts
  lab exec b1 sh -c "grep '^t2 ' /root/.ssh/known_hosts | sed 's/^t2 /t1 /' >$wrong"
  expect_exit 255 lab exec b1 ssh -o UserKnownHostsFile="$wrong" t1 true
  lab exec b1 rm -f "$wrong"
}

test_targets_cannot_log_in_elsewhere() {
  expect_exit 255 lab ssh t1 b1 true
  expect_exit 255 lab ssh t1 t2 true
}

test_host_keys_are_published() {
  local h
  for h in "${SSHD_HOSTS[@]}"; do
    expect_eq "$(cut -d' ' -f1,2 "$LAB/keys/$h/ssh_host_ed25519_key.pub")" \
      "$(jq -r --arg h "$h" '.[$h]' "$LAB/host-keys.json")" "host key of $h"
  done
  for h in t1 t2 t3 t4; do
    expect_eq "$(jq -r --arg h "$h" '.[$h]' "$LAB/host-keys.json")" \
      "$(jq -r --arg h "$h" '.nodes[$h].hostKey' "$LAB_FLEET/fleet.json")" "pinned key of $h"
    expect_eq "$(lab_ip "$h")" "$(jq -r --arg h "$h" '.nodes[$h].host' "$LAB_FLEET/fleet.json")"
  done
  expect_eq "$(lab_ip b1)" "$(jq -r .builders.b1.host "$LAB_FLEET/fleet.json")"
}

test_each_host_has_its_own_nix() {
  local marker=lab-smoke-$$-$RANDOM
  lab exec b1 sh -c "echo $marker >/nix/$marker"
  expect_file_contains "$LAB/hosts/b1/nix/$marker" "$marker"
  expect_exit 1 lab exec b2 test -e "/nix/$marker"
  expect_exit 1 test -e "/nix/$marker"
  lab exec b1 rm -f "/nix/$marker"
}

test_laptop_nix_is_empty() {
  expect_eq "" "$(lab exec laptop ls -A /nix)" "laptop /nix"
  expect_eq "" "$(ls -A "$LAB/hosts/laptop/nix")" "laptop nix dir"
}

test_build_copy_and_activate() {
  local out before=() h i line
  out=$(lab exec b1 nix build --no-link --json "$(toplevel_attr "$LAB_FLEET" t2)" | jq -r '.[0].outputs.out')
  expect_contains "$out" "-nixos-system-t2"
  expect_eq t2 "$(lab exec b1 cat "$out/configuration-name")"
  expect_exit 1 lab exec b2 test -e "$out"
  lab exec b1 nix copy --to "ssh://root@$(lab_ip t2)" "$out"
  expect_eq "$(lab exec b1 nix path-info -r "$out")" "$(lab exec t2 nix path-info -r "$out")" "closure on t2"
  for h in "${ALL_HOSTS[@]}"; do
    before+=("$(activation_count "$h")")
  done
  lab ssh b1 t2 "$out/bin/switch-to-configuration" test
  for i in "${!ALL_HOSTS[@]}"; do
    h=${ALL_HOSTS[$i]}
    if [[ $h == t2 ]]; then
      expect_eq $((before[i] + 1)) "$(activation_count "$h")" "activations on $h"
    else
      expect_eq "${before[i]}" "$(activation_count "$h")" "activations on $h"
    fi
  done
  line=$(tail -n 1 "$LAB/hosts/t2/var-lib-lab/activations")
  [[ $line =~ ^[0-9]+\ test\ $out$ ]] || fail "unexpected activation record '$line'"
  expect_eq "$out" "$(lab exec t2 readlink /run/current-system)"
  expect_eq "" "$(lab exec laptop ls -A /nix)" "laptop /nix after a build"
}

test_message_changes_only_its_node() {
  local copy=$LAB_SCRATCH/fleet t1_before t2_before
  cp -R "$LAB_FLEET" "$copy"
  t1_before=$(lab exec b1 nix eval --raw "$(toplevel_attr "$copy" t1).outPath")
  t2_before=$(lab exec b1 nix eval --raw "$(toplevel_attr "$copy" t2).outPath")
  printf '{ message = "changed"; }\n' >"$copy/hosts/t1.nix"
  [[ $(lab exec b1 nix eval --raw "$(toplevel_attr "$copy" t1).outPath") != "$t1_before" ]] \
    || fail "editing hosts/t1.nix did not change t1's toplevel"
  expect_eq "$t2_before" "$(lab exec b1 nix eval --raw "$(toplevel_attr "$copy" t2).outPath")"
}

test_broken_fixtures_fail_clearly() {
  local out rc=0
  out=$(lab exec b1 nix build --no-link "$(toplevel_attr "$LAB_FLEET" broken-build)" 2>&1) || rc=$?
  expect_eq 1 "$rc" "exit of broken-build"
  expect_contains "$out" "fails to build on purpose"
  rc=0
  out=$(lab exec b1 nix eval --raw "$(toplevel_attr "$LAB_FLEET" broken-eval).drvPath" 2>&1) || rc=$?
  expect_eq 1 "$rc" "exit of broken-eval"
  expect_contains "$out" "fails to evaluate on purpose"
}
