// SPDX-License-Identifier: MIT
#include "coordinator/commands/loaded_selection.hpp"

#include "coordinator/config/selector.hpp"
#include "coordinator/plan/delegation_planner.hpp"

namespace fleet::coordinator {

LoadedSelection load_selection(const SelectionOptions& options) {
  auto file = options.config_file.empty() ? find_fleet_config(std::filesystem::current_path())
                                          : std::filesystem::path(options.config_file);
  LoadedSelection loaded{load_fleet_config(file), {}, {}};
  loaded.nodes = select_nodes(loaded.config, options.on);
  loaded.plan = plan_deployment(loaded.config, loaded.nodes);
  return loaded;
}

}  // namespace fleet::coordinator
