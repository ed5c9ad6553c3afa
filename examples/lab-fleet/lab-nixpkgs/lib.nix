# SPDX-License-Identifier: MIT
# nixpkgs' lib for nixos/lib/eval-config.nix when its caller passes none (Colmena does not):
# nixpkgs' own finds it at ../../lib; the lab's is the nixpkgs-lib input of the flake's lock,
# fetched by its locked attributes as the flake's inputs are, so it is the same store path.
let
  lock = builtins.fromJSON (builtins.readFile ../flake.lock);
  locked = lock.nodes.nixpkgs-lib.locked or
    (throw "lab-nixpkgs: ../flake.lock has no locked input nixpkgs-lib");
in
import ((builtins.fetchTree locked) + "/lib")
