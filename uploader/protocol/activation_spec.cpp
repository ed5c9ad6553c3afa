// SPDX-License-Identifier: MIT
#include "uploader/protocol/activation_spec.hpp"

#include "uploader/base/error.hpp"

#include <algorithm>
#include <array>

namespace fleet::protocol {
namespace {

constexpr std::array<const char*, 5> k_check_types{"command", "tcp", "http", "systemd", "system-running"};
constexpr int k_max_seconds = 24 * 3600;

int seconds_field(const nlohmann::json& json, const char* key, int fallback, const std::string& where) {
  auto it = json.find(key);
  if (it == json.end()) {
    return fallback;
  }
  if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > k_max_seconds) {
    throw ProtocolError("field '" + where + key + "' must be a number of seconds from 0 to " +
                        std::to_string(k_max_seconds));
  }
  return static_cast<int>(it->get<double>());
}

std::string string_field(const nlohmann::json& json, const char* key, const std::string& where) {
  auto it = json.find(key);
  if (it == json.end()) {
    return "";
  }
  if (!it->is_string()) {
    throw ProtocolError("field '" + where + key + "' must be a string");
  }
  return it->get<std::string>();
}

void check_health_check(const HealthCheck& check, const std::string& where) {
  if (!check.is_object() || !check.contains("type") || !check["type"].is_string()) {
    throw ProtocolError("field '" + where + "' must be an object with a string 'type'");
  }
  auto type = check["type"].get<std::string>();
  if (std::find(k_check_types.begin(), k_check_types.end(), type) == k_check_types.end()) {
    throw ProtocolError("field '" + where + "type' is not a health check type: '" + type + "'");
  }
  seconds_field(check, "timeout", 0, where);
  seconds_field(check, "interval", 0, where);
  if (check.contains("retries") && (!check["retries"].is_number_integer() || check["retries"].get<int>() < 0 ||
                                    check["retries"].get<int>() > 1000)) {
    throw ProtocolError("field '" + where + "retries' must be a count from 0 to 1000");
  }
  if (type == "command" && string_field(check, "command", where).empty()) {
    throw ProtocolError("field '" + where + "command' must be a non-empty string");
  }
  if (type == "tcp" && (!check.contains("port") || !check["port"].is_number_integer() ||
                        check["port"].get<int>() < 1 || check["port"].get<int>() > 65535)) {
    throw ProtocolError("field '" + where + "port' must be a port number");
  }
  if (type == "http" && string_field(check, "url", where).rfind("http", 0) != 0) {
    throw ProtocolError("field '" + where + "url' must be an http(s) URL");
  }
  if (type == "systemd") {
    if (!check.contains("units") || !check["units"].is_array() || check["units"].empty()) {
      throw ProtocolError("field '" + where + "units' must list at least one unit");
    }
    for (const auto& unit : check["units"]) {
      if (!unit.is_string() || unit.get<std::string>().empty() || unit.get<std::string>().front() == '-') {
        throw ProtocolError("field '" + where + "units' holds an invalid unit name");
      }
    }
  }
}

}  // namespace

nlohmann::json to_json(const ActivationSpec& spec) {
  return {{"healthChecks", spec.health_checks},
          {"preActivate", spec.pre_activate_hook},
          {"postActivate", spec.post_activate_hook},
          {"hookTimeout", spec.hook_timeout},
          {"rollbackOnHookFailure", spec.rollback_on_hook_failure},
          {"confirmTimeout", spec.confirm_timeout}};
}

ActivationSpec parse_activation_spec(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) {
    throw ProtocolError("field '" + where + "' must be an object");
  }
  ActivationSpec spec;
  if (json.contains("healthChecks")) {
    if (!json["healthChecks"].is_array()) {
      throw ProtocolError("field '" + where + "healthChecks' must be an array");
    }
    for (std::size_t i = 0; i < json["healthChecks"].size(); ++i) {
      const auto& check = json["healthChecks"][i];
      check_health_check(check, where + "healthChecks[" + std::to_string(i) + "].");
      spec.health_checks.push_back(check);
    }
  }
  spec.pre_activate_hook = string_field(json, "preActivate", where);
  spec.post_activate_hook = string_field(json, "postActivate", where);
  spec.hook_timeout = seconds_field(json, "hookTimeout", spec.hook_timeout, where);
  spec.confirm_timeout = seconds_field(json, "confirmTimeout", spec.confirm_timeout, where);
  if (json.contains("rollbackOnHookFailure")) {
    if (!json["rollbackOnHookFailure"].is_boolean()) {
      throw ProtocolError("field '" + where + "rollbackOnHookFailure' must be true or false");
    }
    spec.rollback_on_hook_failure = json["rollbackOnHookFailure"].get<bool>();
  }
  return spec;
}

}  // namespace fleet::protocol
