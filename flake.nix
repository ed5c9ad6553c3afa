# SPDX-License-Identifier: MIT
{
  description = "fleet: deploy NixOS fleets through build nodes from a laptop without Nix";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # The modules default to this flake's package for the host's platform.
      withPackage = module: option: { lib, pkgs, ... }: {
        imports = [ module ];
        config.services.${option}.package =
          lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.fleet;
      };
    in
    {
      packages = forAllSystems (pkgs: rec {
        fleet = pkgs.callPackage ./nix/package.nix { };
        default = fleet;
      });

      nixosModules = {
        builder = withPackage ./nix/builder-module.nix "fleet-builder";
        coordinator = withPackage ./nix/coordinator-module.nix "fleet-nightly";
        # deployment.fleet.*: a host's fleet.json keys in its own configuration.
        deployment = ./nix/deployment-module.nix;
      };

      # `fleet.nodes = fleet.lib.inventory self.nixosConfigurations;` with "inventory": "fleet".
      lib.inventory = import ./nix/inventory.nix;

      # Building the package runs the unit tests (doCheck).
      checks = forAllSystems (pkgs: { fleet = self.packages.${pkgs.stdenv.hostPlatform.system}.fleet; });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell { inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.fleet ]; };
      });
    };
}
