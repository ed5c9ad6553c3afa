// SPDX-License-Identifier: MIT
#include "coordinator/config/colmena_hive.hpp"

#include "coordinator/config/config_reader.hpp"
#include "coordinator/config/value_checks.hpp"
#include "uploader/protocol/inventory.hpp"

#include <map>
#include <vector>

namespace fleet::coordinator {
namespace {

using nlohmann::json;

const std::string k_path = protocol::inventory_nodes_path(protocol::InventoryKind::colmena);

// Colmena options fleet does not carry over, with their Colmena defaults (a value equal to the
// default is not worth a note) and what to do instead.
struct Ignored {
  json default_value;
  std::string instead;
};

const std::map<std::string, Ignored>& ignored_options() {
  static const std::map<std::string, Ignored> options = {
      {"allowLocalDeployment", {false, "fleet deploys over SSH only"}},
      {"replaceUnknownProfiles", {true, "fleet always activates the built generation"}},
      {"privilegeEscalationCommand",
       {json::array({"sudo", "-H", "--"}), "a non-root user gets sudo rules from `fleet-builder sudoers USER`"}},
      {"sshOptions", {json::array(), "put SSH settings in ~/.ssh/config"}},
  };
  return options;
}

// Reads one node's deployment options, failing at their attribute path.
class DeploymentReader {
public:
  DeploymentReader(std::string file, std::string node, const json& deployment)
      : m_file(std::move(file)), m_node(std::move(node)), m_deployment(deployment) {}

  std::string path(const std::string& key) const { return json_path(json_path(k_path, m_node), key); }

  // The value of `key` when it has the JSON type `expected` ("a string"…), nullopt when absent or null.
  const json* get(const std::string& key, bool (json::*is_type)() const, const std::string& expected) const {
    auto it = m_deployment.find(key);
    if (it == m_deployment.end() || it->is_null()) {
      return nullptr;
    }
    if (!((*it).*is_type)()) {
      fail(key, "expected " + expected + " or null, got " + describe_json(*it), "give it " + expected);
    }
    return &*it;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& problem, const std::string& fix) const {
    fail_config(m_file, path(key), problem, fix);
  }

  void check(const std::string& key, const std::optional<Problem>& problem) const {
    if (problem) {
      fail(key, problem->problem, problem->fix);
    }
  }

private:
  std::string m_file, m_node;
  const json& m_deployment;
};

std::string keys_refusal(const std::string& node, const json& keys) {
  std::vector<std::string> names;
  for (const auto& key : keys) {
    names.push_back(key.is_string() ? key.get<std::string>() : key.dump());
  }
  std::string first = names.front();
  return "its deployment.keys (" + join_names(names) +
         ") would be copied as plaintext, which fleet never does; encrypt each one with `fleet secrets encrypt " + first +
         " --for " + node + "` and declare it in deployment.fleet.secrets (or fleet.json nodes." + node +
         ".secrets), then remove deployment.keys";
}

}  // namespace

DeclaredInventory from_colmena_hive(const json& hive, const std::string& file) {
  DeclaredInventory inventory;
  inventory.file = file;
  inventory.path = k_path;
  if (!hive.is_object()) {
    fail_config(file, k_path, "expected an attribute set of nodes, got " + describe_json(hive),
                "make colmenaHive the output of colmena.lib.makeHive");
  }
  std::map<std::string, std::vector<std::string>> noted;  // option → nodes
  for (const auto& [name, entry] : hive.items()) {
    if (!entry.is_object() || !entry.contains("deployment") || !entry["deployment"].is_object()) {
      fail_config(file, json_path(k_path, name), "expected the node's deployment options, got " + describe_json(entry),
                  "make colmenaHive the output of colmena.lib.makeHive");
    }
    const json& deployment = entry["deployment"];
    DeploymentReader reader(file, name, deployment);
    if (const json* keys = reader.get("keys", &json::is_array, "a list of key names"); keys && !keys->empty()) {
      inventory.refused[name] = keys_refusal(name, *keys);
      continue;
    }
    const json* host = reader.get("targetHost", &json::is_string, "a string");
    if (host == nullptr) {
      inventory.refused[name] = "its deployment.targetHost is null, so Colmena deploys it only locally (apply-local), "
                                "which fleet does not do; give it a targetHost to deploy it over SSH";
      continue;
    }
    json node = json::object();
    node["host"] = *host;
    reader.check("targetHost", check_host(host->get<std::string>()));
    if (const json* port = reader.get("targetPort", &json::is_number_integer, "an integer")) {
      reader.check("targetPort", check_port(port->get<long long>()));
      node["port"] = *port;
    }
    if (const json* user = reader.get("targetUser", &json::is_string, "a string")) {
      reader.check("targetUser", check_user(user->get<std::string>()));
      node["user"] = *user;
    }
    if (const json* tags = reader.get("tags", &json::is_array, "a list of strings")) {
      for (const auto& tag : *tags) {
        if (!tag.is_string()) {
          reader.fail("tags", "expected a list of strings, got an element " + describe_json(tag), "quote every tag");
        }
        reader.check("tags", check_name("tag", tag.get<std::string>()));
      }
      if (!tags->empty()) {
        node["tags"] = *tags;
      }
    }
    if (const json* self = reader.get("buildOnTarget", &json::is_boolean, "a boolean"); self && self->get<bool>()) {
      node["build"] = "self";
    }
    if (entry.contains("system") && !entry["system"].is_null()) {
      if (!entry["system"].is_string()) {
        fail_config(file, json_path(json_path(k_path, name), "system"),
                    "expected the node's nixpkgs.hostPlatform.system, got " + describe_json(entry["system"]),
                    "set nixpkgs.hostPlatform to a system string such as \"x86_64-linux\"");
      }
      node["system"] = entry["system"];
    }
    for (const auto& [key, value] : deployment.items()) {
      static const std::vector<std::string> mapped = {"targetHost", "targetPort", "targetUser", "tags", "buildOnTarget", "keys"};
      if (std::find(mapped.begin(), mapped.end(), key) != mapped.end()) {
        continue;
      }
      auto ignored = ignored_options().find(key);
      if (ignored == ignored_options().end() || value != ignored->second.default_value) {
        noted[key].push_back(name);
      }
    }
    inventory.nodes[name] = std::move(node);
  }
  for (const auto& [option, nodes] : noted) {
    auto ignored = ignored_options().find(option);
    inventory.notes.push_back("deployment." + option + " is not carried over (" + join_names(nodes) + ")" +
                              (ignored == ignored_options().end() ? "" : ": " + ignored->second.instead));
  }
  return inventory;
}

}  // namespace fleet::coordinator
