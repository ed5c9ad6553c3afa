# SPDX-License-Identifier: MIT
# The part of an evaluation that every host of one nix process shares: nix evaluates an imported
# file once per process, so importing this from every host's configuration costs it once.
import ./eval-work.nix "lab-nixpkgs" (import ../eval-cost.nix).shared
