# SPDX-License-Identifier: MIT
# Test-only: examples/lab-fleet's eval-config with the lib tests/nix/run passes in (as the hive's
# special argument testLib). The example's own finds its lib through the flake's lock, which a
# plain nix-instantiate cannot fetch.
args@{ specialArgs, ... }:
import ../../../../../examples/lab-fleet/lab-nixpkgs/nixos/lib/eval-config.nix (args // { lib = specialArgs.testLib; })
