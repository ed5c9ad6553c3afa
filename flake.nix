# SPDX-License-Identifier: MIT
{
  description = "fleet: deploy NixOS fleets through build nodes from a laptop without Nix";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        fleet = pkgs.callPackage ./nix/package.nix { };
        default = fleet;
      });

      checks = forAllSystems (pkgs: { fleet = self.packages.${pkgs.system}.fleet; });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell { inputsFrom = [ self.packages.${pkgs.system}.fleet ]; };
      });
    };
}
