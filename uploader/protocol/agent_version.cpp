// SPDX-License-Identifier: MIT
#include "uploader/protocol/agent_version.hpp"

#include "uploader/base/error.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/protocol/json_document.hpp"

#include <nlohmann/json.hpp>

#include <limits>

namespace fleet::protocol {
namespace {

constexpr std::size_t k_max_release = 64;
constexpr std::size_t k_excerpt = 120;

// What a release string may hold: enough for "0.1.0", "0.2.0-pre+git.abc123", never a space,
// quote or escape that would garble the messages it is printed in.
bool is_release(const std::string& text) {
  return !text.empty() && text.size() <= k_max_release &&
         text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_~") == std::string::npos;
}

std::string excerpt(std::string_view answer) {
  std::string text;
  for (char c : answer.substr(0, k_excerpt)) {
    text += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return answer.size() > k_excerpt ? text + "…" : text;
}

[[noreturn]] void refuse(const std::string& why, std::string_view answer) {
  throw ProtocolError("not a fleet-builder version answer (" + why + "): '" + excerpt(answer) + "'");
}

}  // namespace

AgentVersion this_agent_version() { return {"fleet-builder", FLEET_VERSION, k_protocol_version}; }

std::string format_agent_version(const AgentVersion& version) {
  return nlohmann::json{{"agent", version.agent}, {"version", version.version}, {"protocol", version.protocol}}.dump();
}

AgentVersion parse_agent_version(std::string_view answer) {
  if (answer.size() > k_max_version_answer) {
    refuse("longer than " + std::to_string(k_max_version_answer) + " bytes", answer);
  }
  auto json = protocol::parse_json(answer);
  if (!json.is_object()) {
    refuse("not a JSON object", answer);
  }
  auto agent = json.find("agent");
  if (agent == json.end() || !agent->is_string() || agent->get<std::string>() != "fleet-builder") {
    refuse("\"agent\" is not \"fleet-builder\"", answer);
  }
  auto release = json.find("version");
  if (release == json.end() || !release->is_string() || !is_release(release->get<std::string>())) {
    refuse("\"version\" is not a release such as \"0.1.0\"", answer);
  }
  auto protocol = json.find("protocol");
  if (protocol == json.end() || !protocol->is_number_integer() || protocol->get<std::int64_t>() < 1 ||
      protocol->get<std::int64_t>() > std::numeric_limits<int>::max()) {
    refuse("\"protocol\" is not a positive integer", answer);
  }
  return {"fleet-builder", release->get<std::string>(), static_cast<int>(protocol->get<std::int64_t>())};
}

std::string describe(const AgentVersion& version) {
  return version.version + " (protocol " + std::to_string(version.protocol) + ")";
}

}  // namespace fleet::protocol
