# SPDX-License-Identifier: MIT
# Evaluation work of a given size (see ../eval-cost.nix): the JSON of `thousands` × 1000
# attributes named after `tag`, each holding a hash. Forcing the string does the work; keeping
# it keeps the memory, as an evaluation keeps what it evaluated.
tag: thousands:
builtins.toJSON (builtins.listToAttrs (builtins.genList
  (i: { name = "${tag}-${toString i}"; value = builtins.hashString "sha256" "${tag}${toString i}"; })
  (thousands * 1000)))
