# What evaluating a lab host costs, standing in for a real NixOS evaluation (scripts/bench-deploy
# rewrites this file): `shared` is evaluated once per nix process whatever it evaluates, as
# nixpkgs' own files and lib are; `perHost` for each host, as its module system and package set
# are. Both count thousands of attributes forced to JSON, each thousand costing nix 2.8 about
# 1 MB of memory and 6 to 11 ms of CPU. 0 makes evaluation free, as the tests want it.
{
  shared = 0;
  perHost = 0;
}
