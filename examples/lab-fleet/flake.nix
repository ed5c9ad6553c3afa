# SPDX-License-Identifier: MIT
# The lab's "NixOS" fleet: toplevels are plain derivations built with /bin/sh (no nixpkgs, no
# inputs), so Debian's nix 2.8 evaluates, builds and copies them in seconds. See lab.nix.
{
  description = "fleet lab configurations";

  outputs = { self }:
    let
      lab = import ./lab.nix;
      targets = [ "t1" "t2" "t3" "t4" "t5" "st1" "st2" "st3" ];
      fromFile = name: lab.mkHost ({ inherit name; } // import (./hosts + "/${name}.nix"));
    in
    {
      nixosConfigurations = builtins.listToAttrs (map (name: { inherit name; value = fromFile name; }) targets) // {
        # Fixtures for failure paths.
        broken-build = lab.mkBrokenBuild "broken-build";
        broken-eval = lab.mkBrokenEval "broken-eval";
      };
    };
}
