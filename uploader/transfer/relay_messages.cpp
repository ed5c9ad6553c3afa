// SPDX-License-Identifier: MIT
#include "uploader/transfer/relay_messages.hpp"

#include "uploader/base/error.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/protocol/json_document.hpp"

namespace fleet::transfer {

namespace {

template <typename T>
T field(const nlohmann::json& object, const std::string& where, const char* key, nlohmann::json::value_t type) {
  return protocol::require_field(object, "relay", where, key, type).get<T>();
}

}  // namespace

nlohmann::json to_json(const RelayRequest& request) {
  nlohmann::json destinations = nlohmann::json::array();
  for (const auto& d : request.destinations) {
    destinations.push_back({{"name", d.name}, {"host", d.host}, {"user", d.user}, {"port", d.port}, {"hostKey", d.host_key}});
  }
  return {{"version", protocol::k_protocol_version}, {"timeout", request.timeout}, {"destinations", destinations}};
}

RelayRequest parse_relay_request(const nlohmann::json& json) {
  using value_t = nlohmann::json::value_t;
  if (!json.is_object()) {
    throw ProtocolError("the relay request is not a JSON object");
  }
  if (field<int>(json, "", "version", value_t::number_integer) != protocol::k_protocol_version) {
    throw ProtocolError("relay protocol version " + json["version"].dump() + " is not supported (this agent speaks " +
                        std::to_string(protocol::k_protocol_version) + "); install the same fleet version on both sides");
  }
  RelayRequest request;
  request.timeout = field<int>(json, "", "timeout", value_t::number_integer);
  if (request.timeout < 1 || request.timeout > 7 * 24 * 3600) {
    throw ProtocolError("relay field 'timeout' is out of range: " + std::to_string(request.timeout));
  }
  const auto destinations = field<nlohmann::json>(json, "", "destinations", value_t::array);
  if (destinations.size() > k_max_relay_destinations) {
    throw ProtocolError("a relay request may name at most " + std::to_string(k_max_relay_destinations) + " destinations");
  }
  for (const auto& d : destinations) {
    const std::string where = "destinations[].";
    RelayDestination destination;
    destination.name = field<std::string>(d, where, "name", value_t::string);
    destination.host = field<std::string>(d, where, "host", value_t::string);
    destination.user = field<std::string>(d, where, "user", value_t::string);
    destination.port = field<int>(d, where, "port", value_t::number_integer);
    destination.host_key = field<std::string>(d, where, "hostKey", value_t::string);
    for (const auto* token : {&destination.name, &destination.host}) {
      if (!protocol::is_safe_token(*token)) {
        throw ProtocolError("relay field '" + where + (token == &destination.name ? "name" : "host") +
                            "' has an unsafe value '" + *token + "'");
      }
    }
    if (!destination.user.empty() && !protocol::is_safe_token(destination.user)) {
      throw ProtocolError("relay field '" + where + "user' has an unsafe value '" + destination.user + "'");
    }
    if (destination.port < 0 || destination.port > 65535) {
      throw ProtocolError("relay field '" + where + "port' is out of range: " + std::to_string(destination.port));
    }
    if (destination.host_key.find_first_of("\r\n") != std::string::npos) {
      throw ProtocolError("relay field '" + where + "hostKey' must be one line");
    }
    request.destinations.push_back(std::move(destination));
  }
  return request;
}

std::string to_line(const RelayOutcome& outcome) {
  nlohmann::json json{{"to", outcome.to}, {"ok", outcome.ok}, {"had", outcome.had}, {"bytes", outcome.bytes},
                      {"seconds", outcome.seconds}};
  json["base"] = outcome.base.empty() ? nlohmann::json(nullptr) : nlohmann::json(outcome.base);
  if (!outcome.error.empty()) {
    json["error"] = outcome.error;
  }
  return json.dump();
}

RelayOutcome parse_relay_outcome(std::string_view line) {
  using value_t = nlohmann::json::value_t;
  auto json = protocol::parse_json(line);
  if (!json.is_object()) {
    throw ProtocolError("a relay outcome is not a JSON object: '" + std::string(line.substr(0, 200)) + "'");
  }
  RelayOutcome outcome;
  outcome.to = field<std::string>(json, "", "to", value_t::string);
  outcome.ok = field<bool>(json, "", "ok", value_t::boolean);
  outcome.had = field<bool>(json, "", "had", value_t::boolean);
  outcome.bytes = field<std::uint64_t>(json, "", "bytes", value_t::number_integer);
  outcome.seconds = field<double>(json, "", "seconds", value_t::number_float);
  if (auto base = json.find("base"); base != json.end() && !base->is_null()) {
    if (!base->is_string() || !protocol::is_content_hash(base->get<std::string>())) {
      throw ProtocolError("a relay outcome's base is not a content hash");
    }
    outcome.base = base->get<std::string>();
  }
  if (auto error = json.find("error"); error != json.end() && error->is_string()) {
    outcome.error = error->get<std::string>().substr(0, 4096);
  }
  return outcome;
}

}  // namespace fleet::transfer
