# SPDX-License-Identifier: MIT
# What every lab host is, whichever tool deploys it (fleet: nixosConfigurations in flake.nix;
# Colmena: hive.nix), besides its knobs in hosts/<name>.nix. `name`, the host's name, is a special
# argument under both.
{ name, lib, ... }:
{
  nixpkgs.hostPlatform = "x86_64-linux";
  services.web.enable = lib.elem name [ "t1" "st1" ];
}
