# SPDX-License-Identifier: MIT
# Evaluates nix/builder-module.nix and nix/coordinator-module.nix with nixpkgs' module system
# (and, through eval-inventory.nix, nix/deployment-module.nix with nix/inventory.nix; through
# eval-lab-fleet.nix, the lab fleet's inventories, fleet's and a Colmena hive),
# against typed stand-ins for the NixOS options they set (no nixpkgs checkout needed, only its
# lib). A stand-in has no freeform attributes, so a misspelt option in a module is an error here.
# Prints { failures, sudoCommands, package, systemd } for tests/nix/run, which fails on any
# failure and compares sudoCommands with `fleet-builder sudoers`.
{ lib, user ? "fleet" }:

let
  inherit (lib) mkOption types;

  fakeDrv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" name)}-${name}";
  } // extra;

  fleet = fakeDrv "fleet-0.1.0" { };
  systemd = fakeDrv "systemd-257" { };
  pkgs = {
    bashInteractive = fakeDrv "bash-interactive-5.2" { shellPath = "/bin/bash"; };
    openssh = fakeDrv "openssh-9.9" { };
    writeText = name: text: fakeDrv name { inherit text; };
    callPackage = path: args: throw "tests/nix/eval-modules.nix: set the package option, nixpkgs is not loaded here";
  };

  option = type: default: mkOption { inherit type default; };
  strs = option (types.listOf types.str) [ ];

  # The parts of NixOS's option declarations the modules use, with NixOS's types where they matter.
  nixosStandIns = {
    options = {
      warnings = strs;
      environment.systemPackages = option (types.listOf types.package) [ ];
      nix.package = option types.package (fakeDrv "nix-2.24" { });
      nix.settings = option (types.submodule { options.trusted-users = strs; }) { };
      systemd.package = option types.package systemd;
      systemd.tmpfiles.rules = strs;
      systemd.services = option (types.attrsOf (types.submodule {
        options = {
          description = option types.str "";
          wantedBy = strs;
          wants = strs;
          before = strs;
          after = strs;
          path = option (types.listOf types.package) [ ];
          environment = option (types.attrsOf types.str) { };
          unitConfig = option (types.attrsOf types.anything) { };
          serviceConfig = option (types.attrsOf types.anything) { };
        };
      })) { };
      systemd.timers = option (types.attrsOf (types.submodule {
        options = {
          description = option types.str "";
          wantedBy = strs;
          timerConfig = option (types.attrsOf types.anything) { };
        };
      })) { };
      users.groups = option (types.attrsOf (types.submodule { options.gid = option (types.nullOr types.int) null; })) { };
      users.users = option (types.attrsOf (types.submodule {
        options = {
          isSystemUser = option types.bool false;
          group = option types.str "";
          description = option types.str "";
          home = option types.str "/var/empty";
          createHome = option types.bool false;
          shell = option (types.nullOr types.shellPackage) null;
          openssh.authorizedKeys.keys = strs;
        };
      })) { };
      security.sudo.extraRules = option (types.listOf (types.submodule {
        options = {
          users = strs;
          groups = strs;
          host = option types.str "ALL";
          runAs = option types.str "ALL:ALL";
          commands = option (types.listOf (types.either types.str (types.submodule {
            options = {
              command = option types.str "";
              options = option (types.listOf (types.enum [ "NOPASSWD" "PASSWD" "NOEXEC" "EXEC" "SETENV" "NOSETENV" ])) [ ];
            };
          }))) [ ];
        };
      })) [ ];
    };
    config._module.args.pkgs = pkgs;
  };

  evalWith = settings: (lib.evalModules {
    modules = [ ../../nix/builder-module.nix ../../nix/coordinator-module.nix nixosStandIns settings ];
  }).config;

  key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEvalModulesTestKeyOnly test@laptop";
  node = evalWith {
    services.fleet-builder = { enable = true; package = fleet; inherit user; authorizedKeys = [ key ]; };
    services.fleet-nightly = { enable = true; package = fleet; configFile = "/srv/fleet/fleet.json"; };
  };
  noRecovery = evalWith { services.fleet-builder = { enable = true; package = fleet; recoverAtBoot = false; }; };
  oldName = evalWith { services.fleet-builder = { enable = true; package = fleet; restoreSecretsAtBoot = false; }; };
  disabled = evalWith { };

  account = node.users.users.${user} or null;
  rules = builtins.filter (rule: rule.users == [ user ]) node.security.sudo.extraRules;
  recover = node.systemd.services.fleet-recover or null;
  nightly = node.systemd.services.fleet-nightly or null;

  checks = {
    "the user exists" = account != null;
    "its home is the state dir" = account.home or "" == "/var/lib/fleet" && account.createHome or false;
    "it is a system user in its own group" = account.isSystemUser or false && node.users.groups ? ${user} && account.group or "" == user;
    "its shell is a login shell" = (account.shell.shellPath or "") == "/bin/bash";
    "its keys are the authorized ones" = account.openssh.authorizedKeys.keys or [ ] == [ key ];
    "nix trusts it" = builtins.elem user node.nix.settings.trusted-users;
    "it has one sudo rule, as root, without a password" = builtins.length rules == 1
      && (builtins.head rules).runAs == "root"
      && builtins.all (c: c.options == [ "NOPASSWD" ]) (builtins.head rules).commands;
    "fleet-builder is installed" = builtins.elem fleet node.environment.systemPackages;
    "recover --boot runs at boot" = recover != null
      && recover.serviceConfig.ExecStart == "${fleet}/bin/fleet-builder --state-dir /var/lib/fleet recover --boot"
      && builtins.elem "multi-user.target" recover.wantedBy;
    "recoverAtBoot = false leaves it out" = !(noRecovery.systemd.services ? fleet-recover);
    "restoreSecretsAtBoot is the old name of recoverAtBoot" = !(oldName.systemd.services ? fleet-recover)
      && builtins.any (lib.hasInfix "restoreSecretsAtBoot") oldName.warnings;
    "a disabled module adds nothing" = disabled.users.users == { } && disabled.security.sudo.extraRules == [ ];
    "the nightly service runs fleet on the config" = nightly != null
      && lib.hasInfix "${fleet}/bin/fleet" nightly.serviceConfig.ExecStart
      && lib.hasInfix "/srv/fleet/fleet.json" nightly.serviceConfig.ExecStart
      && node.systemd.timers ? fleet-nightly;
  } // import ./eval-inventory.nix { inherit lib; } // import ./eval-lab-fleet.nix { inherit lib; };
in
{
  failures = builtins.attrNames (lib.filterAttrs (name: ok: !ok) checks);
  sudoCommands = map (c: c.command) (lib.concatMap (rule: rule.commands) rules);
  package = "${fleet}";
  systemd = "${systemd}";
}
