# SPDX-License-Identifier: MIT
# The lab's nixos/lib/eval-config.nix: what nixpkgs.lib.nixosSystem and Colmena call, with the
# arguments of nixpkgs' own (system, modules, specialArgs, …) and the lab's NixOS
# (../modules/lab-system.nix) as its base module, evaluated by nixpkgs' lib.evalModules.
{ system ? null
, modules
, specialArgs ? { }
, baseModules ? [ ../modules/lab-system.nix ]
, extraModules ? [ ]
, prefix ? [ ]
, check ? true
, lib ? import ../../lib.nix
, ...
}:
lib.evalModules {
  inherit prefix;
  class = "nixos";
  specialArgs = { modulesPath = toString ../modules; } // specialArgs;
  modules = baseModules ++ extraModules ++ modules ++ [
    { _module.check = lib.mkDefault check; }
  ] ++ lib.optional (system != null) { nixpkgs.system = lib.mkDefault system; };
}
