# SPDX-License-Identifier: MIT
# Checks examples/lab-fleet's inventories without its flake: the hosts on the lab's NixOS
# (lab-nixpkgs/, nixpkgs' lib.evalModules), fleet's deployment options and lib.inventory over them,
# and the Colmena hive evaluated by the vendored colmena/eval.nix as colmena.lib.makeHive does.
# The address book is fleet.json.in's placeholders, so fleet.nodes can be compared with its nodes.
# Returns { "<check>" = bool; } for eval-modules.nix.
{ lib }:

let
  example = ../../examples/lab-fleet;
  lab = import (example + "/lab.nix");
  fleetJson = builtins.fromJSON (builtins.readFile (example + "/fleet.json.in"));
  targets = [ "t1" "t2" "t3" "t4" "t5" "st1" "st2" "st3" ];
  network = {
    hosts = lib.genAttrs targets (name: "@HOST:${name}@");
    hostKeys = lib.genAttrs targets (name: "@HOSTKEY:${name}@");
  };
  knobs = name: lab.mkHost ({ inherit name; } // import (example + "/hosts/${name}.nix"));
  nixpkgs = import (example + "/lab-nixpkgs") { inherit lib; system = "x86_64-linux"; };
  evalConfig = import (example + "/lab-nixpkgs/nixos/lib/eval-config.nix");

  # flake.nix's nixosConfigurations, with fleet's nix/ in place of fleet-nix/; `extra` adds modules.
  configurations = extra: let self = lib.genAttrs targets (name: evalConfig {
    inherit lib;
    system = "x86_64-linux";
    specialArgs = { inherit name network; nodes = self; };
    modules = [ ../../nix/deployment-module.nix (example + "/configuration.nix") (knobs name)
                (example + "/deployment.nix") (extra.${name} or { }) ];
  }); in self;
  fleetNodes = extra: import ../../nix/inventory.nix (configurations extra);
  nodes = fleetNodes { };
  hosts = configurations { };
  toplevel = name: hosts.${name}.config.system.build.toplevel;

  hive = import (example + "/colmena/eval.nix") {
    rawHive = lib.recursiveUpdate (import (example + "/hive.nix") { inherit nixpkgs network knobs; }) {
      meta.nixpkgs.path = ./lab-nixpkgs;
      meta.specialArgs.testLib = lib;
    };
    colmenaOptions = import (example + "/colmena/options.nix");
    colmenaModules = import (example + "/colmena/modules.nix");
    hermetic = true;
  };
  deployments = builtins.mapAttrs (_: d: d // { keys = builtins.attrNames d.keys; }) hive.deploymentConfig;

  fails = value: !(builtins.tryEval (builtins.deepSeq value value)).success;
  withT1 = module: (configurations { t1 = module; }).t1;
  asserting = withT1 { assertions = [ { assertion = false; message = "lab test: asserted"; } ]; };
in
{
  "the lab fleet's t1..t4 are fleet.json.in's nodes, with its default user" = builtins.all
    (name: nodes.${name} == fleetJson.nodes.${name} // { user = "root"; }
      // lib.optionalAttrs (name == "t2") { tags = [ "low" "demo" "web-peer" ]; })
    [ "t1" "t2" "t3" "t4" ];
  "every lab host is in fleet.nodes, the broken fixtures are not" = builtins.attrNames nodes == lib.sort (a: b: a < b) targets;
  "t2's web-peer tag is computed from t1's configuration" =
    !(builtins.elem "web-peer" (fleetNodes { t1.services.web.enable = lib.mkForce false; }).t2.tags);
  "a lab toplevel is named after its host and carries its knobs" = (toplevel "t3").name == "nixos-system-t3"
    && (toplevel "t3").message == "hello from t3" && (toplevel "t3").system == "x86_64-linux"
    && (toplevel "t3").fail == "" && (withT1 { lab.failActivation = true; }).config.system.build.toplevel.fail == "1";
  "a service of the configuration is a unit of the toplevel" = (toplevel "t1").units == "web.service\n"
    && (toplevel "t2").units == "";
  "a knob of the wrong type is an evaluation error" = fails (withT1 { lab.slowActivation = "soon"; }).config.system.build.toplevel;
  "an undeclared option is an evaluation error" = fails (withT1 { lab.slowness = 1; }).config.system.build.toplevel;
  "a failed assertion throws when the toplevel is evaluated, and only then" =
    fails asserting.config.system.build.toplevel.drvPath && asserting.config.networking.hostName == "t1";
  "the hive's deployments are plain data once the keys are names" =
    builtins.fromJSON (builtins.toJSON deployments) == deployments;
  "the hive has the same hosts, tags and self-builders" = builtins.attrNames deployments == builtins.attrNames nodes
    && deployments.t2.tags == nodes.t2.tags && deployments.t3.buildOnTarget && !deployments.t4.buildOnTarget
    && deployments.t1.targetHost == "@HOST:t1@" && deployments.t5.keys == [ "lab-demo" ];
  "the hive's hosts have the platform fleet reads" = hive.nodes.st3.config.nixpkgs.hostPlatform == { system = "x86_64-linux"; }
    && hive.nodes.st3.config.nixpkgs.system == "x86_64-linux";
  "Colmena builds fleet's toplevel, plus the units of its key services" = hive.toplevel.t1.outPath == (toplevel "t1").outPath
    && hive.toplevel.t5.units == "lab-demo-key.service\nlab-demo-key.path\n";
}
