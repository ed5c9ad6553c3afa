// SPDX-License-Identifier: MIT
#include "coordinator/config/fleet_config.hpp"

#include "coordinator/config/config_reader.hpp"
#include "coordinator/config/node_parser.hpp"
#include "coordinator/config/value_checks.hpp"
#include "uploader/base/error.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace fleet::coordinator {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int k_config_version = 1;

void check(const ObjectReader& reader, const std::string& key, const std::optional<Problem>& problem) {
  if (problem) {
    reader.fail(key, problem->problem, problem->fix);
  }
}

// Checked before anything else, so a file written for a newer fleet fails on its version rather
// than on the first key this version does not know.
void check_version(const std::string& file, const json& root) {
  if (!root.is_object()) {
    fail_config(file, "top level", "expected an object, got " + describe_json(root),
                "start the file with { \"version\": 1, … }");
  }
  if (!root.contains("version")) {
    fail_config(file, "version", "missing required key 'version'", "add \"version\": 1");
  }
  const json& version = root.at("version");
  if (!version.is_number_integer() && !version.is_number_unsigned()) {
    fail_config(file, "version", "expected an integer, got " + describe_json(version), "write \"version\": 1");
  }
  if (version.get<long long>() != k_config_version) {
    fail_config(file, "version", "version " + version.dump() + " is not supported (this fleet reads version 1)",
                "write \"version\": 1 or use a newer fleet");
  }
}

// A memory size in MiB: a positive integer small enough that no sum of them overflows.
std::optional<int> memory_mb(const ObjectReader& reader, const std::string& key) {
  auto value = reader.integer(key);
  if (value && (*value < 1 || *value > 16 * 1024 * 1024)) {
    reader.fail(key, std::to_string(*value) + " MiB is out of range", "give MiB between 1 and 16777216, e.g. 1024");
  }
  return value ? std::optional<int>(static_cast<int>(*value)) : std::nullopt;
}

BuilderSpec parse_builder(const std::string& file, const std::string& name, const json& value,
                          const NodeDefaults& defaults, int eval_memory_mb) {
  ObjectReader reader(file, value, json_path("builders", name),
                      {"host", "user", "port", "systems", "maxJobs", "speed", "site", "evalMemoryMB", "memoryMB"});
  BuilderSpec builder;
  builder.name = name;
  builder.host = reader.string("host").value_or(name);
  check(reader, "host", check_host(builder.host));
  builder.user = reader.string("user").value_or(defaults.user.value_or(""));
  if (reader.has("user")) {
    check(reader, "user", check_user(builder.user));
  }
  if (auto port = reader.integer("port")) {
    check(reader, "port", check_port(*port));
    builder.port = static_cast<int>(*port);
  }
  auto systems = reader.strings("systems");
  if (!systems || systems->empty()) {
    reader.fail("systems", "a builder needs the systems it can build", "add \"systems\": [\"x86_64-linux\"]");
  }
  for (const auto& system : *systems) {
    check(reader, "systems", check_system(system));
    if (std::find(builder.systems.begin(), builder.systems.end(), system) == builder.systems.end()) {
      builder.systems.push_back(system);
    }
  }
  if (auto jobs = reader.integer("maxJobs")) {
    if (*jobs < 1) {
      reader.fail("maxJobs", std::to_string(*jobs) + " jobs is too few", "give 1 or more");
    }
    builder.max_jobs = static_cast<int>(*jobs);
  }
  if (auto speed = reader.number("speed")) {
    if (*speed <= 0) {
      reader.fail("speed", "speed must be more than zero", "give a relative speed such as 1 or 2.5");
    }
    builder.speed = *speed;
  }
  builder.site = reader.string("site").value_or("");
  if (!builder.site.empty()) {
    check(reader, "site", check_name("site", builder.site));
  }
  builder.eval_memory_mb = memory_mb(reader, "evalMemoryMB").value_or(eval_memory_mb);
  builder.memory_mb = memory_mb(reader, "memoryMB").value_or(0);
  return builder;
}

NodeDefaults parse_defaults(const std::string& file, const json* value) {
  NodeDefaults defaults;
  if (value == nullptr) {
    return defaults;
  }
  ObjectReader reader(file, *value, "defaults", {"user", "build", "action", "port", "substituteOnTarget"});
  if ((defaults.user = reader.string("user"))) {
    check(reader, "user", check_user(*defaults.user));
  }
  defaults.build = reader.string("build");
  if (auto action = reader.string("action")) {
    check(reader, "action", check_action(*action));
    defaults.action = protocol::parse_action(*action);
  }
  if (auto port = reader.integer("port")) {
    check(reader, "port", check_port(*port));
    defaults.port = static_cast<int>(*port);
  }
  defaults.substitute_on_target = reader.boolean("substituteOnTarget");
  return defaults;
}

