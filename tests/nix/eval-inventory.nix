# SPDX-License-Identifier: MIT
# Checks nixosModules.deployment and lib.inventory: hosts evaluated with nixpkgs' module system
# (a few NixOS-like stand-in options, `nodes` as a special argument as Colmena and most fleets
# pass it) become plain fleet.nodes data; one host computes its tags from another host's config.
# Returns { "<check>" = bool; } for eval-modules.nix.
{ lib }:

let
  inherit (lib) mkOption types;
  inventory = import ../../nix/inventory.nix;

  standIns = {
    options = {
      networking.hostName = mkOption { type = types.str; };
      nixpkgs.hostPlatform = mkOption { type = types.nullOr (types.either types.str types.attrs); default = null; };
      services.web.enable = mkOption { type = types.bool; default = false; };
    };
  };

  hosts = {
    web1 = { networking.hostName = "web1"; nixpkgs.hostPlatform = { system = "aarch64-linux"; };
             services.web.enable = true;
             deployment.fleet = { host = "10.0.0.11"; port = 2222; tags = [ "web" ];
                                  secrets.tls = { file = "secrets/tls.age"; dest = "/run/keys/tls"; }; }; };
    proxy = { nodes, lib, ... }: {
      networking.hostName = "proxy";
      nixpkgs.hostPlatform = "x86_64-linux";
      deployment.fleet = {
        user = "fleet";
        # Computed from another node's configuration.
        tags = lib.optional nodes.web1.config.services.web.enable "in-front-of-web";
        healthChecks = [ { type = "tcp"; port = 443; } ];
      };
    };
    plain = { networking.hostName = "plain"; deployment.fleet.system = "riscv64-linux"; };
  };
  evalHost = name: module: lib.evalModules {
    modules = [ ../../nix/deployment-module.nix standIns module ];
    specialArgs = { nodes = configurations; };
  };
  configurations = builtins.mapAttrs evalHost hosts;
  nodes = inventory configurations;

  badPort = inventory { bad = evalHost "bad" { networking.hostName = "bad"; deployment.fleet.port = "22"; }; };
  badAction = inventory { bad = evalHost "bad" { networking.hostName = "bad"; deployment.fleet.action = "reboot"; }; };
  noModule = inventory { other = lib.evalModules { modules = [ standIns { networking.hostName = "other"; } ]; }; };
  fails = value: !(builtins.tryEval (builtins.deepSeq value value)).success;
in
{
  "the inventory holds set keys only" = nodes.web1 == {
    host = "10.0.0.11"; port = 2222; tags = [ "web" ]; system = "aarch64-linux";
    secrets.tls = { file = "secrets/tls.age"; dest = "/run/keys/tls"; };
  };
  "a node's tags may come from another node's config" = nodes.proxy.tags == [ "in-front-of-web" ];
  "the system comes from nixpkgs.hostPlatform as a string too" = nodes.proxy.system == "x86_64-linux";
  "health checks and the user are carried over" = nodes.proxy.user == "fleet"
    && nodes.proxy.healthChecks == [ { type = "tcp"; port = 443; } ];
  "deployment.fleet.system is used without hostPlatform" = nodes.plain == { system = "riscv64-linux"; };
  "the inventory is plain data" = builtins.fromJSON (builtins.toJSON nodes) == nodes;
  "a port of the wrong type is an evaluation error" = fails badPort;
  "an unknown action is an evaluation error" = fails badAction;
  "a host without the deployment module is an evaluation error" = fails noModule;
}
