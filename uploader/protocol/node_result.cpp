// SPDX-License-Identifier: MIT
#include "uploader/protocol/node_result.hpp"

#include <array>
#include <utility>

namespace fleet::protocol {
namespace {

constexpr std::array<std::pair<NodeResult, std::string_view>, 4> k_names{{
    {NodeResult::ok, "ok"},
    {NodeResult::failed, "failed"},
    {NodeResult::rolled_back, "rolled-back"},
    {NodeResult::skipped, "skipped"},
}};

}  // namespace

std::string_view to_string(NodeResult result) {
  for (const auto& [value, name] : k_names) {
    if (value == result) {
      return name;
    }
  }
  return "skipped";
}

std::optional<NodeResult> parse_node_result(std::string_view text) {
  for (const auto& [value, name] : k_names) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace fleet::protocol
