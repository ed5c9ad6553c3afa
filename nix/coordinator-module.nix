# SPDX-License-Identifier: MIT
# NixOS module for a coordinator host: a systemd service and timer that run
# `fleet sync-and-build --unattended` every night. fleet takes its own lock (a second run exits 3,
# which the service counts as success), bounds every phase by fleet.json's timeouts, and keeps
# the run history under the state directory (`fleet runs`, `fleet report` as that user).
{ config, lib, pkgs, ... }:

let
  cfg = config.services.fleet-nightly;
  inherit (lib) mkEnableOption mkIf mkOption optionals types;

  sshConfig = pkgs.writeText "fleet-nightly-ssh-config" (
    lib.optionalString (cfg.sshKeyFile != null) ''
      Host *
        IdentityFile ${cfg.sshKeyFile}
        IdentitiesOnly yes
    ''
    + cfg.extraSshConfig
  );

  command = [ "${cfg.package}/bin/fleet" "sync-and-build" "--unattended" "-c" cfg.configFile ]
    ++ optionals (cfg.notifyCommand != null) [ "--notify" cfg.notifyCommand ]
    ++ cfg.extraArgs;
in
{
  options.services.fleet-nightly = {
    enable = mkEnableOption "nightly unattended fleet deployments";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./nix/package.nix { }";
      description = "The fleet package.";
    };

    configFile = mkOption {
      type = types.str;
      example = "/srv/fleet/fleet.json";
      description = ''
        Path of fleet.json. A string, not a Nix path: the file and its source tree stay where
        they are (for example a git checkout the service user can read), not in the store.
      '';
    };

    schedule = mkOption {
      type = types.str;
      default = "*-*-* 03:00:00";
      description = "When to run, as systemd's OnCalendar= (see systemd.time(7)).";
    };

    randomizedDelaySec = mkOption {
      type = types.str;
      default = "30min";
      description = "Random delay added to each start (RandomizedDelaySec=), so fleets sharing a mirror do not start together.";
    };

    notifyCommand = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "mail -s \"fleet run $FLEET_RUN_ID: exit $FLEET_EXIT_CODE\" ops@example.com";
      description = ''
        Shell command run after each run with the summary on stdin and FLEET_RUN_ID,
        FLEET_EXIT_CODE and FLEET_REPORT in its environment (`--notify`). Its failure is logged
        but does not change the run's exit code.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "--skip-unchanged" "--update-inputs" "--on" "@nightly" ];
      description = "More arguments for `fleet sync-and-build`.";
    };

    user = mkOption {
      type = types.str;
      default = "fleet-nightly";
      description = "User the runs execute as; created (with its group) when it is the default.";
    };

    group = mkOption {
      type = types.str;
      default = "fleet-nightly";
      description = "Group of the service.";
    };

    stateDir = mkOption {
      type = types.str;
      default = "/var/lib/fleet-nightly";
      description = "HOME and XDG_STATE_HOME of the runs: the lock and the run history (fleet/runs) live here.";
    };

    sshKeyFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/var/lib/fleet-nightly/.ssh/id_ed25519";
      description = ''
        Private key the runs log in with, readable by the service user only. Not a Nix path, so
        the key never enters the store. When null, the user's usual keys and ssh-agent apply.
      '';
    };

    extraSshConfig = mkOption {
      type = types.lines;
      default = "";
      example = "Host *.internal\n  ProxyJump bastion.example.com";
      description = "Appended to the service user's ~/.ssh/config (host keys: pin them with hostKey in fleet.json, or add UserKnownHostsFile here).";
    };
  };

  config = mkIf cfg.enable {
    users.users = mkIf (cfg.user == "fleet-nightly") {
      fleet-nightly = {
        isSystemUser = true;
        group = cfg.group;
        home = cfg.stateDir;
        createHome = true;
        description = "fleet nightly deployments";
      };
    };
    users.groups = mkIf (cfg.group == "fleet-nightly") { fleet-nightly = { }; };

    systemd.tmpfiles.rules = [
      "d ${cfg.stateDir} 0700 ${cfg.user} ${cfg.group} -"
      "d ${cfg.stateDir}/.ssh 0700 ${cfg.user} ${cfg.group} -"
      "L+ ${cfg.stateDir}/.ssh/config - - - - ${sshConfig}"
    ];

    systemd.services.fleet-nightly = {
      description = "fleet: unattended sync-and-build";
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # ProxyJump hops run OpenSSH's ssh -W.
      path = [ pkgs.openssh ];
      environment = {
        HOME = cfg.stateDir;
        XDG_STATE_HOME = cfg.stateDir;
      };
      serviceConfig = {
        Type = "oneshot";
        User = cfg.user;
        Group = cfg.group;
        ExecStart = lib.escapeShellArgs command;
        # 3: another run still holds the lock; that is not this run's failure.
        SuccessExitStatus = "3";
        StandardInput = "null";
        Nice = 10;
        PrivateTmp = true;
        NoNewPrivileges = true;
        ProtectSystem = "full";
      };
    };

    systemd.timers.fleet-nightly = {
      description = "fleet: nightly sync-and-build";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = cfg.schedule;
        RandomizedDelaySec = cfg.randomizedDelaySec;
        # A run missed while the host was off starts at the next boot.
        Persistent = true;
      };
    };
  };
}
