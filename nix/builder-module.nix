# SPDX-License-Identifier: MIT
# NixOS module for fleet nodes (build nodes and targets): installs fleet-builder and creates the
# `fleet` system user that the coordinator (and, for delegated targets, the build nodes) log in
# as. That user may run, without a password, only the commands of privileged-commands.json (the
# start of the root activation supervisor); it is a nix trusted user so closures can be copied to
# it. Note that deploying a system is root-equivalent
# by nature: these limits prevent accidents, they do not make the fleet user less powerful.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.fleet-builder;
  inherit (lib) mkEnableOption mkIf mkOption types;

  # The commands the agent runs through sudo, the same list builder/privilege.cpp compiles in
  # (`fleet-builder sudoers` prints it for hosts without this module). Each placeholder takes one
  # of these values per rule, the same at each of its uses, as expand_placeholders() does.
  privileged = builtins.fromJSON (builtins.readFile ./privileged-commands.json);
  placeholderValues = {
    # A build node brings its own agent to a delegated target as a store path.
    AGENT = [ "/nix/store/*/bin/fleet-builder" "${cfg.package}/bin/fleet-builder" ];
    SYSTEMD_RUN = [ "${config.systemd.package}/bin/systemd-run" "/run/current-system/sw/bin/systemd-run" ];
    STATE_DIR = [ cfg.stateDir ];
  };
  # builtins.split gives the text between placeholders and, for each placeholder, a list of its name.
  expandPattern = pattern:
    let
      pieces = builtins.split "@(AGENT|SYSTEMD_RUN|STATE_DIR)@" pattern;
      names = lib.unique (map builtins.head (builtins.filter builtins.isList pieces));
      bindingsFor = lib.foldr
        (name: rest: lib.concatMap (value: map (binding: binding // { ${name} = value; }) rest) placeholderValues.${name})
        [ { } ]
        names;
      render = binding: lib.concatMapStrings (piece: if builtins.isList piece then binding.${builtins.head piece} else piece) pieces;
    in
    map render bindingsFor;
  # What sudoers reads specially inside a command, as sudoers_escape() escapes it.
  sudoersEscape = lib.replaceStrings [ "\\" "," ":" "=" ] [ "\\\\" "\\," "\\:" "\\=" ];
  privilegedCommands = lib.unique (lib.concatMap (entry: expandPattern entry.pattern) privileged.commands);
in
{
  imports = [
    (lib.mkRenamedOptionModule [ "services" "fleet-builder" "restoreSecretsAtBoot" ] [ "services" "fleet-builder" "recoverAtBoot" ])
  ];

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

    stateDir = mkOption {
      type = types.str;
      default = "/var/lib/fleet";
      description = ''
        The fleet user's home and its agent's state directory (sources, GC roots, activations),
        owned by that user. The agent of a non-root user uses /var/lib/fleet when the user owns
        it, so with another value every agent call needs `--state-dir`, which fleet does not
        pass: keep the default unless you know why.
      '';
    };

    recoverAtBoot = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run `fleet-builder recover --boot` once at boot, before the network services start: an
        activation the reboot interrupted is recorded as rolled back (the host booted the
        previous generation), and the secrets of the booted generation are installed again, so
        secrets kept on tmpfs (/run/keys) are back.
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
      home = cfg.stateDir;
      createHome = true;
      # fleet runs commands over SSH, which needs a real login shell.
      shell = pkgs.bashInteractive;
      openssh.authorizedKeys.keys = cfg.authorizedKeys;
    };

    # `nix copy` to this host as the fleet user goes through the daemon, which must trust it.
    nix.settings.trusted-users = [ cfg.user ];

    security.sudo.extraRules = [
      {
        users = [ cfg.user ];
        runAs = "root";
        commands = map (command: { command = sudoersEscape command; options = [ "NOPASSWD" ]; }) privilegedCommands;
      }
    ];

    systemd.services.fleet-recover = mkIf cfg.recoverAtBoot {
      description = "fleet: end activations a reboot interrupted, restore secrets";
      wantedBy = [ "multi-user.target" ];
      before = [ "network-pre.target" ];
      wants = [ "network-pre.target" ];
      unitConfig.DefaultDependencies = false;
      after = [ "local-fs.target" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${cfg.package}/bin/fleet-builder --state-dir ${cfg.stateDir} recover --boot";
      };
    };
  };
}
