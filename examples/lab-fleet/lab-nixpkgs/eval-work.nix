# SPDX-License-Identifier: MIT
# Evaluation work of a given size (see ../eval-cost.nix): the JSON of `thousands` × 1000
# attributes named after `tag`, each holding a hash. Forcing the string does the work; what the
# attributes took is garbage afterwards, so hosts evaluated one after another in one process peak
# little higher than one alone (a real NixOS evaluation keeps more of what it computed).
tag: thousands:
builtins.toJSON (builtins.listToAttrs (builtins.genList
  (i: { name = "${tag}-${toString i}"; value = builtins.hashString "sha256" "${tag}${toString i}"; })
  (thousands * 1000)))
