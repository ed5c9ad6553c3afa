// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/inventory_merge.hpp"
#include "coordinator/run/agent_link.hpp"
#include "uploader/protocol/inventory.hpp"
#include "uploader/tarball/tarball_writer.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace fleet::coordinator {

// An inventory as `fleet-builder inventory` printed it, and where it came from.
struct FetchedInventory {
  nlohmann::json value;
  std::string builder;   // the builder that evaluated it
  double seconds = 0;    // how long that took: connecting, sending the source, evaluating
  bool from_cache = false;
  std::optional<TransferRecord> sent;  // the source sent for it (none from the cache)
};

// The inventory of `kind` that the flake of `config` declares in the source `packed`. From the
// laptop's cache (`cache_dir`, one file per source hash and kind; empty: no cache) when that source was evaluated
// before, so nothing is contacted; otherwise the source goes to the first builder that can be
// reached (fastest first, then by name), which evaluates it and keeps the source for the run,
// and the result is cached. `say` hears which builder evaluates and why one was passed over.
// Throws InventoryError when the flake does not evaluate, NodeError naming each builder's
// problem when none could be used.
FetchedInventory fetch_inventory(const FleetConfig& config, protocol::InventoryKind kind,
                                 const tarball::PackedTarball& packed, const transfer::BaseLookup& earlier_tar,
                                 const AgentLinkFactory& links, const std::filesystem::path& cache_dir,
                                 const std::function<void(const std::string&)>& say);

// The fetched value read as fleet's nodes (fleet.nodes) or a Colmena hive, for merge_inventory.
// Throws ConfigError naming the flake and the attribute path when it is not the expected shape.
DeclaredInventory declared_inventory(const FleetConfig& config, protocol::InventoryKind kind,
                                     const nlohmann::json& value);

// <tarball cache dir>/inventory: where fetch_inventory keeps what it fetched.
std::filesystem::path default_inventory_cache_dir();

}  // namespace fleet::coordinator
