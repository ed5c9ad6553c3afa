// SPDX-License-Identifier: MIT
#include "uploader/protocol/job.hpp"

#include "uploader/base/error.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>
#include <cctype>

namespace fleet::protocol {
namespace {

const nlohmann::json& require(const nlohmann::json& object, const std::string& where, const char* key,
                              nlohmann::json::value_t type) {
  return require_field(object, "job", where, key, type);
}

void check_token(const std::string& value, const std::string& field) {
  if (!is_safe_token(value)) {
    throw ProtocolError("job field '" + field + "' has an unsafe value '" + value + "'");
  }
}

// Reads an optional positive whole number of seconds (or count) no larger than `max`.
int optional_int(const nlohmann::json& object, const std::string& where, const char* key, int fallback, int min, int max) {
  auto it = object.find(key);
  if (it == object.end()) {
    return fallback;
  }
  if (!it->is_number_integer() || it->get<long long>() < min || it->get<long long>() > max) {
    throw ProtocolError("job field '" + where + key + "' must be a whole number from " + std::to_string(min) + " to " +
                        std::to_string(max) + ", got " + it->dump());
  }
  return it->get<int>();
}

constexpr int k_max_timeout = 7 * 24 * 3600;

}  // namespace

bool is_safe_token(std::string_view value) {
  // "." and ".." are path components, not names: a run id of ".." made a job's work directory the
  // state directory itself.
  return !value.empty() && value.size() <= 253 && value.front() != '-' && value != "." && value != ".." &&
         std::all_of(value.begin(), value.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
         });
}

