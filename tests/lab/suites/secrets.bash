# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Secrets end to end: canaries encrypted on the laptop with `fleet secrets encrypt` to the
# targets' host keys, shipped inside the tarball, decrypted only on the targets. Checks the
# installed files, that no plaintext is anywhere else, that a node that is not a recipient
# fails before activation, `fleet-builder secrets restore` after /run/keys is wiped, and that
# `fleet secrets list` and `rekey` see and fix a missing recipient. Run by tests/lab/run.

setup() {
  lab reset all >/dev/null
  # /run is a tmpfs that outlives `lab reset`: start without secrets from an earlier run.
  local host
  for host in t1 t2 t3 t4; do
    lab exec "$host" rm -rf /run/keys /var/lib/lab/keys /var/lib/fleet/secrets
  done
  copy_demo_fleet
  # Plaintexts exist only in this shell: never in a file the searches below could miss.
  CANARY_SHARED="fleet-canary-shared-$RANDOM$RANDOM$RANDOM"
  CANARY_OTHER="fleet-canary-other-$RANDOM$RANDOM$RANDOM"
  CANARY_SELF="fleet-canary-self-$RANDOM$RANDOM$RANDOM"
  export CANARY_SHARED CANARY_OTHER CANARY_SELF
  local admin
  admin=$(cut -d' ' -f1,2 "$LAB/keys/laptop/id_ed25519.pub")
  FILE=$FLEET_DIR/secrets.json
  # t4 is given the shared secret too, but it is encrypted for t1 and t2 only.
  jq --arg admin "$admin" '.admins = [$admin]
    | .nodes.t1.secrets = {
        shared: {file: "secrets/shared.age", dest: "/run/keys/shared", mode: "0400"},
        other: {file: "secrets/other.age", dest: "/run/keys/sub/other", owner: "nobody", group: "nogroup",
                mode: "0440", when: "post-activation"}}
    | .nodes.t2.secrets = {shared: {file: "secrets/shared.age", dest: "/run/keys/shared", mode: "0440"}}
    | .nodes.t3.secrets = {self: {file: "secrets/self.age", dest: "/var/lib/lab/keys/self", owner: "nobody",
                                  mode: "0600"}}
    | .nodes.t4.secrets = {shared: {file: "secrets/shared.age", dest: "/run/keys/shared"}}' \
    "$FLEET_DIR/fleet.json" >"$FILE"
  printf '%s' "$CANARY_SHARED" | fleet secrets -c "$FILE" encrypt shared --for t1,t2
  printf '%s\n' "$CANARY_OTHER" | fleet secrets -c "$FILE" encrypt other --for t1
  printf '%s' "$CANARY_SELF" | fleet secrets -c "$FILE" encrypt self --for t3
}

# "content|owner group mode" of a file on a host.
# shellcheck disable=SC2016 # expanded by the inner sh
installed() {
  lab exec "$1" sh -c 'printf "%s|" "$(cat "$1")"; stat -c "%U %G %a" "$1"' sh "$2"
}

test_deploy_installs_secrets_and_stops_a_node_that_cannot_decrypt() {
  deploy -c "$FILE" --report "$LAB_SCRATCH/run.json"
  printf '%s' "$OUT" >"$LAB_SCRATCH/run.out"
  expect_eq 1 "$RC" "exit code (t4 must fail); output: $OUT"
  local n
  for n in t1 t2 t3; do
    expect_eq ok "$(jq -r --arg n "$n" '.nodes[$n].result' "$LAB_SCRATCH/run.json")" "result of $n"
  done
  expect_eq failed "$(jq -r '.nodes.t4.result' "$LAB_SCRATCH/run.json")" "result of t4"
  expect_contains "$(jq -r '.nodes.t4.error' "$LAB_SCRATCH/run.json")" "no identity opens"
  expect_eq 0 "$(activation_count t4)" "activations on t4"
  expect_eq 1 "$(activation_count t1)" "activations on t1"
}

