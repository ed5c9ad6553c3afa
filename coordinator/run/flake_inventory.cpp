// SPDX-License-Identifier: MIT
#include "coordinator/run/flake_inventory.hpp"

#include "coordinator/cache/tarball_cache.hpp"
#include "coordinator/config/colmena_hive.hpp"
#include "coordinator/run/agent_check.hpp"
#include "coordinator/run/build_location.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/json_document.hpp"
#include "uploader/ssh/ssh_error.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

namespace fleet::coordinator {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// How many evaluated sources the cache keeps: enough to go back and forth between branches.
constexpr std::size_t k_kept_inventories = 32;

fs::path cache_file(const fs::path& dir, const std::string& hash, protocol::InventoryKind kind) {
  return dir / (hash + "-" + protocol::to_string(kind) + ".json");
}

// A cached inventory is used only when it is well formed and for the same flake; anything else
// (a torn write, another fleet's file) is a miss and is evaluated again.
std::optional<FetchedInventory> read_cached(const fs::path& file, const std::string& flake) {
  auto text = read_whole_file(file);
  if (!text) {
    return std::nullopt;
  }
  auto cached = protocol::parse_json(*text);
  if (!cached.is_object() || cached.value("flake", json()) != flake || !cached.contains("inventory") ||
      !cached.value("builder", json()).is_string() || !cached.value("seconds", json()).is_number()) {
    return std::nullopt;
  }
  touch_file(file);
  return FetchedInventory{cached["inventory"], cached["builder"].get<std::string>(), cached["seconds"].get<double>(), true, std::nullopt};
}

void write_cached(const fs::path& dir, const fs::path& file, const std::string& flake, const FetchedInventory& fetched,
                  const std::function<void(const std::string&)>& say) {
  try {
    json cached = {{"flake", flake}, {"builder", fetched.builder}, {"seconds", fetched.seconds}, {"inventory", fetched.value}};
    write_file_atomically(file, cached.dump());
    std::vector<fs::directory_entry> entries;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".json") {
        entries.push_back(entry);
      }
    }
    if (entries.size() > k_kept_inventories) {
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.last_write_time() > b.last_write_time(); });
      for (std::size_t i = k_kept_inventories; i < entries.size(); ++i) {
        fs::remove(entries[i].path());
      }
    }
  } catch (const std::exception& e) {
    say("warning: cannot cache the inventory in " + dir.string() + ": " + e.what());
  }
}

std::vector<const BuilderSpec*> builders_fastest_first(const FleetConfig& config) {
  std::vector<const BuilderSpec*> builders;
  for (const auto& [name, builder] : config.builders) {
    builders.push_back(&builder);
  }
  std::stable_sort(builders.begin(), builders.end(), [](const auto* a, const auto* b) { return a->speed > b->speed; });
  return builders;
}

}  // namespace

fs::path default_inventory_cache_dir() {
  return TarballCache::default_dir() / "inventory";
}

FetchedInventory fetch_inventory(const FleetConfig& config, protocol::InventoryKind kind,
                                 const tarball::PackedTarball& packed, const transfer::BaseLookup& earlier_tar,
                                 const AgentLinkFactory& links, const fs::path& cache_dir,
                                 const std::function<void(const std::string&)>& say) {
  const fs::path file = cache_dir.empty() ? fs::path() : cache_file(cache_dir, packed.content_hash, kind);
  if (auto cached = file.empty() ? std::nullopt : read_cached(file, config.flake)) {
    return *cached;
  }
  std::string problems;
  for (const BuilderSpec* builder : builders_fastest_first(config)) {
    const auto started = std::chrono::steady_clock::now();
    auto link = links(builder_location(config, *builder));
    try {
      link->connect([&](const std::string& note) { say("reaching " + builder->name + ": " + note); });
      check_agent_version(link->version(), builder->name);
      say("evaluating the inventory on " + builder->name + " (source " + packed.content_hash.substr(0, 12) + ")");
      transfer::PayloadCache payloads(transfer::HeldSource(packed.content_hash, std::nullopt, packed.compressed),
                                      earlier_tar);
      TransferRecord sent = link->upload(payloads);
      sent.note = "for the inventory";
      FetchedInventory fetched;
      fetched.value = link->inventory(packed.content_hash, config.flake, kind, config.nix_options);
      fetched.builder = builder->name;
      fetched.sent = sent;
      fetched.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (!file.empty()) {
        write_cached(cache_dir, file, config.flake, fetched, say);
      }
      return fetched;
    } catch (const InventoryError&) {
      throw;
    } catch (const Error& e) {
      say("cannot evaluate the inventory on " + builder->name + ": " + e.what());
      problems += "\n  " + builder->name + ": " + e.what();
    }
  }
  throw NodeError("no builder could evaluate the inventory:" + problems);
}

DeclaredInventory declared_inventory(const FleetConfig& config, protocol::InventoryKind kind, const json& value) {
  const std::string file = (config.source_dir / config.flake / "flake.nix").lexically_normal().string();
  if (kind == protocol::InventoryKind::colmena) {
    return from_colmena_hive(value, file);
  }
  DeclaredInventory inventory;
  inventory.file = file;
  inventory.path = protocol::inventory_nodes_path(kind);
  inventory.nodes = value;
  return inventory;
}

}  // namespace fleet::coordinator
