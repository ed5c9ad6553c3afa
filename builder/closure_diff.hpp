// SPDX-License-Identifier: MIT
#pragma once

#include "builder/nix_cli.hpp"

#include <cstddef>
#include <string>

namespace fleet::builder {

// Longest closure difference an activation event carries, in bytes; longer ones are cut.
inline constexpr std::size_t k_max_closure_diff = 16 * 1024;

// The store path a profile (such as /nix/var/nix/profiles/system) points to now, following its
// generation link; empty when the profile does not exist yet (a first deployment).
std::string profile_store_path(const std::string& profile);

// What changed between two system closures, as `nix store diff-closures BEFORE AFTER` prints it
// (package names, versions and size changes), cut at k_max_closure_diff bytes. Empty when
// `before` is empty or equals `after`; a one-line note when nix cannot tell. Never throws.
std::string diff_closures(const NixCli& nix, const std::string& before, const std::string& after);

}  // namespace fleet::builder
