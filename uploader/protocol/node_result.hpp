// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string_view>

namespace fleet::protocol {

// How a node's deployment ended, as run reports and `fleet runs` say it.
enum class NodeResult {
  ok,           // its final phase succeeded and its job ended without failing it
  failed,       // something failed and no rollback was needed, or it could not roll back
  rolled_back,  // activated, then rolled back to the previous generation
  skipped,      // nothing was done to it
};

// "ok", "failed", "rolled-back", "skipped".
std::string_view to_string(NodeResult result);
std::optional<NodeResult> parse_node_result(std::string_view text);

}  // namespace fleet::protocol
