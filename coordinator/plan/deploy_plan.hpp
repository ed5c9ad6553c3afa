// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

namespace fleet::coordinator {

// Where a node's system is built: on the node itself, on a build node, or nowhere (only when
// re-planning around unavailable builders left the node no place; the reason says why).
enum class Location { self, builder, none };

// Who builds one node, and why, in words a person can check.
struct Assignment {
  std::string node;
  std::string system;
  Location location = Location::self;
  std::string builder;  // set when location == builder
  std::string reason;
  std::string site;     // the node's site, empty when it has none
  // The evaluation batch the node is expected in at its location (1-based) out of `batches`;
  // 0 when it cannot be estimated (a builder without memoryMB: its agent sizes batches from
  // its MemAvailable at run time).
  int batch = 1;
  int batches = 1;
  // How many evaluator processes its batch (all its builder's targets when the batch is not
  // known) is shared among: at most the builder's maxJobs; the agent also stops at its CPUs.
  int workers = 1;

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