// nlohmann keeps the last of duplicate keys silently; a second "pi1" node overriding the first
// is a mistake worth stopping for, so a SAX pass records the path of the first duplicate. (A parse
// callback would do too, but nlohmann rescans the parent object after every child object there,
// which is quadratic in the number of nodes.)
class DuplicateKeyFinder : public json::json_sax_t {
public:
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(json::number_integer_t) override { return value(); }
  bool number_unsigned(json::number_unsigned_t) override { return value(); }
  bool number_float(json::number_float_t, const json::string_t&) override { return value(); }
  bool string(json::string_t&) override { return value(); }
  bool binary(json::binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(json::string_t& key) override {
    Frame& top = m_stack.back();
    top.key = key;
    if (!top.keys.insert(key).second && m_duplicate.empty()) {
      m_duplicate = path();
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

  // The path of the first duplicate key, empty when there was none.
  const std::string& duplicate() const { return m_duplicate; }

private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;
    std::size_t index;
  };

  bool open(bool object) {
    m_stack.push_back({object, {}, {}, 0});
    return true;
  }

  bool close() {
    m_stack.pop_back();
    return value();
  }

  bool value() {
    if (!m_stack.empty() && !m_stack.back().object) {
      ++m_stack.back().index;
    }
    return true;
  }

  std::string path() const {
    std::string out;
    for (const Frame& frame : m_stack) {
      out = frame.object ? json_path(out, frame.key) : out + "[" + std::to_string(frame.index) + "]";
    }
    return out;
  }

  std::vector<Frame> m_stack;
  std::string m_duplicate;
};

}  // namespace

std::string to_string(BuildMode mode, const std::string& pinned_builder) {
  switch (mode) {
  case BuildMode::self:
    return "self";
  case BuildMode::delegate:
    return "delegate";
  case BuildMode::pinned:
    return pinned_builder;
  case BuildMode::automatic:
    break;
  }
  return "auto";
}

FleetConfig parse_fleet_config(const json& root, const fs::path& file) {
  const std::string name = file.string();
  check_version(name, root);
  ObjectReader reader(name, root, "",
                      {"version", "source", "exclude", "flake", "nixOptions", "admins", "secretsDir", "builders",
                       "defaults", "nodes", "inventory", "evalMemoryMB", "timeouts", "retries", "history", "remoteBuilders"});
  FleetConfig config;
  config.file = fs::absolute(file).lexically_normal();
  const fs::path dir = config.file.parent_path();

  std::string source = reader.string("source").value_or(".");
  config.source_dir = resolved_path(dir / source);
  if (source.empty() || !fs::is_directory(config.source_dir)) {
    reader.fail("source", "directory '" + config.source_dir.string() + "' does not exist",
                "create it, or set \"source\" to the directory holding flake.nix, relative to this file");
  }
  if (auto flake = reader.string("flake")) {
    fs::path flake_dir = resolved_path(dir / *flake);
    if (flake->empty() || (flake_dir != config.source_dir && !is_inside(flake_dir, config.source_dir))) {
      reader.fail("flake", "'" + *flake + "' is outside the source directory '" + source + "'",
                  "put the flake inside the source directory (both paths are relative to this file)");
    }
    config.flake = flake_dir.lexically_relative(config.source_dir).string();
  }

  config.exclude = reader.strings("exclude").value_or(std::vector<std::string>{".git", "result"});
  for (const auto& pattern : config.exclude) {
    if (pattern.empty()) {
      reader.fail("exclude", "an exclude pattern is empty", "remove it or give a path such as \"result\"");
    }
  }
  if (const json* options = reader.object("nixOptions")) {
    for (const auto& [key, value] : options->items()) {
      const std::string option_path = json_path("nixOptions", key);
      if (key.empty() || key.front() == '-' || key.find_first_of(" \t\r\n") != std::string::npos) {
        fail_config(name, option_path, "'" + key + "' is not a nix option name", "use names as in nix.conf, e.g. \"sandbox\"");
      }
      if (!value.is_string()) {
        fail_config(name, option_path, "expected a string, got " + describe_json(value),
                           "write the value as nix.conf would, in quotes: \"" +
                               (value.is_string() ? value.get<std::string>() : value.dump()) + "\"");
      }
      config.nix_options[key] = value.get<std::string>();
    }
  }
  config.admins = reader.strings("admins").value_or(std::vector<std::string>{});
  for (std::size_t i = 0; i < config.admins.size(); ++i) {
    if (auto problem = check_recipient(config.admins[i])) {
      fail_config(name, "admins[" + std::to_string(i) + "]", problem->problem, problem->fix);
    }
  }
  config.secrets_dir = (dir / reader.string("secretsDir").value_or("secrets")).lexically_normal();
  config.run = parse_run_settings(name, root);

  config.eval_memory_mb = memory_mb(reader, "evalMemoryMB").value_or(protocol::k_default_eval_memory_mb);
  config.remote_builders = reader.boolean("remoteBuilders").value_or(false);
  config.defaults = parse_defaults(name, reader.object("defaults"));
  const NodeDefaults& defaults = config.defaults;
  if (const json* builders = reader.object("builders")) {
    for (const auto& [builder_name, value] : builders->items()) {
      if (auto problem = check_name("builder", builder_name)) {
        fail_config(name, json_path("builders", builder_name), problem->problem, problem->fix);
      }
      if (builder_name == "self" || builder_name == "delegate" || builder_name == "auto") {
        fail_config(name, json_path("builders", builder_name), "'" + builder_name + "' is a build mode, not a builder name",
                    "rename the builder");
      }
      config.builders[builder_name] = parse_builder(name, builder_name, value, defaults, config.eval_memory_mb);
    }
  }
  if (defaults.build) {
    NodeSpec probe;
    parse_build_mode(name, "defaults.build", *defaults.build, config.builders, probe);
  }
  if (auto kind = reader.string("inventory")) {
    config.inventory = protocol::parse_inventory_kind(*kind);
    if (!config.inventory) {
      reader.fail("inventory", "'" + *kind + "' is not an inventory kind",
                  "use \"fleet\" (the flake output fleet.nodes) or \"colmena\" (the flake output colmenaHive)");
    }
    if (config.builders.empty()) {
      reader.fail("inventory", "an inventory in the flake is evaluated on a builder, and there is none",
                  "add a builder under \"builders\", or list the nodes in fleet.json and drop \"inventory\"");
    }
  }
  const json* nodes = reader.object("nodes");
  if (!config.inventory && (nodes == nullptr || nodes->empty())) {
    reader.fail("nodes", "no nodes to deploy",
                "add \"nodes\": { \"<name>\": { \"host\": \"…\" } }, or \"inventory\" to read them from the flake");
  }
  const json none = json::object();
  for (const auto& [node_name, value] : (nodes ? *nodes : none).items()) {
    if (config.inventory) {
      // Checked now, so a mistake here needs no evaluation to show; merged with the flake's later.
      parse_node(name, "nodes", node_name, value, config);
      config.declared_nodes[node_name] = value;
    } else {
      add_node(config, name, "nodes", node_name, value);
    }
  }
  return config;
}

FleetConfig load_fleet_config(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    fail_config(file.string(), "", std::string("cannot be read (") + std::strerror(errno) + ")",
                "check the path, or pass another file with -c");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  if (protocol::nests_deeper_than(text, protocol::k_max_json_depth)) {
    fail_config(file.string(), "",
                "nests arrays and objects deeper than " + std::to_string(protocol::k_max_json_depth) + " levels",
                "flatten it: fleet.json needs a handful of levels");
  }
  json root;
  DuplicateKeyFinder duplicates;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& error) {
    // Turn nlohmann's byte offset into the line:column an editor jumps to.
    std::size_t offset = std::min<std::size_t>(error.byte == 0 ? 0 : error.byte - 1, text.size());
    std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
    std::size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
    std::size_t column = offset - (line_start == std::string::npos || offset == 0 ? 0 : line_start + 1) + 1;
    std::string detail = error.what();
    if (auto colon = detail.find(": "); colon != std::string::npos) {
      detail = detail.substr(colon + 2);
    }
    fail_config(file.string(), "line " + std::to_string(line) + ", column " + std::to_string(column),
                "invalid JSON: " + detail, "fix the syntax (strict JSON: no comments, no trailing commas)");
  } catch (const json::out_of_range& error) {
    // A number too large for a double ("1e400"): nlohmann gives no position for it.
    std::string detail = error.what();
    if (auto bracket = detail.find("] "); bracket != std::string::npos) {
      detail = detail.substr(bracket + 2);
    }
    fail_config(file.string(), "", "invalid JSON: " + detail, "write a smaller number (JSON numbers here must fit in 64 bits)");
  }
  json::sax_parse(text, &duplicates);
  if (!duplicates.duplicate().empty()) {
    fail_config(file.string(), duplicates.duplicate(), "this key appears twice in its object",
                "keep one of them (JSON would silently use the last)");
  }
  return parse_fleet_config(root, file);
}

fs::path find_fleet_config(const fs::path& start) {
  fs::path dir = fs::absolute(start).lexically_normal();
  if (!dir.has_filename() && dir != dir.root_path()) {
    dir = dir.parent_path();
  }
  const fs::path first = dir;
  while (true) {
    fs::path candidate = dir / "fleet.json";
    if (fs::is_regular_file(candidate)) {
      return candidate;
    }
    if (dir == dir.root_path() || !dir.has_parent_path()) {
      break;
    }
    dir = dir.parent_path();
  }
  fail_config("fleet.json", "", "not found in " + first.string() + " or any directory above it",
              "run fleet inside the fleet's directory or pass -c PATH/fleet.json");
}

}  // namespace fleet::coordinator