bool is_printable_name(std::string_view value) {
  return !value.empty() && value.size() <= 256 && value.front() != '-' &&
         std::all_of(value.begin(), value.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

bool is_content_hash(std::string_view hash) {
  return hash.size() == 64 &&
         std::all_of(hash.begin(), hash.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_flake_path(std::string_view flake) {
  return !flake.empty() && flake.front() != '/' && flake.find("..") == std::string_view::npos;
}

nlohmann::json to_json(const BuildJob& job) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& t : job.targets) {
    nlohmann::json target{{"node", t.node},
                          {"mode", t.mode == TargetMode::self ? "self" : "delegate"},
                          {"host", t.host},
                          {"user", t.user},
                          {"port", t.port},
                          {"hostKey", t.host_key},
                          {"action", to_string(t.action)},
                          {"activation", to_json(t.activation)}};
    if (t.substitute_on_target) {
      target["substituteOnTarget"] = true;
    }
    if (!t.secrets.empty()) {
      auto& secrets = target["secrets"] = nlohmann::json::array();
      for (const auto& secret : t.secrets) {
        secrets.push_back(to_json(secret));
      }
    }
    targets.push_back(std::move(target));
  }
  nlohmann::json timeouts = {{"connect", job.timeouts.connect},
                             {"build", job.timeouts.build},
                             {"copy", job.timeouts.copy},
                             {"activate", job.timeouts.activate}};
  nlohmann::json retries = {{"count", job.retries.count}, {"delay", job.retries.delay_seconds}};
  nlohmann::json out = {{"version", job.version},       {"run", job.run_id},  {"source", job.source_hash}, {"flake", job.flake},
          {"nixOptions", job.nix_options}, {"targets", targets}, {"timeouts", timeouts},      {"retries", retries},
          {"evalMemoryMB", job.eval_memory_mb}, {"evalWorkers", job.eval_workers}, {"deployer", job.deployer}};
  if (job.inventory) {
    out["inventory"] = to_string(*job.inventory);
  }
  if (!job.remote_builders.empty()) {
    auto& builders = out["remoteBuilders"] = nlohmann::json::array();
    for (const auto& b : job.remote_builders) {
      builders.push_back({{"name", b.name}, {"host", b.host}, {"user", b.user}, {"port", b.port}, {"hostKey", b.host_key},
                          {"systems", b.systems}, {"maxJobs", b.max_jobs}, {"speed", b.speed}});
    }
  }
  return out;
}

namespace {

// Its fields reach a nix machines line, where a space or a newline would add fields or machines.
RemoteBuilder parse_remote_builder(const nlohmann::json& json) {
  using value_t = nlohmann::json::value_t;
  if (!json.is_object()) {
    throw ProtocolError("job field 'remoteBuilders' must hold objects");
  }
  RemoteBuilder builder;
  builder.name = require(json, "remoteBuilders[].", "name", value_t::string).get<std::string>();
  check_token(builder.name, "remoteBuilders[].name");
  const std::string where = "remoteBuilders." + builder.name + ".";
  builder.host = require(json, where, "host", value_t::string).get<std::string>();
  check_token(builder.host, where + "host");
  builder.user = require(json, where, "user", value_t::string).get<std::string>();
  if (!builder.user.empty()) {
    check_token(builder.user, where + "user");
  }
  builder.port = optional_int(json, where, "port", builder.port, 1, 65535);
  builder.host_key = require(json, where, "hostKey", value_t::string).get<std::string>();
  const auto space = builder.host_key.find(' ');
  if (!builder.host_key.empty() &&
      (space == std::string::npos || !is_safe_token(builder.host_key.substr(0, space)) ||
       builder.host_key.find_first_not_of(
           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", space + 1) != std::string::npos)) {
    throw ProtocolError("job field '" + where + "hostKey' must be \"<type> <base64>\"");
  }
  for (const auto& system : require(json, where, "systems", value_t::array)) {
    if (!system.is_string()) {
      throw ProtocolError("job field '" + where + "systems' must hold strings");
    }
    check_token(system.get<std::string>(), where + "systems[]");
    builder.systems.push_back(system.get<std::string>());
  }
  if (builder.systems.empty()) {
    throw ProtocolError("job field '" + where + "systems' must name at least one system");
  }
  builder.max_jobs = optional_int(json, where, "maxJobs", builder.max_jobs, 1, k_max_eval_workers);
  builder.speed = optional_int(json, where, "speed", builder.speed, 1, 1000);
  return builder;
}

}  // namespace

BuildJob parse_build_job(const nlohmann::json& json) {
  using value_t = nlohmann::json::value_t;
  if (!json.is_object()) {
    throw ProtocolError("a job must be a JSON object");
  }
  BuildJob job;
  job.version = require(json, "", "version", value_t::number_integer).get<int>();
  if (job.version != k_protocol_version) {
    throw ProtocolError("job protocol version " + std::to_string(job.version) + " is not supported (this agent speaks " +
                        std::to_string(k_protocol_version) + "); install the same fleet version on both sides");
  }
  job.run_id = require(json, "", "run", value_t::string).get<std::string>();
  check_token(job.run_id, "run");
  if (json.contains("deployer")) {  // optional: older coordinators do not send it
    job.deployer = require(json, "", "deployer", value_t::string).get<std::string>();
    if (!job.deployer.empty() && !is_printable_name(job.deployer)) {
      throw ProtocolError("job field 'deployer' must be a short printable user@host, got '" + job.deployer + "'");
    }
  }
  job.source_hash = require(json, "", "source", value_t::string).get<std::string>();
  if (!is_content_hash(job.source_hash)) {
    throw ProtocolError("job field 'source' is not a content hash: '" + job.source_hash + "'");
  }
  job.flake = require(json, "", "flake", value_t::string).get<std::string>();
  if (!is_flake_path(job.flake)) {
    throw ProtocolError("job field 'flake' must be a relative path inside the source, got '" + job.flake + "'");
  }
  if (json.contains("inventory")) {
    const auto& kind = require(json, "", "inventory", value_t::string).get<std::string>();
    job.inventory = parse_inventory_kind(kind);
    if (!job.inventory) {
      throw ProtocolError("job field 'inventory' must be \"fleet\" or \"colmena\", got '" + kind + "'");
    }
  }
  for (const auto& [key, value] : require(json, "", "nixOptions", value_t::object).items()) {
    if (!value.is_string() || key.empty() || key.front() == '-') {
      throw ProtocolError("job field 'nixOptions." + key + "' must be a string option");
    }
    job.nix_options[key] = value.get<std::string>();
  }
  if (json.contains("evalMemoryMB")) {
    auto mb = require(json, "", "evalMemoryMB", value_t::number_integer).get<long long>();
    if (mb < 1 || mb > 16 * 1024 * 1024) {
      throw ProtocolError("job field 'evalMemoryMB' must be between 1 and 16777216, got " + std::to_string(mb));
    }
    job.eval_memory_mb = static_cast<int>(mb);
  }
  job.eval_workers = optional_int(json, "", "evalWorkers", job.eval_workers, 1, k_max_eval_workers);
  if (json.contains("remoteBuilders")) {
    const auto& builders = require(json, "", "remoteBuilders", value_t::array);
    if (builders.size() > k_max_remote_builders) {
      throw ProtocolError("job field 'remoteBuilders' holds more than " + std::to_string(k_max_remote_builders) + " builders");
    }
    for (const auto& b : builders) {
      job.remote_builders.push_back(parse_remote_builder(b));
    }
  }
  if (json.contains("timeouts")) {
    const auto& timeouts = require(json, "", "timeouts", value_t::object);
    job.timeouts.connect = optional_int(timeouts, "timeouts.", "connect", job.timeouts.connect, 1, k_max_timeout);
    job.timeouts.build = optional_int(timeouts, "timeouts.", "build", job.timeouts.build, 1, k_max_timeout);
    job.timeouts.copy = optional_int(timeouts, "timeouts.", "copy", job.timeouts.copy, 1, k_max_timeout);
    job.timeouts.activate = optional_int(timeouts, "timeouts.", "activate", job.timeouts.activate, 1, k_max_timeout);
  }
  if (json.contains("retries")) {
    const auto& retries = require(json, "", "retries", value_t::object);
    job.retries.count = optional_int(retries, "retries.", "count", job.retries.count, 0, 10);
    job.retries.delay_seconds = optional_int(retries, "retries.", "delay", job.retries.delay_seconds, 0, 600);
  }
  for (const auto& t : require(json, "", "targets", value_t::array)) {
    if (!t.is_object()) {
      throw ProtocolError("job field 'targets' must hold objects");
    }
    JobTarget target;
    target.node = require(t, "targets[].", "node", value_t::string).get<std::string>();
    check_token(target.node, "targets[].node");
    std::string where = "targets." + target.node + ".";
    std::string mode = require(t, where, "mode", value_t::string).get<std::string>();
    if (mode != "self" && mode != "delegate") {
      throw ProtocolError("job field '" + where + "mode' must be self or delegate, got '" + mode + "'");
    }
    target.mode = mode == "self" ? TargetMode::self : TargetMode::delegate;
    target.host = require(t, where, "host", value_t::string).get<std::string>();
    target.user = require(t, where, "user", value_t::string).get<std::string>();
    target.port = require(t, where, "port", value_t::number_integer).get<int>();
    target.host_key = require(t, where, "hostKey", value_t::string).get<std::string>();
    auto action = require(t, where, "action", value_t::string).get<std::string>();
    if (target.mode == TargetMode::delegate) {
      check_token(target.host, where + "host");
      if (!target.user.empty()) {
        check_token(target.user, where + "user");
      }
    }
    if (target.port < 0 || target.port > 65535) {
      throw ProtocolError("job field '" + where + "port' is out of range: " + std::to_string(target.port));
    }
    auto parsed_action = parse_action(action);
    if (!parsed_action) {
      throw ProtocolError("job field '" + where + "action' is not an action: '" + action + "'");
    }
    target.action = *parsed_action;
    target.activation = parse_activation_spec(require(t, where, "activation", value_t::object), where + "activation.");
    if (target.host_key.find('\n') != std::string::npos) {
      throw ProtocolError("job field '" + where + "hostKey' must be one line");
    }
    if (auto substitute = t.find("substituteOnTarget"); substitute != t.end()) {
      if (!substitute->is_boolean()) {
        throw ProtocolError("job field '" + where + "substituteOnTarget' must be a boolean");
      }
      target.substitute_on_target = substitute->get<bool>();
    }
    if (auto secrets = t.find("secrets"); secrets != t.end()) {
      if (!secrets->is_array()) {
        throw ProtocolError("job field '" + where + "secrets' must be an array");
      }
      for (const auto& secret : *secrets) {
        target.secrets.push_back(parse_job_secret(secret, where + "secrets[" + std::to_string(target.secrets.size()) + "]."));
      }
    }
    job.targets.push_back(std::move(target));
  }
  return job;
}

}  // namespace fleet::protocol
