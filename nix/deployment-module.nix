# SPDX-License-Identifier: MIT
# deployment.fleet.*: a node's fleet.json keys as options of its own NixOS configuration, so they
# live in the host's module tree and may be computed from anything there, other hosts' configs
# included (`nodes`, when the tree passes it). fleet's `lib.inventory` reads them into the plain
# `fleet.nodes` output that a build node evaluates for the laptop. An option left null is not
# written, so fleet.json's `defaults` (and fleet's own defaults) still apply to it.
{ lib, ... }:

let
  inherit (lib) mkOption types;
  optional = type: description: mkOption { type = types.nullOr type; default = null; inherit description; };

  secret = types.submodule {
    options = {
      file = mkOption { type = types.str; description = "The .age file, relative to fleet.json (a string, not a Nix path: a path would be copied to the store)."; };
      dest = mkOption { type = types.str; description = "Where the target installs the decrypted secret."; };
      owner = optional types.str "Owner of the installed file (fleet's default: root).";
      group = optional types.str "Group of the installed file (fleet's default: root).";
      mode = optional types.str "Octal mode of the installed file (fleet's default: \"0400\").";
      when = optional (types.enum [ "pre-activation" "post-activation" ]) "Before or after the switch (fleet's default: pre-activation).";
      required = optional types.bool "Whether a missing recipient fails the node (fleet's default: true).";
    };
  };
in
{
  options.deployment.fleet = {
    host = optional types.str "Address or host name the build node reaches this node at (fleet's default: the node's name).";
    user = optional types.str "The deploy user (root, or a user with the rules of `fleet-builder sudoers`).";
    port = optional types.port "The SSH port.";
    system = optional types.str ''
      The node's platform, e.g. "aarch64-linux". Unset: `nixpkgs.hostPlatform` (or `nixpkgs.system`)
      when the configuration has it, else x86_64-linux.
    '';
    tags = mkOption { type = types.listOf types.str; default = [ ]; description = "Tags, selected with `--on @tag`."; };
    build = optional types.str ''"self", "delegate", "auto" or the name of the builder that must build this node.'';
    lowPower = optional types.bool "Never let this node evaluate or build its own system.";
    substituteOnTarget = optional types.bool "The node fetches from its own substituters what they have of its closure; the build node sends only the rest.";
    site = optional types.str "The site the node is at; builders of the same site are preferred.";
    hostKey = optional types.str "The node's SSH host key (\"ssh-ed25519 AAAA…\"), pinned instead of known_hosts.";
    action = optional (types.enum [ "switch" "boot" "test" "dry-activate" "build" ]) "The action unless the command line gives one.";
    secrets = mkOption { type = types.attrsOf secret; default = { }; description = "age-encrypted secrets installed on the node."; };
    healthChecks = mkOption {
      type = types.listOf (types.attrsOf types.anything);
      default = [ ];
      description = "Health checks as in fleet.json (`{ type = \"tcp\"; port = 22; }`); fleet validates them.";
    };
    hooks = optional (types.attrsOf types.anything) "preActivate, postActivate and timeout, as in fleet.json.";
    rollbackOnHookFailure = optional types.bool "A failing postActivate hook also rolls back (fleet's default: false).";
    confirmTimeout = optional types.ints.positive "Seconds the node waits for the deployer's confirmation before it rolls back.";
  };
}
