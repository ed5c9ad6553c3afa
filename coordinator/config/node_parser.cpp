// SPDX-License-Identifier: MIT
#include "coordinator/config/node_parser.hpp"

#include "coordinator/config/config_reader.hpp"
#include "coordinator/config/value_checks.hpp"

#include <algorithm>
#include <cmath>

namespace fleet::coordinator {

using nlohmann::json;

namespace {

void check(const ObjectReader& reader, const std::string& key, const std::optional<Problem>& problem) {
  if (problem) {
    reader.fail(key, problem->problem, problem->fix);
  }
}

std::vector<std::string> builder_names(const std::map<std::string, BuilderSpec>& builders) {
  std::vector<std::string> names;
  for (const auto& [name, unused] : builders) {
    names.push_back(name);
  }
  return names;
}

SecretSpec parse_secret(const std::string& file, const std::string& path, const std::string& name, const json& value) {
  ObjectReader reader(file, value, path, {"file", "dest", "owner", "group", "mode", "when", "required"});
  SecretSpec secret;
  secret.name = name;
  secret.file = reader.required_string("file", "\"secrets/" + name + ".age\"");
  if (secret.file.empty()) {
    reader.fail("file", "file is empty", "give the encrypted file, e.g. \"secrets/" + name + ".age\"");
  }
  secret.dest = reader.required_string("dest", "\"/run/keys/" + name + "\"");
  check(reader, "dest", check_dest(secret.dest));
  secret.owner = reader.string("owner").value_or(secret.owner);
  check(reader, "owner", check_owner(secret.owner));
  secret.group = reader.string("group").value_or(secret.group);
  check(reader, "group", check_owner(secret.group));
  secret.mode = reader.string("mode").value_or(secret.mode);
  check(reader, "mode", check_mode(secret.mode));
  secret.when = reader.string("when").value_or(secret.when);
  check(reader, "when", check_when(secret.when));
  secret.required = reader.boolean("required").value_or(secret.required);
  return secret;
}

void check_seconds(const ObjectReader& reader, const std::string& key, bool allow_zero) {
  if (auto value = reader.number(key); value && (*value < 0 || (!allow_zero && *value == 0))) {
    reader.fail(key, json(*value).dump() + " seconds is not " + (allow_zero ? "zero or more" : "more than zero"),
                "give a number of seconds, e.g. 30");
  }
}

HealthCheckSpec parse_health_check(const std::string& file, const std::string& path, const json& value) {
  if (!value.is_object()) {
    fail_config(file, path, "expected an object, got " + describe_json(value),
                "write it as { \"type\": \"command\", \"command\": \"…\" }");
  }
  const std::vector<std::string> types = {"command", "tcp", "http", "systemd", "system-running"};
  if (!value.contains("type")) {
    fail_config(file, path + ".type", "missing required key 'type'", "add \"type\": one of " + join_names(types));
  }
  if (!value.at("type").is_string()) {
    fail_config(file, path + ".type", "expected a string, got " + describe_json(value.at("type")),
                "put the value in double quotes");
  }
  std::string type = value.at("type").get<std::string>();
  std::vector<std::string> known = {"type", "retries", "interval", "timeout"};
  if (type == "command") {
    known.push_back("command");
  } else if (type == "tcp") {
    known.insert(known.end(), {"port", "host"});
  } else if (type == "http") {
    known.insert(known.end(), {"url", "status"});
  } else if (type == "systemd") {
    known = {"type", "retries", "interval", "units"};
  } else if (type != "system-running") {
    fail_config(file, path + ".type", "'" + type + "' is not a health check type", "use " + join_names(types));
  }
  ObjectReader reader(file, value, path, known);
  if (type == "command" && reader.required_string("command", "\"systemctl is-active nginx\"").empty()) {
    reader.fail("command", "command is empty", "give a shell command that exits 0 when the node is healthy");
  }
  if (type == "tcp") {
    auto port = reader.integer("port");
    if (!port) {
      reader.fail("port", "missing required key 'port'", "add \"port\": 22");
    }
    check(reader, "port", check_port(*port));
    if (auto host = reader.string("host")) {
      check(reader, "host", check_host(*host));
    }
  }
  if (type == "http") {
    std::string url = reader.required_string("url", "\"http://localhost/\"");
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      reader.fail("url", "'" + url + "' is not an http(s) URL", "write it as \"http://host[:port]/path\"");
    }
    if (auto status = reader.integer("status"); status && (*status < 100 || *status > 599)) {
      reader.fail("status", std::to_string(*status) + " is not an HTTP status", "use a status from 100 to 599, e.g. 200");
    }
  }
  if (type == "systemd") {
    auto units = reader.strings("units");
    if (!units || units->empty()) {
      reader.fail("units", "systemd checks need at least one unit", "add \"units\": [\"nginx.service\"]");
    }
  }
  check_seconds(reader, "timeout", false);
  check_seconds(reader, "interval", true);
  if (auto retries = reader.integer("retries"); retries && *retries < 0) {
    reader.fail("retries", "retries must be zero or more", "give a count such as 3");
  }
  json params = value;
  params.erase("type");
  return {type, params};
}

bool can_build(const BuilderSpec& builder, const std::string& system) {
  return std::find(builder.systems.begin(), builder.systems.end(), system) != builder.systems.end();
}

// The planner would fail later on these; failing here names the key and keeps `fleet plan` honest.
void check_buildable(const std::string& file, const std::string& path, const FleetConfig& config, const NodeSpec& node) {
  if (node.build == BuildMode::pinned) {
    const BuilderSpec& builder = config.builders.at(node.pinned_builder);
    if (!can_build(builder, node.system)) {
      fail_config(file, path + ".build", "builder '" + builder.name + "' does not build " + node.system,
                  "add \"" + node.system + "\" to builders." + builder.name + ".systems or pin another builder");
    }
    return;
  }
  bool may_build_itself = node.build == BuildMode::self || (node.build == BuildMode::automatic && !node.low_power);
  bool builder_exists = std::any_of(config.builders.begin(), config.builders.end(),
                                    [&](const auto& entry) { return can_build(entry.second, node.system); });
  if (!may_build_itself && !builder_exists) {
    std::string why = node.build == BuildMode::delegate ? "it has \"build\": \"delegate\"" : "it is lowPower";
    fail_config(file, path + ".system",
                "no builder builds " + node.system + " and the node may not build itself (" + why + ")",
                "add \"" + node.system + "\" to a builder's systems, or set \"build\": \"self\"");
  }
}

}  // namespace

