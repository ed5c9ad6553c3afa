// SPDX-License-Identifier: MIT
#include "uploader/protocol/node_result.hpp"

#include "uploader/base/enum_names.hpp"

namespace fleet::protocol {
namespace {

constexpr EnumNames<NodeResult, 4> k_names{{{
    {NodeResult::ok, "ok"},
    {NodeResult::failed, "failed"},
    {NodeResult::rolled_back, "rolled-back"},
    {NodeResult::skipped, "skipped"},
}}};

}  // namespace

std::string_view to_string(NodeResult result) { return k_names.name(result); }

std::optional<NodeResult> parse_node_result(std::string_view text) { return k_names.parse(text); }

}  // namespace fleet::protocol
