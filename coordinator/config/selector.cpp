// SPDX-License-Identifier: MIT
#include "coordinator/config/selector.hpp"

#include "coordinator/config/config_reader.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <set>

namespace fleet::coordinator {

namespace {

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::vector<std::string> split_terms(const std::string& expression) {
  std::vector<std::string> terms;
  std::size_t start = 0;
  while (start <= expression.size()) {
    auto comma = expression.find(',', start);
    if (comma == std::string::npos) {
      comma = expression.size();
    }
    if (std::string term = trim(expression.substr(start, comma - start)); !term.empty()) {
      terms.push_back(term);
    }
    start = comma + 1;
  }
  return terms;
}

bool is_glob(const std::string& term) { return term.find_first_of("*?[") != std::string::npos; }

[[noreturn]] void no_match(const std::string& term, const std::string& fix) {
  fail_config("--on", "", "'" + term + "' matches no node", fix);
}

}  // namespace

std::vector<std::string> select_nodes(const FleetConfig& config, const std::string& expression) {
  std::vector<std::string> names;
  std::set<std::string> tags;
  for (const auto& [name, node] : config.nodes) {
    names.push_back(name);
    tags.insert(node.tags.begin(), node.tags.end());
  }
  // With an inventory in the flake, the nodes are not all in fleet.json.
  const std::string in = config.inventory ? "" : " in fleet.json";
  std::vector<std::string> terms = split_terms(expression);
  if (terms.empty()) {
    return names;
  }
  std::set<std::string> selected;
  for (const auto& term : terms) {
    bool matched = false;
    if (term.front() == '@') {
      std::string tag = term.substr(1);
      for (const auto& [name, node] : config.nodes) {
        if (std::find(node.tags.begin(), node.tags.end(), tag) != node.tags.end()) {
          selected.insert(name);
          matched = true;
        }
      }
      if (!matched) {
        std::vector<std::string> known(tags.begin(), tags.end());
        std::string fix = known.empty() ? "no node" + in + " has tags" : "tags" + in + ": " + join_names(known);
        if (auto suggestion = closest_match(tag, known)) {
          fix = "did you mean '@" + *suggestion + "'? " + fix;
        }
        no_match(term, fix);
      }
    } else if (is_glob(term)) {
      for (const auto& name : names) {
        if (fnmatch(term.c_str(), name.c_str(), 0) == 0) {
          selected.insert(name);
          matched = true;
        }
      }
      if (!matched) {
        no_match(term, "nodes" + in + ": " + join_names(names));
      }
    } else if (config.nodes.count(term) != 0) {
      selected.insert(term);
      matched = true;
    } else if (auto refused = config.refused_nodes.find(term); refused != config.refused_nodes.end()) {
      fail_config("--on", "", "'" + term + "' is not deployed by fleet: " + refused->second,
                  "select other nodes, or change " + term + " in the flake");
    } else {
      std::string fix = "nodes" + in + ": " + join_names(names);
      if (auto suggestion = closest_match(term, names)) {
        fix = "did you mean '" + *suggestion + "'? " + fix;
      }
      no_match(term, fix);
    }
  }
  return {selected.begin(), selected.end()};
}

}  // namespace fleet::coordinator
