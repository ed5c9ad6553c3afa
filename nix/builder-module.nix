# SPDX-License-Identifier: MIT
# NixOS module for fleet nodes (build nodes and targets): installs fleet-builder and creates the
# `fleet` system user that the coordinator (and, for delegated targets, the build nodes) log in
# as. That user may run, without a password, only the commands activation needs; it is a nix
# trusted user so closures can be copied to it. Note that deploying a system is root-equivalent
# by nature: these limits prevent accidents, they do not make the fleet user less powerful.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.fleet-builder;
  inherit (lib) mkEnableOption mkIf mkOption types;

  nopasswd = command: { inherit command; options = [ "NOPASSWD" ]; };
  profile = "/nix/var/nix/profiles/system";
  # The agent runs `sudo -n -- nix-env -p PROFILE --set STOREPATH [--option K V]…`; sudo finds
  # nix-env through PATH, so both places it may be found are allowed. Arguments after the store
  # path are the fleet's nixOptions (a sudoers `*` also matches spaces).
  nixEnvCommands = map (nixEnv: "${nixEnv} -p ${profile} --set /nix/store/*") [
    "/run/current-system/sw/bin/nix-env"
    "${config.nix.package}/bin/nix-env"
  ];
  switchCommands = map (action: "/nix/store/*/bin/switch-to-configuration ${action}") [
    "switch"
    "boot"
    "test"
    "dry-activate"
  ];
  # A self-building target runs `nixos-rebuild ACTION --flake path:SOURCE#NODE [--option K V]…`.
  rebuildCommands = map (action: "/run/current-system/sw/bin/nixos-rebuild ${action} --flake *") [
    "switch"
    "boot"
    "test"
    "dry-activate"
  ];
in
{
  options.services.fleet-builder = {
    enable = mkEnableOption "the fleet-builder agent and the fleet user on this node";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./nix/package.nix { }";
      description = "The fleet package; fleet-builder is taken from it.";
    };

    user = mkOption {
      type = types.str;
      default = "fleet";
      description = "The system user fleet logs in as.";
    };

    authorizedKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "ssh-ed25519 AAAAC3Nza... fleet@coordinator" ];
      description = ''
        SSH public keys allowed to log in as the fleet user: the coordinator's (or laptop's) key,
        and on targets that build nodes deliver to, each build node's key.
      '';
    };

    restoreSecretsAtBoot = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Run `fleet-builder secrets restore` once at boot, before the network services start, so
        secrets kept on tmpfs (/run/keys) are back after a reboot. Needs a fleet-builder that
        supports secrets.
      '';
    };
  };

  config = mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];

    users.groups.${cfg.user} = { };
    users.users.${cfg.user} = {
      isSystemUser = true;
      group = cfg.user;
      description = "fleet deployments";
      home = "/var/lib/fleet";
      createHome = true;
      # fleet runs commands over SSH, which needs a real login shell.
      shell = pkgs.bashInteractive;
      openssh.authorizedKeys.keys = cfg.authorizedKeys;
    };

    nix.settings.trusted-users = [ cfg.user ];

    security.sudo.extraRules = [
      {
        users = [ cfg.user ];
        commands = map nopasswd (nixEnvCommands ++ switchCommands ++ rebuildCommands);
      }
    ];

    systemd.services.fleet-secrets-restore = mkIf cfg.restoreSecretsAtBoot {
      description = "fleet: restore secrets after boot";
      wantedBy = [ "multi-user.target" ];
      before = [ "network-pre.target" ];
      wants = [ "network-pre.target" ];
      unitConfig.DefaultDependencies = false;
      after = [ "local-fs.target" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${cfg.package}/bin/fleet-builder secrets restore";
      };
    };
  };
}
