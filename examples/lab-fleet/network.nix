# SPDX-License-Identifier: MIT
# The lab's address book, { hosts = { <host> = address; }; hostKeys = { <host> = "ssh-ed25519 …"; }; }:
# lab-network.json, which scripts/lab writes into its copy of this fleet from
# $FLEET_LAB_DIR/hosts.json and host-keys.json. Both inventories read it; the toplevels do not.
let
  file = ./lab-network.json;
in
if builtins.pathExists file then
  builtins.fromJSON (builtins.readFile file)
else
  throw "lab-fleet: lab-network.json is missing; use the copy that `scripts/lab up` writes (FLEET_LAB_DIR/fleet), which has it"
