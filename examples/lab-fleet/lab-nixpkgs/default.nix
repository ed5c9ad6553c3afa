# SPDX-License-Identifier: MIT
# A stand-in for an initialised nixpkgs (`import nixpkgs { system = …; }`), as far as tools that
# take one use it (Colmena's meta.nixpkgs: lib, path, system, overlays, config). It holds no
# packages: the lab's toplevels need none. `path + "/nixos/lib/eval-config.nix"` evaluates a
# configuration with the lab's NixOS (nixos/modules/lab-system.nix), as nixpkgs' own does.
{ lib, system, overlays ? [ ], config ? { } }:
{
  inherit lib system overlays config;
  path = ./.;
}
