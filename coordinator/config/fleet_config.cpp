// SPDX-License-Identifier: MIT
#include "coordinator/config/fleet_config.hpp"

#include "coordinator/config/config_reader.hpp"
#include "coordinator/config/node_parser.hpp"
#include "coordinator/config/value_checks.hpp"
#include "uploader/base/error.hpp"

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

// `path` after following symlinks of its existing part, absolute and without "." or "..".
fs::path resolved(const fs::path& path) {
  std::error_code error;
  fs::path result = fs::weakly_canonical(path, error);
  return error ? path.lexically_normal() : result;
}

bool is_inside(const fs::path& path, const fs::path& dir) {
  fs::path relative = path.lexically_relative(dir);
  return !relative.empty() && *relative.begin() != "..";
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
  ObjectReader reader(file, *value, "defaults", {"user", "build", "action", "port"});
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
  return defaults;
}

bool can_build(const BuilderSpec& builder, const std::string& system) {
  return std::find(builder.systems.begin(), builder.systems.end(), system) != builder.systems.end();
}

// The planner would fail later on these; failing here names the key and keeps `fleet plan` honest.
void check_buildable(const std::string& file, const FleetConfig& config, const NodeSpec& node) {
  std::string path = json_path("nodes", node.name);
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
                       "defaults", "nodes", "evalMemoryMB", "timeouts", "retries", "history"});
  FleetConfig config;
  config.file = fs::absolute(file).lexically_normal();
  const fs::path dir = config.file.parent_path();

  std::string source = reader.string("source").value_or(".");
  config.source_dir = resolved(dir / source);
  if (source.empty() || !fs::is_directory(config.source_dir)) {
    reader.fail("source", "directory '" + config.source_dir.string() + "' does not exist",
                "create it, or set \"source\" to the directory holding flake.nix, relative to this file");
  }
  if (auto flake = reader.string("flake")) {
    fs::path flake_dir = resolved(dir / *flake);
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
  NodeDefaults defaults = parse_defaults(name, reader.object("defaults"));
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
  const json* nodes = reader.object("nodes");
  if (nodes == nullptr || nodes->empty()) {
    reader.fail("nodes", "no nodes to deploy", "add \"nodes\": { \"<name>\": { \"host\": \"…\" } }");
  }
  for (const auto& [node_name, value] : nodes->items()) {
    if (auto problem = check_name("node", node_name)) {
      fail_config(name, json_path("nodes", node_name), problem->problem, problem->fix);
    }
    NodeSpec node = parse_node(name, node_name, value, defaults, config.builders);
    check_buildable(name, config, node);
    // Secrets travel inside the source tarball, so their files must lie inside the source.
    for (const auto& secret : node.secrets) {
      if (!is_inside(resolved(dir / secret.file), config.source_dir)) {
        fail_config(name, json_path(json_path(json_path(json_path("nodes", node_name), "secrets"), secret.name), "file"),
                    "'" + secret.file + "' is outside the source directory " + config.source_dir.string() +
                        ", so it would not reach the target",
                    "move the file under the source directory (e.g. into secrets/) or widen \"source\"");
      }
    }
    config.nodes[node_name] = std::move(node);
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
