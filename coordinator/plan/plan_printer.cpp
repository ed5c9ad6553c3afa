// SPDX-License-Identifier: MIT
#include "coordinator/plan/plan_printer.hpp"

#include <algorithm>
#include <array>

namespace fleet::coordinator {

namespace {

std::string location_name(const Assignment& assignment) {
  switch (assignment.location) {
  case Location::self:
    return "self";
  case Location::none:
    return "none";
  case Location::builder:
    break;
  }
  return assignment.builder;
}

// "2/3"; "mem" when only the builder's agent can tell (from its MemAvailable at run time).
std::string batch_text(const Assignment& assignment) {
  if (assignment.location == Location::none) {
    return "-";
  }
  if (assignment.batch == 0) {
    return "mem";
  }
  return std::to_string(assignment.batch) + "/" + std::to_string(assignment.batches);
}

// Display width in code points, so names or reasons with "…" or accents still line up.
std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

std::string format_plan_text(const DeployPlan& plan) {
  using Row = std::array<std::string, 7>;
  std::vector<Row> rows{{"NODE", "SYSTEM", "SITE", "BUILDS-ON", "BATCH", "EVALUATORS", "REASON"}};
  for (const auto& a : plan.assignments) {
    rows.push_back({a.node, a.system, a.site.empty() ? "-" : a.site, location_name(a), batch_text(a),
                    a.location == Location::none ? "-" : std::to_string(a.workers), a.reason});
  }
  std::array<std::size_t, 6> widths{};
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
    out += row[6];
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
    nlohmann::json batch = nullptr;
    nlohmann::json batches = nullptr;
    if (assignment.batch > 0) {
      batch = assignment.batch;
      batches = assignment.batches;
    }
    nodes[assignment.node] = {{"location", location_name(assignment)},
                              {"system", assignment.system},
                              {"site", assignment.site.empty() ? nlohmann::json(nullptr) : nlohmann::json(assignment.site)},
                              {"batch", batch},
                              {"batches", batches},
                              {"workers", assignment.location == Location::none ? nlohmann::json(nullptr) : nlohmann::json(assignment.workers)},
                              {"reason", assignment.reason}};
  }
  return {{"nodes", nodes}, {"builders", plan.builders_used()}};
}

}  // namespace fleet::coordinator
