// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

namespace fleet::coordinator {

// What --update-inputs may change in flake.lock. The new lock comes from one build node and is
// then built everywhere, so it is checked against the source's lock (`old_lock`, empty when there
// was none) and flake.nix (`flake_nix`, its text): each direct input the source locked keeps its
// place in the root's inputs, its `original` and every field of `locked` but rev, narHash,
// lastModified and revCount; an input that is new, or whose `original` differs because flake.nix
// was edited, must be named in flake.nix and locked as its `original` says. Returns one line per
// direct input that moved or is new ("nixpkgs: github:NixOS/nixpkgs 1a2b3c4d5e6f → 5e6f7a8b9c0d"),
// in name order. Throws ProtocolError naming the input and the field otherwise, or when the new
// lock is not a flake.lock.
std::vector<std::string> check_lock_update(const std::string& old_lock, const std::string& new_lock,
                                           const std::string& flake_nix);

}  // namespace fleet::coordinator
