// SPDX-License-Identifier: MIT
#include "coordinator/plan/plan_printer.hpp"

#include <algorithm>
#include <array>

namespace fleet::coordinator {

namespace {

std::string location_name(const Assignment& assignment) {
  return assignment.location == Location::self ? "self" : assignment.builder;
}

// Display width in code points, so names or reasons with "…" or accents still line up.
std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

std::string format_plan_text(const DeployPlan& plan) {
  using Row = std::array<std::string, 4>;
  std::vector<Row> rows{{"NODE", "SYSTEM", "BUILDS-ON", "REASON"}};
  for (const auto& assignment : plan.assignments) {
    rows.push_back({assignment.node, assignment.system, location_name(assignment), assignment.reason});
  }
  std::array<std::size_t, 3> widths{};
  for (const auto& row : rows) {
    for (std::size_t column = 0; column < widths.size(); ++column) {
      widths[column] = std::max(widths[column], display_width(row[column]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t column = 0; column < widths.size(); ++column) {
      out += row[column] + std::string(widths[column] - display_width(row[column]) + 2, ' ');
    }
    out += row[3];
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    out += '\n';
  }
  return out;
}

nlohmann::json plan_to_json(const DeployPlan& plan) {
  nlohmann::json nodes = nlohmann::json::object();
  for (const auto& assignment : plan.assignments) {
    nodes[assignment.node] = {
        {"location", location_name(assignment)}, {"system", assignment.system}, {"reason", assignment.reason}};
  }
  return {{"nodes", nodes}, {"builders", plan.builders_used()}};
}

}  // namespace fleet::coordinator
