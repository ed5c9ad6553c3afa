// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

namespace fleet::coordinator {

// Where a node's system is built: on the node itself or on a build node.
enum class Location { self, builder };

// Who builds one node, and why, in words a person can check.
struct Assignment {
  std::string node;
  std::string system;
  Location location = Location::self;
  std::string builder;  // set when location == builder
  std::string reason;

  bool operator==(const Assignment&) const = default;
};

// The delegation plan: plain data that `fleet plan` prints and the orchestrator executes.
struct DeployPlan {
  std::vector<Assignment> assignments;  // in node order

  // The builders with at least one assignment, sorted by name.
  std::vector<std::string> builders_used() const;
  // The nodes `builder` builds, in node order.
  std::vector<std::string> nodes_built_by(const std::string& builder) const;
};

}  // namespace fleet::coordinator