test_secret_files_have_exact_content_owner_and_mode() {
  expect_eq "$CANARY_SHARED|root root 400" "$(installed t1 /run/keys/shared)"
  expect_eq "$CANARY_OTHER|nobody nogroup 440" "$(installed t1 /run/keys/sub/other)"
  expect_eq "$CANARY_SHARED|root root 440" "$(installed t2 /run/keys/shared)"
  expect_eq "$CANARY_SELF|nobody root 600" "$(installed t3 /var/lib/lab/keys/self)"
  expect_eq "750" "$(lab exec t1 stat -c %a /run/keys)" "mode of /run/keys"
  expect_eq "700" "$(lab exec t1 stat -c %a /var/lib/fleet/secrets/systems)" "mode of the kept ciphertexts"
  expect_eq "" "$(lab exec t4 sh -c 'ls /run/keys 2>/dev/null || true')" "secrets on t4"
  # No temporary file is left beside a secret.
  expect_eq "" "$(lab exec t1 find /run/keys -name '.*' -type f)" "temporary files on t1"
}

test_no_plaintext_anywhere_else() {
  local canary places hits
  places=("$LAB"/hosts/*/nix/store "$LAB"/hosts/*/log "$LAB"/hosts/b1/var-lib-fleet "$LAB"/hosts/b2/var-lib-fleet
    "$LAB"/hosts/b1/tmp "$LAB"/hosts/b2/tmp "$LAB"/hosts/*/var-lib-fleet "$LAB/hosts/laptop/root"
    "$LAB"/hosts/*/tmp "$FLEET_DIR" "$LAB_SCRATCH/run.json")
  for canary in "$CANARY_SHARED" "$CANARY_OTHER" "$CANARY_SELF"; do
    hits=$(grep -rlaF -- "$canary" "${places[@]}" 2>/dev/null || true)
    expect_eq "" "$hits" "files holding the canary"
    expect_eq "" "$(grep -F -- "$canary" "$LAB_SCRATCH/run.out" || true)" "canary in the run output"
  done
  # The only plaintext in the lab directory is each target's own installed file (t3's lives
  # in its per-host /var/lib/lab).
  hits=$(grep -rlaF -- "$CANARY_SELF" "$LAB/hosts" 2>/dev/null || true)
  expect_eq "$LAB/hosts/t3/var-lib-lab/keys/self" "$hits" "where t3's canary is"
}

test_restore_brings_back_wiped_secrets() {
  lab exec t1 sh -c 'rm -rf /run/keys/*'
  expect_eq "" "$(lab exec t1 ls /run/keys)" "/run/keys after the wipe"
  lab exec t1 fleet-builder secrets restore >"$LAB_SCRATCH/restore.out"
  expect_eq "$CANARY_SHARED|root root 400" "$(installed t1 /run/keys/shared)"
  expect_eq "$CANARY_OTHER|nobody nogroup 440" "$(installed t1 /run/keys/sub/other)"
  if grep -qF -- "$CANARY_SHARED" "$LAB_SCRATCH/restore.out"; then fail "restore printed the plaintext"; fi
}

test_list_flags_the_missing_recipient_and_rekey_fixes_it() {
  local rc=0 out before_self
  out=$(fleet secrets -c "$FILE" list 2>&1) || rc=$?
  expect_eq 1 "$rc" "list exit code; output: $out"
  expect_contains "$out" "secrets/shared.age → t1, t2, t4"
  expect_contains "$out" "OUT OF DATE"
  before_self=$(sha256sum "$FLEET_DIR/secrets/self.age")
  fleet secrets -c "$FILE" rekey
  expect_eq "$before_self" "$(sha256sum "$FLEET_DIR/secrets/self.age")" "an up-to-date file is left untouched"
  fleet secrets -c "$FILE" list >/dev/null || fail "list still reports stale files after rekey"
  deploy -c "$FILE" --on t4 --report "$LAB_SCRATCH/t4.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_eq "$CANARY_SHARED|root root 400" "$(installed t4 /run/keys/shared)"
}
