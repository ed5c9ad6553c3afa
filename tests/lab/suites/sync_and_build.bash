# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# `fleet sync-and-build` end to end from the lab's laptop: two build nodes, four targets (two
# low-power delegated, one self-building, one pinned), real sshd and nix everywhere. Run by
# tests/lab/run.

setup() {
  TARGETS=(t1 t2 t3 t4 t5)
  # Fresh stores, agent state and activation records, so "activated exactly once" means this run.
  lab reset all >/dev/null
  copy_demo_fleet
}

# `find` and `ls` print nothing for a directory that is not there, which would pass the
# "nothing in it" checks below, so each of them first asserts the directory exists.
expect_dir() {
  [[ -d $1 ]] || fail "directory $1 does not exist"
}

activations() {
  local file=$LAB/hosts/$1/var-lib-lab/activations
  if [[ -f $file ]]; then cat "$file"; fi
}

# Lines in every sshd log saying a client logged in: proof of contact.
logins() {
  cat "$LAB"/hosts/*/log/sshd.log 2>/dev/null | grep -c "Accepted publickey" || true
}

host_key() {
  jq -er --arg h "$1" '.[$h]' "$LAB/host-keys.json"
}


test_first_deploy_builds_on_builders_and_activates_each_target_once() {
  deploy -c "$FLEET_DIR/fleet.json" --report "$LAB_SCRATCH/first.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  local n store
  for n in t1 t2 t3 t4; do
    expect_eq ok "$(result_of "$LAB_SCRATCH/first.json" "$n")" "result of $n"
    store=$(jq -r --arg n "$n" '.nodes[$n].storePath' "$LAB_SCRATCH/first.json")
    expect_contains "$store" "-nixos-system-$n" "store path of $n"
    expect_eq 1 "$(activation_count "$n")" "activations on $n"
    # Tested first, made the boot default once confirmed.
    expect_eq "test $store|boot $store" "$(activations "$n" | cut -d' ' -f2- | paste -sd'|')" "activation record on $n"
    expect_eq "$store" "$(readlink "$LAB/hosts/$n/nix/var/nix/profiles/system" | xargs -I{} readlink "$LAB/hosts/$n/nix/var/nix/profiles/{}")" "system profile of $n"
  done
  # What each evaluation cost, measured where it ran: nix itself is more than 10 MiB resident.
  for n in t1 t2 t3 t4; do
    expect_eq true "$(jq --arg n "$n" '.nodes[$n].evaluation | .peakMiB > 10 and .cpuSeconds > 0 and .targets >= 1' \
      "$LAB_SCRATCH/first.json")" "evaluation figures of $n: $(jq -c --arg n "$n" '.nodes[$n].evaluation' "$LAB_SCRATCH/first.json")"
  done
  # Three delegated targets on two builders of maxJobs 2: one builder holds two, and evaluates
  # them with one nix process each.
  expect_eq "1 1 1" "$(jq -r '[.nodes.t1, .nodes.t2, .nodes.t4 | .evaluation.targets] | join(" ")' "$LAB_SCRATCH/first.json")" \
    "toplevels per evaluator of t1 t2 t4"
  expect_eq self "$(jq -r '.nodes.t3.builtOn' "$LAB_SCRATCH/first.json")"
  expect_eq b2 "$(jq -r '.nodes.t4.builtOn' "$LAB_SCRATCH/first.json")"
  for n in t1 t2; do
    expect_contains "b1 b2" "$(jq -r --arg n "$n" '.nodes[$n].builtOn' "$LAB_SCRATCH/first.json")" "builder of $n"
  done
  # Delegated targets only received closures (no derivations); the self-building one evaluated.
  for n in t1 t2 t4; do
    expect_dir "$LAB/hosts/$n/nix/store"
    expect_eq 0 "$(find "$LAB/hosts/$n/nix/store" -maxdepth 1 -name '*.drv' | wc -l)" ".drv files on $n"
  done
  expect_dir "$LAB/hosts/t3/nix/store"
  [[ $(find "$LAB/hosts/t3/nix/store" -maxdepth 1 -name '*.drv' | wc -l) -gt 0 ]] || fail "t3 did not evaluate itself"
  local uploaded
  uploaded=$(jq -r '.uploadedBytes' "$LAB_SCRATCH/first.json")
  ((uploaded > 0)) || fail "nothing uploaded on the first run"
  echo "  first deploy: uploaded $uploaded bytes, $(jq -r '.durationSeconds' "$LAB_SCRATCH/first.json") s"
  # The run is in the laptop's history too.
  [[ -n $(ls "$LAB/hosts/laptop/root/.local/state/fleet/runs/") ]] || fail "no report under XDG_STATE_HOME"
}

test_unchanged_rerun_uploads_nothing() {
  deploy -c "$FLEET_DIR/fleet.json" --report "$LAB_SCRATCH/second.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  expect_eq 0 "$(jq -r '.uploadedBytes' "$LAB_SCRATCH/second.json")" "bytes uploaded"
  expect_eq "true" "$(jq -r '[.transfers[].skipped] | all' "$LAB_SCRATCH/second.json")" "every transfer skipped"
  local n
  for n in t1 t2 t3 t4; do
    expect_eq ok "$(result_of "$LAB_SCRATCH/second.json" "$n")" "result of $n"
  done
}

test_broken_configurations_fail_alone() {
  local file key
  key=$(host_key t5)
  file=$(variant broken ".nodes[\"broken-build\"] = {host: \"$(lab_ip t5)\", build: \"b1\", hostKey: \"$key\"}
    | .nodes[\"broken-eval\"] = {host: \"$(lab_ip t5)\", build: \"b1\", hostKey: \"$key\"}")
  deploy -c "$file" --on t1,broken-build,broken-eval --report "$LAB_SCRATCH/broken.json"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/broken.json" t1)" "result of t1"
  expect_eq failed "$(result_of "$LAB_SCRATCH/broken.json" broken-build)"
  expect_eq failed "$(result_of "$LAB_SCRATCH/broken.json" broken-eval)"
  expect_contains "$(jq -r '.nodes["broken-build"].error' "$LAB_SCRATCH/broken.json")" "fails to build on purpose"
  # Its log is 2,000 lines long: the error keeps the end (about 4 KB of it), not the start.
  expect_contains "$(jq -r '.nodes["broken-build"].error' "$LAB_SCRATCH/broken.json")" "filler line 1999 of"
  [[ $(jq -r '.nodes["broken-build"].error' "$LAB_SCRATCH/broken.json") != *"filler line 0 of"* ]] \
    || fail "the error of broken-build holds the start of its log"
  expect_contains "$(jq -r '.nodes["broken-eval"].error' "$LAB_SCRATCH/broken.json")" "fails to evaluate on purpose"
  expect_eq 0 "$(activation_count t5)" "activations on t5"
}

# t1 and t2 share one nix evaluation on b1 (one evaluator there), and t2's is held at a FIFO
# until t1 is active: t1 must be built, copied and activated while nix still evaluates t2.
test_a_target_activates_while_the_evaluation_it_shares_goes_on() {
  local gate=$LAB_SCRATCH/t2-eval-gate file before_t1 before_t2 active_first pid rc=0
  rm -f "$gate"
  mkfifo "$gate"
  configure t1 "pipelined t1"
  configure t2 "pipelined t2" "evalGate = \"$gate\";"
  file=$(variant pipelined '.builders.b1.maxJobs = 1 | .nodes.t1.build = "b1" | .nodes.t2.build = "b1"
    | .nixOptions["pure-eval"] = "false"')
  before_t1=$(activation_count t1)
  before_t2=$(activation_count t2)
  fleet sync-and-build -c "$file" --on t1,t2 --report "$LAB_SCRATCH/pipelined.json" >"$LAB_SCRATCH/pipelined.out" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + 120))
  until (($(activation_count t1) > before_t1 || SECONDS >= deadline)); do
    sleep 0.5
  done
  active_first=$(activation_count t1)
  # Opened whatever happened, so that the run ends; the write waits for t2's evaluation to read.
  timeout 120 sh -c 'printf open >"$1"' sh "$gate" || fail "t2's evaluation never read its gate"
  wait "$pid" || rc=$?
  ((active_first > before_t1)) || fail "t1 was not activated while t2 was being evaluated; output: $(cat "$LAB_SCRATCH/pipelined.out")"
  expect_eq 0 "$rc" "exit code; output: $(cat "$LAB_SCRATCH/pipelined.out")"
  expect_eq ok "$(result_of "$LAB_SCRATCH/pipelined.json" t1)" "result of t1"
  expect_eq ok "$(result_of "$LAB_SCRATCH/pipelined.json" t2)" "result of t2"
  expect_eq $((before_t2 + 1)) "$(activation_count t2)" "activations on t2"
  expect_eq b1 "$(report_field "$LAB_SCRATCH/pipelined.json" t2 builtOn)" "where t2 was built"
  # One nix process, whose figures each target got when its toplevel was evaluated.
  expect_eq "1 2" "$(jq -r '[.nodes.t1, .nodes.t2 | .evaluation.targets] | join(" ")' "$LAB_SCRATCH/pipelined.json")" \
    "toplevels evaluated by then"
  configure t1 "hello from t1"
  configure t2 "hello from t2"
}

# t2 and t1 share a new base path. Once t2 is deployed, b1 puts the base, signed, into a binary
# cache that only t1 uses. With substituteOnTarget t1 fetches the base from that cache itself, so
# its copy carries the cache's signature, while its toplevel, which only b1 has, comes from b1.
test_substitute_on_target_fetches_what_the_targets_cache_has() {
  local cache=$LAB_SCRATCH/cache key=$LAB_SCRATCH/cache.sec conf=$LAB/hosts/t1/etc-nix/nix.conf file public base top
  configure t1 "substituted t1" "baseLines = 1234567;"
  configure t2 "substituted t2" "baseLines = 1234567;"
  file=$(variant substitute '.nodes.t1.build = "b1" | .nodes.t2.build = "b1" | .nodes.t1.substituteOnTarget = true')
  deploy -c "$file" --on t2 --report "$LAB_SCRATCH/substitute-t2.json"
  expect_eq 0 "$RC" "exit code of t2's deploy; output: $OUT"
  base=$(lab exec b1 nix-store --query --references "$(report_field "$LAB_SCRATCH/substitute-t2.json" t2 storePath)" |
    grep -e '-lab-base-data$') || fail "t2's toplevel has no lab-base-data"
  lab exec b1 nix key generate-secret --key-name lab-cache-1 >"$key"
  public=$(lab exec b1 nix key convert-secret-to-public <"$key")
  lab exec b1 nix copy --to "file://$cache?secret-key=$key" "$base"
  cp "$conf" "$conf.orig"
  printf 'substituters = file://%s\ntrusted-public-keys = %s\n' "$cache" "$public" >>"$conf"
  deploy -c "$file" --on t1 --report "$LAB_SCRATCH/substitute-t1.json"
  mv -f "$conf.orig" "$conf"
  expect_eq 0 "$RC" "exit code of t1's deploy; output: $OUT"
  top=$(report_field "$LAB_SCRATCH/substitute-t1.json" t1 storePath)
  expect_contains "$(lab exec t1 nix path-info --json "$base" | jq -r '.[0].signatures // [] | join(" ")')" "lab-cache-1:" \
    "signatures of the base on t1 (fetched from its cache)"
  expect_eq "" "$(lab exec t1 nix path-info --json "$top" | jq -r '.[0].signatures // [] | join(" ")')" \
    "signatures of t1's toplevel (sent by b1)"
  expect_eq "$top" "$(current_system t1)" "t1's running system"
  configure t1 "hello from t1"
  configure t2 "hello from t2"
}

# With remoteBuilders, b1's nix hands t1's build to b2, the other builder of the run (t4 builds
# there): t1's new toplevel is built in b2's store, which never holds t1's systems otherwise.
test_remote_builders_take_another_builders_builds() {
  local file top
  configure t1 "built on b2 for b1"
  file=$(variant remote '.remoteBuilders = true | .nodes.t1.build = "b1" | .nodes.t4.build = "b2"')
  deploy -c "$file" --on t1,t4 --report "$LAB_SCRATCH/remote.json"
  expect_eq 0 "$RC" "exit code; output: $OUT"
  top=$(report_field "$LAB_SCRATCH/remote.json" t1 storePath)
  expect_eq b1 "$(report_field "$LAB_SCRATCH/remote.json" t1 builtOn)" "where t1 was built"
  lab exec b2 nix-store --check-validity "$top" || fail "t1's toplevel $top is not in b2's store"
  expect_eq "$top" "$(current_system t1)" "t1's running system"
  configure t1 "hello from t1"
}

test_unreachable_target_and_wrong_host_key_fail_with_reason() {
  local file before_t2 before_t3 wrong
  wrong=$(host_key t1)
  file=$(variant hosts ".nodes.t5 = {host: \"$(lab_ip t5)\", port: 2222, build: \"b1\", hostKey: \"$(host_key t5)\"}
    | .nodes.t2.hostKey = \"$wrong\" | .nodes.t3.hostKey = \"$wrong\"")
  before_t2=$(activation_count t2)
  before_t3=$(activation_count t3)
  deploy -c "$file" --on t1,t2,t3,t5 --report "$LAB_SCRATCH/hosts.json"
  expect_eq 1 "$RC" "exit code; output: $OUT"
  expect_eq ok "$(result_of "$LAB_SCRATCH/hosts.json" t1)" "result of t1"
  local n
  for n in t2 t3 t5; do
    expect_eq failed "$(result_of "$LAB_SCRATCH/hosts.json" "$n")" "result of $n"
  done
  expect_contains "$(jq -r '.nodes.t5.error' "$LAB_SCRATCH/hosts.json")" "unreachable"
  expect_contains "$(jq -r '.nodes.t2.error' "$LAB_SCRATCH/hosts.json")" "host key"
  expect_contains "$(jq -r '.nodes.t3.error' "$LAB_SCRATCH/hosts.json")" "host key"
  expect_eq "$before_t2" "$(activation_count t2)" "activations on t2"
  expect_eq "$before_t3" "$(activation_count t3)" "activations on t3"
  expect_eq 0 "$(activation_count t5)" "activations on t5"
}

test_malformed_config_exits_2_and_contacts_nobody() {
  local before file
  before=$(logins)
  printf '{"version": 1, "nodes": {' >"$FLEET_DIR/syntax.json"
  expect_exit 2 fleet sync-and-build -c "$FLEET_DIR/syntax.json"
  file=$(variant unknown-key '.nodes.t1.lowpower = true')
  OUT=$(fleet sync-and-build -c "$file" 2>&1) && fail "accepted an unknown key"
  expect_contains "$OUT" "nodes.t1.lowpower"
  expect_contains "$OUT" "lowPower"
  file=$(variant bad-mode '.nodes.t2.build = "delegat"')
  expect_exit 2 fleet sync-and-build -c "$file"
  file=$(variant bad-pin '.nodes.t4.build = "b9"')
  expect_exit 2 fleet sync-and-build -c "$file"
  file=$(variant bad-type '.builders.b1.port = "22"')
  expect_exit 2 fleet sync-and-build -c "$file"
  expect_exit 2 fleet sync-and-build -c "$FLEET_DIR/fleet.json" --on @nosuchtag
  expect_exit 2 fleet sync-and-build -c "$FLEET_DIR/missing.json"
  expect_eq "$before" "$(logins)" "ssh logins during malformed runs"
}

# Writes a .tar.zst whose tar holds the entries python builds, and prints the tar's SHA-256.
hostile_tarball() {
  python3 - "$1" "$2" <<'PY'
import hashlib, io, sys, tarfile
out, kind = sys.argv[1], sys.argv[2]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
    def add_file(name, data=b"pwned\n"):
        info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
    def add_link(name, target):
        info = tarfile.TarInfo(name); info.type = tarfile.SYMTYPE; info.linkname = target; tar.addfile(info)
    add_file("ok.txt", b"fine\n")
    if kind == "dotdot":
        add_file("../fleet-hostile-dotdot")
    elif kind == "absolute":
        add_file("/var/lib/fleet/fleet-hostile-absolute")
    elif kind == "symlink":
        add_link("link", "/var/lib/lab/fleet-hostile-outside")
        add_file("link/pwned")
data = buf.getvalue()
open(out + ".tar", "wb").write(data)
print(hashlib.sha256(data).hexdigest())
PY
  zstd -q -f -3 "$1.tar" -o "$1"
}

test_hostile_tarballs_are_rejected_whole() {
  local kind hash file rc
  lab exec b1 mkdir -p /var/lib/lab/fleet-hostile-outside
  for kind in dotdot absolute symlink truncated; do
    file=$LAB_SCRATCH/hostile-$kind.tar.zst
    if [[ $kind == truncated ]]; then
      hash=$(hostile_tarball "$file" plain)
      head -c "$(($(stat -c %s "$file") / 2))" "$file" >"$file.cut" && mv "$file.cut" "$file"
    else
      hash=$(hostile_tarball "$file" "$kind")
    fi
    rc=0
    # As a sender speaks to receive: the payload header, then the whole .tar.zst.
    lab exec b1 sh -c "{ printf '{\"bytes\":%s,\"base\":null}\n' $(stat -c %s "$file"); cat $file; } |
      fleet-builder receive --hash $hash" >"$LAB_SCRATCH/receive-$kind.out" 2>&1 || rc=$?
    ((rc != 0)) || fail "the $kind tarball was accepted"
    expect_file_contains "$LAB_SCRATCH/receive-$kind.out" "fleet-builder: error:"
    [[ ! -e $LAB/hosts/b1/var-lib-fleet/sources/$hash && ! -e $LAB/hosts/b1/var-lib-fleet/sources/$hash.tar ]] \
      || fail "the $kind tarball was kept"
  done
  expect_dir "$LAB/hosts/b1/var-lib-fleet/sources"
  [[ -z $(find "$LAB/hosts/b1/var-lib-fleet/sources" -maxdepth 1 -name '*partial*') ]] || fail "partial directories left behind"
  [[ ! -e $LAB/hosts/b1/var-lib-fleet/fleet-hostile-dotdot ]] || fail "'../' escaped"
  [[ ! -e $LAB/hosts/b1/var-lib-fleet/sources/fleet-hostile-dotdot ]] || fail "'../' escaped"
  [[ ! -e $LAB/hosts/b1/var-lib-fleet/fleet-hostile-absolute ]] || fail "an absolute path was written"
  expect_dir "$LAB/hosts/b1/var-lib-lab/fleet-hostile-outside"
  [[ -z $(ls -A "$LAB/hosts/b1/var-lib-lab/fleet-hostile-outside") ]] || fail "a file was written through a symlink"
}

test_laptop_store_stays_empty() {
  expect_dir "$LAB/hosts/laptop/nix"
  expect_eq "" "$(find "$LAB/hosts/laptop/nix" -mindepth 1 -maxdepth 1)" "entries in the laptop's /nix"
}