void parse_build_mode(const std::string& file, const std::string& path, const std::string& value,
                      const std::map<std::string, BuilderSpec>& builders, NodeSpec& node) {
  node.pinned_builder.clear();
  if (value == "self") {
    node.build = BuildMode::self;
  } else if (value == "delegate") {
    node.build = BuildMode::delegate;
  } else if (value == "auto") {
    node.build = BuildMode::automatic;
  } else if (builders.count(value) != 0) {
    node.build = BuildMode::pinned;
    node.pinned_builder = value;
  } else {
    std::string names = builders.empty() ? "none defined" : join_names(builder_names(builders));
    fail_config(file, path, "'" + value + "' is not a build mode",
                "use self, delegate, auto or a builder name (" + names + ")");
  }
}

NodeSpec parse_node(const std::string& file, const std::string& nodes_path, const std::string& name,
                    const json& json_node, const FleetConfig& config) {
  const NodeDefaults& defaults = config.defaults;
  const auto& builders = config.builders;
  std::string path = json_path(nodes_path, name);
  if (auto problem = check_name("node", name)) {
    fail_config(file, path, problem->problem, problem->fix);
  }
  ObjectReader reader(file, json_node, path,
                      {"host", "user", "port", "system", "tags", "build", "lowPower", "site", "hostKey", "action",
                       "secrets", "healthChecks", "hooks", "rollbackOnHookFailure", "confirmTimeout", "substituteOnTarget"});
  NodeSpec node;
  node.name = name;
  node.host = reader.string("host").value_or(name);
  check(reader, "host", check_host(node.host));
  if (auto user = reader.string("user")) {
    check(reader, "user", check_user(*user));
    node.user = *user;
  } else {
    node.user = defaults.user.value_or("");
  }
  if (auto port = reader.integer("port")) {
    check(reader, "port", check_port(*port));
    node.port = static_cast<int>(*port);
  } else {
    node.port = defaults.port.value_or(0);
  }
  node.system = reader.string("system").value_or(node.system);
  check(reader, "system", check_system(node.system));
  for (const auto& tag : reader.strings("tags").value_or(std::vector<std::string>{})) {
    check(reader, "tags", check_name("tag", tag));
    if (std::find(node.tags.begin(), node.tags.end(), tag) == node.tags.end()) {
      node.tags.push_back(tag);
    }
  }
  if (auto build = reader.string("build")) {
    parse_build_mode(file, reader.path("build"), *build, builders, node);
  } else if (defaults.build) {
    parse_build_mode(file, "defaults.build", *defaults.build, builders, node);
  }
  node.low_power = reader.boolean("lowPower").value_or(false);
  node.substitute_on_target = reader.boolean("substituteOnTarget").value_or(defaults.substitute_on_target.value_or(false));
  node.site = reader.string("site").value_or("");
  if (!node.site.empty()) {
    check(reader, "site", check_name("site", node.site));
  }
  if (auto key = reader.string("hostKey")) {
    check(reader, "hostKey", check_host_key(*key));
    node.host_key = *key;
  }
  if (auto action = reader.string("action")) {
    check(reader, "action", check_action(*action));
    node.action = protocol::parse_action(*action);
  } else {
    node.action = defaults.action;
  }
  if (const json* secrets = reader.object("secrets")) {
    for (const auto& [secret_name, secret] : secrets->items()) {
      std::string secret_path = json_path(reader.path("secrets"), secret_name);
      if (auto problem = check_name("secret", secret_name)) {
        fail_config(file, secret_path, problem->problem, problem->fix);
      }
      node.secrets.push_back(parse_secret(file, secret_path, secret_name, secret));
    }
  }
  if (const json* checks = reader.array("healthChecks")) {
    for (std::size_t i = 0; i < checks->size(); ++i) {
      node.health_checks.push_back(
          parse_health_check(file, reader.path("healthChecks") + "[" + std::to_string(i) + "]", (*checks)[i]));
    }
  }
  if (const json* hooks = reader.object("hooks")) {
    ObjectReader hook_reader(file, *hooks, reader.path("hooks"), {"preActivate", "postActivate", "timeout"});
    node.pre_activate_hook = hook_reader.string("preActivate").value_or("");
    node.post_activate_hook = hook_reader.string("postActivate").value_or("");
    check_seconds(hook_reader, "timeout", false);
    node.hook_timeout = static_cast<int>(std::ceil(hook_reader.number("timeout").value_or(node.hook_timeout)));
  }
  node.rollback_on_hook_failure = reader.boolean("rollbackOnHookFailure").value_or(false);
  check_seconds(reader, "confirmTimeout", false);
  node.confirm_timeout = static_cast<int>(std::ceil(reader.number("confirmTimeout").value_or(node.confirm_timeout)));
  return node;
}

void add_node(FleetConfig& config, const std::string& file, const std::string& nodes_path, const std::string& name,
              const json& json_node) {
  NodeSpec node = parse_node(file, nodes_path, name, json_node, config);
  const std::string path = json_path(nodes_path, name);
  check_buildable(file, path, config, node);
  // Secrets travel inside the source tarball, so their files must lie inside the source.
  const auto dir = config.file.parent_path();
  for (const auto& secret : node.secrets) {
    if (!is_inside(resolved_path(dir / secret.file), config.source_dir)) {
      fail_config(file, json_path(json_path(json_path(path, "secrets"), secret.name), "file"),
                  "'" + secret.file + "' is outside the source directory " + config.source_dir.string() +
                      ", so it would not reach the target",
                  "move the file under the source directory (e.g. into secrets/) or widen \"source\"");
    }
  }
  config.nodes[name] = std::move(node);
}

}  // namespace fleet::coordinator
