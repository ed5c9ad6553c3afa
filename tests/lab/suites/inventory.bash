# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The inventory in the flake: fleet.json names only the builders and "inventory"; the nodes come
# from the demo fleet's `fleet.nodes` (deployment.fleet.* in each host's module tree, nixpkgs'
# lib.evalModules) or its Colmena hive (`colmenaHive`, Colmena's own evaluator), evaluated on a
# build node. The laptop has no nix. Run by tests/lab/run.

setup() {
  lab reset all >/dev/null
  copy_demo_fleet
  export XDG_CACHE_HOME=$LAB_SCRATCH/cache
  FLEET_INV=$(variant inventory-fleet 'del(.nodes) | .inventory = "fleet"')
  COLMENA=$(variant inventory-colmena 'del(.nodes) | .inventory = "colmena"')
  # fleet_copy NAME: another copy of the demo fleet, for a test that breaks it.
  fleet_copy() {
    local dir=$LAB_SCRATCH/$1
    cp -r "$LAB_FLEET" "$dir"
    jq 'del(.nodes) | .inventory = "fleet"' "$LAB_FLEET/fleet.json" >"$dir/fleet.json"
    printf '%s' "$dir"
  }
}

# Lines in every sshd log saying a client logged in: proof of contact.
logins() {
  cat "$LAB"/hosts/*/log/sshd.log 2>/dev/null | grep -c "Accepted publickey" || true
}

test_fleet_inventory_deploys_the_demo_fleet_with_no_nodes_in_fleet_json() {
  expect_eq null "$(jq .nodes "$FLEET_INV")" "nodes in fleet.json"
  deploy -c "$FLEET_INV" --on @demo --report "$LAB_SCRATCH/fleet.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_contains "$OUT" "evaluating the inventory on b"
  expect_contains "$OUT" "inventory fleet.nodes of source"
  local n
  for n in t1 t2 t3 t4; do
    expect_eq ok "$(result_of "$LAB_SCRATCH/fleet.json" "$n")" "result of $n"
    expect_eq 1 "$(activation_count "$n")" "activations on $n"
  done
  expect_eq 4 "$(jq '.nodes | length' "$LAB_SCRATCH/fleet.json")" "nodes of @demo"
  # The plan is fleet.json.in's, declared in Nix: t3 builds itself, t4 is pinned to b2.
  expect_eq self "$(jq -r '.nodes.t3.builtOn' "$LAB_SCRATCH/fleet.json")"
  expect_eq b2 "$(jq -r '.nodes.t4.builtOn' "$LAB_SCRATCH/fleet.json")"
  # The laptop sent the source once, to evaluate the inventory; the build found it there.
  expect_eq "for the inventory" \
    "$(jq -r '[.transfers[] | select(.from == "laptop" and (.skipped | not)) | .note] | join(",")' "$LAB_SCRATCH/fleet.json")" \
    "the laptop's uploads"
  expect_eq "" "$(ls -A "$LAB/hosts/laptop/nix")" "laptop nix dir"
  echo "  $(grep -o 'inventory fleet.nodes of source.*' <<<"$OUT")"
}

test_tags_from_nix_and_a_tag_computed_from_another_node_select() {
  local out
  out=$(fleet plan -c "$FLEET_INV" --on @low --json 2>/dev/null)
  expect_eq "t1 t2" "$(jq -r '.nodes | keys | join(" ")' <<<"$out")" "nodes of @low"
  # t2 has web-peer because t1's configuration enables services.web.
  out=$(fleet plan -c "$FLEET_INV" --on @web-peer --json 2>/dev/null)
  expect_eq "t2" "$(jq -r '.nodes | keys | join(" ")' <<<"$out")" "nodes of @web-peer"
  local dir
  dir=$(fleet_copy no-web)
  sed -i 's|services.web.enable = lib.elem name \[ "t1" "st1" \];|services.web.enable = lib.elem name [ "st1" ];|' \
    "$dir/configuration.nix"
  grep -q '\[ "st1" \]' "$dir/configuration.nix" || fail "configuration.nix was not edited"
  RC=0
  out=$(fleet plan -c "$dir/fleet.json" --on @web-peer 2>&1) || RC=$?
  expect_eq 2 "$RC" "exit code of a tag nothing has any more; output: $out"
  expect_contains "$out" "'@web-peer' matches no node"
}

test_an_unchanged_tree_plans_from_the_cache_without_contact() {
  fleet plan -c "$FLEET_INV" >/dev/null 2>&1 || fail "plan failed"
  local before out
  before=$(logins)
  out=$(fleet plan -c "$FLEET_INV" 2>&1) || fail "plan from the cache failed: $out"
  expect_eq "$before" "$(logins)" "ssh logins during a plan from the cache"
  expect_contains "$out" "unchanged, from the cache"
  echo "  $(grep -o 'inventory fleet.nodes of source.*' <<<"$out")"
  # A changed tree is evaluated again.
  sed -i 's|message = "[^"]*"|message = "changed for the inventory cache"|' "$FLEET_DIR/hosts/t5.nix"
  out=$(fleet plan -c "$FLEET_INV" 2>&1) || fail "plan after a change failed: $out"
  expect_contains "$out" "evaluating the inventory on b"
  [[ $(logins) -gt $before ]] || fail "a changed tree was planned without evaluating it"
}

test_a_colmena_hive_deploys_with_a_fleet_json_of_builders_alone() {
  deploy -c "$COLMENA" --on @demo --report "$LAB_SCRATCH/colmena.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_contains "$OUT" "inventory colmenaHive of source"
  local n store
  for n in t1 t2 t3 t4; do
    expect_eq ok "$(result_of "$LAB_SCRATCH/colmena.json" "$n")" "result of $n"
    # colmenaHive.toplevel.<n> was built.
    store=$(jq -r --arg n "$n" '.nodes[$n].storePath' "$LAB_SCRATCH/colmena.json")
    expect_contains "$store" "-nixos-system-$n" "store path of $n"
  done
  # buildOnTarget = true: t3 built itself.
  expect_eq self "$(jq -r '.nodes.t3.builtOn' "$LAB_SCRATCH/colmena.json")"
  # Options fleet does not carry over are named once.
  expect_eq 1 "$(grep -c 'deployment.allowLocalDeployment is not carried over (st3, t3)' <<<"$OUT")" "notes; output: $OUT"
  # t5's deployment.keys are refused, never copied.
  expect_contains "$OUT" "t5 of colmenaHive.deploymentConfig is not deployed: its deployment.keys (lab-demo)"
  expect_contains "$OUT" "fleet secrets encrypt lab-demo --for t5"
  RC=0
  OUT=$(fleet sync-and-build -c "$COLMENA" --on t5 2>&1) || RC=$?
  expect_eq 2 "$RC" "exit code of --on t5; output: $OUT"
  expect_contains "$OUT" "'t5' is not deployed by fleet: its deployment.keys (lab-demo)"
  expect_eq 0 "$(activation_count t5)" "activations on t5"
  if grep -rqs "not a secret: the lab's demo key" "$LAB/hosts/t5" "$LAB/hosts/laptop/root/.cache" "$XDG_CACHE_HOME"; then
    fail "the key's plaintext left the build node"
  fi
  expect_eq "" "$(ls -A "$LAB/hosts/laptop/nix")" "laptop nix dir"
}

test_fleet_import_colmena_prints_the_nodes_as_fleet_json() {
  local out
  out=$(fleet import colmena -c "$COLMENA" 2>"$LAB_SCRATCH/import.err") || fail "import failed: $(cat "$LAB_SCRATCH/import.err")"
  expect_eq "$(lab_ip t1)" "$(jq -r '.nodes.t1.host' <<<"$out")" "t1's host"
  expect_eq '["low","demo","web-peer"]' "$(jq -c '.nodes.t2.tags' <<<"$out")" "t2's tags"
  expect_eq self "$(jq -r '.nodes.t3.build' <<<"$out")" "t3's build"
  expect_eq null "$(jq -r '.nodes.t5' <<<"$out")" "t5 (refused)"
  expect_file_contains "$LAB_SCRATCH/import.err" "t5 is left out"
  out=$(fleet import colmena --nix -c "$COLMENA" 2>/dev/null) || fail "import --nix failed"
  expect_contains "$out" "deployment.fleet.host = \"$(lab_ip t1)\";"
  expect_contains "$out" 'deployment.fleet.build = "self";'
}

test_an_inventory_that_does_not_evaluate_fails_with_nix_s_message_and_exit_2() {
  local dir
  dir=$(fleet_copy broken-eval)
  # A wrong type in t1's own module tree: the module system names the option.
  sed -i 's|    user = "root";|    user = "root";\n    port = if name == "t1" then "22" else 22;|' "$dir/deployment.nix"
  grep -q 'port = if name' "$dir/deployment.nix" || fail "deployment.nix was not edited"
  local before
  before=$(activation_count t1)
  deploy -c "$dir/fleet.json"
  expect_eq 2 "$RC" "exit code; output: $OUT"
  expect_contains "$OUT" "the inventory does not evaluate on b1: evaluating fleet.nodes.t1 of the flake '.' failed"
  expect_contains "$OUT" "deployment.fleet.port"
  expect_eq "$before" "$(activation_count t1)" "activations on t1"
}

test_an_inventory_of_the_wrong_shape_is_rejected_like_a_bad_fleet_json() {
  local dir
  dir=$(fleet_copy wrong-shape)
  # Past the module system's types: the data itself is wrong.
  sed -i 's|      fleet.nodes = fleet.lib.inventory (lib.getAttrs targets self.nixosConfigurations);|      fleet.nodes = (fleet.lib.inventory (lib.getAttrs targets self.nixosConfigurations)) // { t1 = { host = "t1"; colour = "red"; }; };|' \
    "$dir/flake.nix"
  grep -q 'colour = "red"' "$dir/flake.nix" || fail "flake.nix was not edited"
  deploy -c "$dir/fleet.json"
  expect_eq 2 "$RC" "exit code; output: $OUT"
  expect_contains "$OUT" "$dir/flake.nix: fleet.nodes.t1.colour: unknown key 'colour'"
}

test_a_flake_without_colmena_hive_is_told_how_to_make_one() {
  local dir
  dir=$(fleet_copy no-hive)
  jq '.inventory = "colmena"' "$dir/fleet.json" >"$dir/colmena.json"
  sed -i '/colmenaHive = makeHive self.colmena;/d' "$dir/flake.nix"
  grep -q 'colmenaHive = ' "$dir/flake.nix" && fail "flake.nix still has colmenaHive"
  deploy -c "$dir/colmena.json"
  expect_eq 2 "$RC" "exit code; output: $OUT"
  expect_contains "$OUT" "colmenaHive = colmena.lib.makeHive self.colmena;"
}
