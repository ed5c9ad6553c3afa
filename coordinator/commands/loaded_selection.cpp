// SPDX-License-Identifier: MIT
#include "coordinator/commands/loaded_selection.hpp"

#include "coordinator/config/selector.hpp"
#include "coordinator/plan/delegation_planner.hpp"
#include "coordinator/run/flake_inventory.hpp"
#include "coordinator/run/ssh_agent_link.hpp"
#include "uploader/tarball/source_set.hpp"

#include <cstdio>
#include <iostream>

namespace fleet::coordinator {
namespace {

void say(const std::string& text) {
  std::cerr << "fleet: " << text << '\n';
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

std::filesystem::path inventory_cache_dir() {
  try {
    return default_inventory_cache_dir();
  } catch (const Error& e) {
    say(std::string("warning: the inventory is not cached: ") + e.what());
    return {};
  }
}

}  // namespace

PackOutcome pack_config_source(const FleetConfig& config, const std::function<void(const std::string&)>& warn) {
  return pack_with_default_cache(tarball::collect_sources(config.source_dir, config.exclude), warn);
}

FetchedInventory fetch_config_inventory(const FleetConfig& config, protocol::InventoryKind kind,
                                        const tarball::PackedTarball& packed) {
  ssh::SshOptions ssh;
  ssh.connect_timeout_seconds = config.run.timeouts.connect;
  auto fetched = fetch_inventory(config, kind, packed, cached_tar, ssh_agent_links(ssh), inventory_cache_dir(), say);
  say("inventory " + protocol::inventory_attribute(kind) + " of source " + packed.content_hash.substr(0, 12) +
      (fetched.from_cache ? ": unchanged, from the cache (evaluated on " + fetched.builder + " in " +
                                seconds_text(fetched.seconds) + ")"
                          : ": evaluated on " + fetched.builder + " in " + seconds_text(fetched.seconds)));
  return fetched;
}

namespace {

// Merges the flake's inventory in the source `packed` into `config`; returns the upload its
// evaluation needed, if any.
std::optional<TransferRecord> add_inventory(FleetConfig& config, const tarball::PackedTarball& packed) {
  auto fetched = fetch_config_inventory(config, *config.inventory, packed);
  auto declared = declared_inventory(config, *config.inventory, fetched.value);
  merge_inventory(config, declared);
  for (const auto& [name, why] : config.refused_nodes) {
    say(name + " of " + declared.path + " is not deployed: " + why);
  }
  for (const auto& note : declared.notes) {
    say(note);
  }
  return fetched.sent;
}

}  // namespace

LoadedSelection load_selection(const SelectionOptions& options) {
  auto file = options.config_file.empty() ? find_fleet_config(std::filesystem::current_path())
                                          : std::filesystem::path(options.config_file);
  LoadedSelection loaded{load_fleet_config(file), {}, {}, {}, {}};
  if (loaded.config.inventory) {
    loaded.pack = pack_config_source(loaded.config, say);
    loaded.inventory_upload = add_inventory(loaded.config, loaded.pack->packed);
  }
  loaded.nodes = select_nodes(loaded.config, options.on);
  loaded.plan = plan_deployment(loaded.config, loaded.nodes);
  return loaded;
}

}  // namespace fleet::coordinator
