# SPDX-License-Identifier: MIT
# Stand-ins for NixOS systems. Each toplevel is a plain derivation (builder /bin/sh, which works
# because the lab builds with sandbox = false) that references one shared ~10 MB base path and
# holds a bin/switch-to-configuration recording every activation in /var/lib/lab/activations.
# The lab's "NixOS" (lab-nixpkgs/nixos/modules/lab-system.nix) makes system.build.toplevel with
# mkToplevel from a host's lab.* options; mkHost turns a hosts/<name>.nix into those options.
let
  version = "lab-1";

  # Deterministic data shared by every toplevel of a system, so closures overlap like real ones:
  # `seq 1 lines`, ~10 MB by default (scripts/bench-deploy asks for more).
  mkBase = system: lines: derivation {
    name = "lab-base-data";
    inherit system;
    builder = "/bin/sh";
    args = [ "-c" "/usr/bin/mkdir -p $out && /usr/bin/seq 1 ${toString lines} > $out/data" ];
  };
in
{
  # The knobs of a host (hosts/<name>.nix, which the suites rewrite), as the module that sets the
  # lab.* options of the lab's NixOS: `mkHost ({ inherit name; } // import ./hosts/<name>.nix)`.
  # message: a per-node string, so editing hosts/<name>.nix changes exactly that node's
  # toplevel; failActivation: switch-to-configuration exits 1 without recording; cutNetwork:
  # activating it takes the host's network down, as a broken network configuration would, and
  # activating any other configuration brings it back up; slowBuild: seconds the toplevel's build
  # sleeps, so tests can act while a build runs; slowActivation: activating sleeps that many
  # seconds first; hangActivation: activating never finishes; baseLines: the size of the shared
  # base (lines of `seq`, 8 bytes each around a million); failService: on a host with systemd,
  # the configuration's lab-app.service fails to start (activation itself succeeds, as on NixOS);
  # switchInhibitor: the content of the toplevel's switch-inhibitors file.
  mkHost = { name, ... }@knobs: {
    networking.hostName = name;
    lab = removeAttrs knobs [ "name" ];
  };

  # The toplevel of a host: its name, platform, knobs and the systemd units its configuration
  # declares (listed in etc/lab-units, so a module that adds a service changes the toplevel).
  mkToplevel = { name, system, message, failActivation, cutNetwork, slowBuild, slowActivation,
                 hangActivation, baseLines, failService, switchInhibitor, units }:
    derivation ({
      name = "nixos-system-${name}";
      inherit system message version;
      nodeName = name;
      base = mkBase system baseLines;
      switch = ./switch-to-configuration.sh;
      fail = if failActivation then "1" else "";
      cut = if cutNetwork then "1" else "";
      delay = if hangActivation then "1000000" else toString slowActivation;
      serviceCommand = if failService then "/bin/false" else "/bin/true";
      inhibitor = switchInhibitor;
      units = builtins.concatStringsSep "" (map (unit: unit + "\n") units);
      builder = "/bin/sh";
      args = [ "-e" ./build-toplevel.sh ];
    } // (if slowBuild > 0 then { slow = toString slowBuild; } else { }));

  mkBrokenBuild = name: {
    config.system.build.toplevel = derivation {
      name = "nixos-system-${name}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      # A long log first: the report must show its end, where the reason is.
      args = [ "-c" "i=0; while [ $i -lt 2000 ]; do echo \"filler line $i of a long build log\"; i=$((i+1)); done; echo '${name}: this configuration fails to build on purpose (lab fixture)' >&2; exit 1" ];
    };
  };

  mkBrokenEval = name: {
    config.system.build.toplevel =
      throw "${name}: this configuration fails to evaluate on purpose (lab fixture)";
  };
}
