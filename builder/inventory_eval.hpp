// SPDX-License-Identifier: MIT
#pragma once

#include "builder/build_command.hpp"
#include "builder/nix_cli.hpp"
#include "uploader/protocol/inventory.hpp"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace fleet::builder {

// The nix function applied to protocol::inventory_attribute(kind): fleet's nodes are read as they are; of a Colmena hive, each
// node's {deployment, system}: its deploymentConfig with the keys' names only (their contents are
// plaintext secrets and never leave this host) and its nixpkgs.hostPlatform or nixpkgs.system.
std::string inventory_apply(protocol::InventoryKind kind);

// `fleet-builder inventory --hash H --flake DIR --kind K`: evaluates the inventory of the flake
// DIR in the received source H with `nix eval --json` and prints {"inventory": <value>} as one
// line. When it fails, the first node that fails alone is named with nix's message for it. The
// evaluation is killed after `timeout_seconds` and may use at most `memory_limit_mb`
// of data (nullopt: no bound), so a runaway evaluation fails on its own instead of starving the
// build node. Throws ProtocolError for malformed arguments, NodeError when the source is not here,
// ConfigError (exit 2) when nix fails, quoting nix's message, which names the attribute path.
void run_inventory(const std::string& hash, const std::string& flake, protocol::InventoryKind kind, const NixCli& nix,
                   int timeout_seconds, std::optional<std::uint64_t> memory_limit_mb, const AgentPaths& paths,
                   std::ostream& out);

}  // namespace fleet::builder
