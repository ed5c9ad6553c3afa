# SPDX-License-Identifier: MIT
# The lab's fleet. Its hosts run the lab's "NixOS" (lab-nixpkgs/: nixpkgs' lib.evalModules over a
# few NixOS options) whose toplevels are plain /bin/sh derivations, so Debian's nix 2.8 evaluates,
# builds and copies them in seconds (lab.nix). Their inventory is in Nix twice: fleet's
# (`fleet.nodes`, deployment.nix) and a Colmena hive (`colmena` and `colmenaHive`, hive.nix).
{
  description = "fleet lab configurations";

  inputs.nixpkgs-lib.url = "github:nix-community/nixpkgs.lib";

  outputs = { self, nixpkgs-lib, ... }:
    let
      inherit (nixpkgs-lib) lib;
      lab = import ./lab.nix;
      targets = [ "t1" "t2" "t3" "t4" "t5" "st1" "st2" "st3" ];
      # hosts/<name>.nix: the host's knobs (message, failActivation, …; see lab.nix).
      knobs = name: lab.mkHost ({ inherit name; } // import (./hosts + "/${name}.nix"));
      network = import ./network.nix;

      # The lab's NixOS as an initialised nixpkgs, and its lib.nixosSystem.
      nixpkgs = import ./lab-nixpkgs { inherit lib; system = "x86_64-linux"; };
      nixosSystem = args: import (nixpkgs.path + "/nixos/lib/eval-config.nix") ({ inherit lib; } // args);

      # fleet's nix/ (a user's `inputs.fleet`), copied to fleet-nix/ by scripts/lab.
      fleetFile = file:
        let path = ./fleet-nix + "/${file}"; in
        if builtins.pathExists path then path
        else throw "lab-fleet: fleet-nix/${file} is missing; use the copy that `scripts/lab up` writes (FLEET_LAB_DIR/fleet), which has it";
      fleet = {
        nixosModules.deployment = fleetFile "deployment-module.nix";
        lib.inventory = import (fleetFile "inventory.nix");
      };

      # colmena.lib.makeHive, with Colmena's evaluator vendored in colmena/.
      makeHive = rawHive: import ./colmena/eval.nix {
        inherit rawHive;
        colmenaOptions = import ./colmena/options.nix;
        colmenaModules = import ./colmena/modules.nix;
        hermetic = true;
      };
    in
    {
      nixosConfigurations = lib.genAttrs targets (name: nixosSystem {
        system = "x86_64-linux";
        specialArgs = { inherit name network; nodes = self.nixosConfigurations; };
        modules = [ fleet.nixosModules.deployment ./configuration.nix (knobs name) ./deployment.nix ];
      }) // {
        # Fixtures for failure paths.
        broken-build = lab.mkBrokenBuild "broken-build";
        broken-eval = lab.mkBrokenEval "broken-eval";
      };

      # fleet.json's "nodes", for a fleet.json with "inventory": "fleet".
      fleet.nodes = fleet.lib.inventory (lib.getAttrs targets self.nixosConfigurations);

      colmena = import ./hive.nix { inherit nixpkgs network knobs; };
      colmenaHive = makeHive self.colmena;
    };
}
