// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/plan/deploy_plan.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace fleet::coordinator {

// The plan as an aligned table for a person, one line per node and a header:
// "NODE  SYSTEM  SITE  BUILDS-ON  BATCH  REASON" (BATCH "2/3", or "mem" when the builder's agent
// sizes batches from its MemAvailable); lines end without trailing spaces, with a final newline.
std::string format_plan_text(const DeployPlan& plan);

// The plan as `fleet plan --json` prints it:
// {"nodes": {"<node>": {"location": "<builder>"|"self"|"none", "system": …, "site": …|null,
//   "batch": n|null, "batches": n|null, "reason": …}}, "builders": [...]}.
nlohmann::json plan_to_json(const DeployPlan& plan);

}  // namespace fleet::coordinator
