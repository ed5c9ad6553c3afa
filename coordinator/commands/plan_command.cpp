// SPDX-License-Identifier: MIT
#include "coordinator/commands/commands.hpp"
#include "coordinator/commands/loaded_selection.hpp"
#include "coordinator/plan/plan_printer.hpp"

#include <iostream>

namespace fleet::coordinator {

int run_plan_command(const SelectionOptions& options) {
  auto loaded = load_selection(options);
  if (options.json) {
    std::cout << plan_to_json(loaded.plan).dump(2) << '\n';
  } else {
    std::cout << format_plan_text(loaded.plan);
  }
  return 0;
}

}  // namespace fleet::coordinator
