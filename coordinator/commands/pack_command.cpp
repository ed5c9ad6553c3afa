// SPDX-License-Identifier: MIT
#include "coordinator/cache/pack_cache.hpp"
#include "coordinator/commands/commands.hpp"
#include "coordinator/config/fleet_config.hpp"
#include "coordinator/report/run_report.hpp"
#include "uploader/tarball/source_set.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

namespace fleet::coordinator {

int run_pack_command(const PackOptions& options) {
  auto file = options.config_file.empty() ? find_fleet_config(std::filesystem::current_path())
                                          : std::filesystem::path(options.config_file);
  FleetConfig config = load_fleet_config(file);
  const auto started = std::chrono::steady_clock::now();
  auto sources = tarball::collect_sources(config.source_dir, config.exclude);
  auto warn = [](const std::string& text) { std::cerr << "fleet: " << text << '\n'; };
  PackOutcome outcome = options.no_cache ? PackOutcome{tarball::pack(sources), false}
                                         : pack_with_default_cache(sources, warn);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto& packed = outcome.packed;
  if (options.json) {
    nlohmann::json out = {{"source", config.source_dir.string()},  {"contentHash", packed.content_hash},
                          {"entries", packed.file_count},             {"tarBytes", packed.tar_size},
                          {"compressedBytes", packed.compressed.size()}, {"fromCache", outcome.from_cache},
                          {"seconds", seconds}};
    std::cout << out.dump(2) << '\n';
  } else {
    std::cout << "source   " << config.source_dir.string() << '\n'
              << "hash     " << packed.content_hash << '\n'
              << "entries  " << packed.file_count << '\n'
              << "tar      " << format_bytes(packed.tar_size) << '\n'
              << "tar.zst  " << format_bytes(packed.compressed.size()) << '\n'
              << "packed   " << (outcome.from_cache ? "no: unchanged since the last pack, taken from the cache" : "yes")
              << " (" << static_cast<long long>(seconds * 1000) << " ms)\n";
  }
  return 0;
}

}  // namespace fleet::coordinator
