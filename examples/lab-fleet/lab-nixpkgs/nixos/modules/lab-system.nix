# SPDX-License-Identifier: MIT
# The lab's "NixOS": the NixOS options that the lab's hosts, fleet's deployment module and
# Colmena's modules set, declared with NixOS's types, plus the lab's knobs (lab.*, see ../../../lab.nix)
# and one service. system.build.toplevel is a lab toplevel; as on NixOS, evaluating it throws
# when an assertion fails and prints the warnings. There is no freeform option: a misspelt
# option is an error, as it would be on NixOS.
{ config, lib, ... }:

let
  inherit (lib) mkOption mkEnableOption mkDefault mkIf types;
  lab = import ../../../lab.nix;

  option = type: default: description: mkOption { inherit type default description; };
  strs = description: option (types.listOf types.str) [ ] description;
  flag = description: option types.bool false description;

  # NixOS's overlay type: a function, merged one definition at a time.
  overlay = types.mkOptionType {
    name = "nixpkgs-overlay";
    check = builtins.isFunction;
    merge = lib.mergeOneOption;
  };

  # The unit options NixOS has that Colmena's modules and the lab's services set.
  unit = extra: types.submodule {
    options = {
      enable = option types.bool true "Whether the unit is part of the system.";
      description = option types.str "" "The unit's Description=.";
      wantedBy = strs "Units that want this one.";
      wants = strs "Units this one wants.";
      after = strs "Units this one starts after.";
      before = strs "Units this one starts before.";
      unitConfig = option (types.attrsOf types.anything) { } "The [Unit] section.";
    } // extra;
  };
  service = unit {
    path = option (types.listOf (types.either types.package types.str)) [ ] "Packages on the service's PATH.";
    environment = option (types.attrsOf types.str) { } "The service's environment.";
    serviceConfig = option (types.attrsOf types.anything) { } "The [Service] section.";
    preStart = option types.lines "" "Shell commands run before the service starts.";
    script = option types.lines "" "The service's shell script.";
  };
  pathUnit = unit {
    pathConfig = option (types.attrsOf types.anything) { } "The [Path] section.";
  };
  activationScript = types.either types.str (types.submodule {
    options = {
      deps = strs "Scripts that run before this one.";
      text = mkOption { type = types.lines; description = "The script."; };
      supportsDryActivation = flag "Whether the script runs on dry-activate too.";
    };
  });

  enabledUnits = suffix: units:
    map (name: "${name}.${suffix}") (builtins.attrNames (lib.filterAttrs (_: u: u.enable) units));
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
in
{
  options = {
    networking.hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
      description = "The host name; the toplevel is named after it.";
    };

    nixpkgs = {
      system = option types.str "x86_64-linux" ''
        The platform of the system (NixOS's older option; eval-config's `system` argument sets it).
      '';
      hostPlatform = mkOption {
        type = types.either types.str types.attrs;
        default = config.nixpkgs.system;
        defaultText = lib.literalExpression "config.nixpkgs.system";
        # NixOS elaborates the platform into a set that holds functions; the lab keeps the plain
        # `{ system = …; }`, which is what its toplevels and fleet's lib.inventory read.
        apply = platform: if builtins.isString platform then { system = platform; } else platform;
        description = ''The platform the system runs on: "x86_64-linux" or { system = "x86_64-linux"; }.'';
      };
      overlays = option (types.listOf overlay) [ ] "Overlays of the package set (the lab's has no packages).";
      config = option (types.attrsOf types.anything) { } "The package set's configuration.";
    };

    system.build = mkOption {
      type = types.submoduleWith { modules = [ { freeformType = types.lazyAttrsOf (types.uniq types.unspecified); } ]; };
      default = { };
      internal = true;
      description = "What the system is built into; `toplevel` is the system itself.";
    };
    system.activationScripts = option (types.attrsOf activationScript) { } "Snippets of the activation script.";

    systemd.services = option (types.attrsOf service) { } "systemd services.";
    systemd.paths = option (types.attrsOf pathUnit) { } "systemd path units.";

    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
      internal = true;
      description = "{ assertion, message } pairs; evaluating the toplevel throws the messages of the false ones.";
    };
    warnings = strs "Printed when the toplevel is evaluated.";

    services.web.enable = mkEnableOption "the lab's web service (a web.service unit in the toplevel)";

    lab = {
      message = mkOption { type = types.str; description = "A per-node string, written into the toplevel."; };
      failActivation = flag "switch-to-configuration exits 1 without recording.";
      cutNetwork = flag "Activating takes the host's network down; activating another configuration brings it up.";
      slowBuild = option types.ints.unsigned 0 "Seconds the toplevel's build sleeps.";
      slowActivation = option types.ints.unsigned 0 "Seconds activating sleeps first.";
      hangActivation = flag "Activating never finishes.";
      baseLines = option types.ints.positive 1500000 "Size of the shared base, in lines of `seq`.";
      failService = flag "On a systemd host, lab-app.service fails to start.";
      switchInhibitor = option types.str "" "Content of the toplevel's switch-inhibitors file.";
      evalCost = option types.ints.unsigned (import ../../../eval-cost.nix).perHost ''
        Thousands of attributes this host's evaluation forces besides the shared part
        (../../../eval-cost.nix), so that evaluating it costs what a NixOS system's does.
      '';
      evalGate = option types.str "" ''
        A file this host's evaluation reads before anything else: a FIFO holds the evaluation
        until a test writes to it. Reading it needs the nix option pure-eval = false.
      '';
    };
  };

  config = {
    _module.args.pkgs = mkDefault (import ../.. {
      inherit lib;
      inherit (config.nixpkgs.hostPlatform) system;
      inherit (config.nixpkgs) overlays config;
    });

    systemd.services.web = mkIf config.services.web.enable {
      description = "lab: the web service";
      wantedBy = [ "multi-user.target" ];
      serviceConfig.ExecStart = "/bin/true";
    };

    system.build.toplevel =
      let
        # The cost is paid when the toplevel is evaluated, and changes no store path.
        gate = if config.lab.evalGate == "" then null else builtins.readFile config.lab.evalGate;
        cost = builtins.seq gate (builtins.seq (import ../../shared-eval.nix)
          (import ../../eval-work.nix config.networking.hostName config.lab.evalCost));
        toplevel = builtins.seq cost (lab.mkToplevel (removeAttrs config.lab [ "evalCost" "evalGate" ] // {
          name = config.networking.hostName;
          inherit (config.nixpkgs.hostPlatform) system;
          units = enabledUnits "service" config.systemd.services ++ enabledUnits "path" config.systemd.paths;
        }));
      in
      if failedAssertions != [ ] then
        throw "\nFailed assertions:\n${lib.concatMapStrings (message: "- ${message}\n") failedAssertions}"
      else
        lib.showWarnings config.warnings toplevel;
  };
}
