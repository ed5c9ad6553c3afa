// SPDX-License-Identifier: MIT
#include "uploader/protocol/job_secret.hpp"

#include "uploader/base/error.hpp"

#include <algorithm>
#include <cctype>

namespace fleet::protocol {
namespace {

std::string field(const nlohmann::json& json, const std::string& where, const char* key) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_string()) {
    throw ProtocolError("job field '" + where + key + "' is missing or not a string");
  }
  return it->get<std::string>();
}

bool has_control(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 32 || c == 127; });
}

// Every component must be a plain name: no empty, "." or ".." component.
bool plain_components(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return true;
}

bool safe_account(const std::string& s) {
  bool numeric = !s.empty() && s.size() <= 10 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  bool name = !s.empty() && s.size() <= 32 && (std::isalpha(static_cast<unsigned char>(s.front())) || s.front() == '_') &&
              std::all_of(s.begin(), s.end(), [](unsigned char c) {
                return std::isalnum(c) || c == '_' || c == '-' || c == '.';
              });
  return numeric || name;
}

}  // namespace

unsigned parse_octal_mode(const std::string& mode) {
  unsigned value = 0;
  for (char c : mode) {
    value = value * 8 + static_cast<unsigned>(c - '0');
  }
  return value;
}

nlohmann::json to_json(const JobSecret& secret) {
  return {{"name", secret.name},   {"file", secret.file}, {"dest", secret.dest}, {"owner", secret.owner},
          {"group", secret.group}, {"mode", secret.mode}, {"when", secret.when}, {"required", secret.required}};
}

JobSecret parse_job_secret(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) {
    throw ProtocolError("job field '" + where + "' must be an object");
  }
  JobSecret s;
  s.name = field(json, where, "name");
  bool name_ok = !s.name.empty() && s.name.size() <= 128 && s.name.front() != '-' && s.name.front() != '.' &&
                 std::all_of(s.name.begin(), s.name.end(), [](unsigned char c) {
                   return std::isalnum(c) || c == '-' || c == '_' || c == '.';
                 });
  if (!name_ok) {
    throw ProtocolError("job field '" + where + "name' has an unsafe value '" + s.name + "'");
  }
  s.file = field(json, where, "file");
  if (s.file.empty() || s.file.front() == '/' || has_control(s.file) || !plain_components(s.file)) {
    throw ProtocolError("job field '" + where + "file' must be a relative path inside the source, got '" + s.file + "'");
  }
  s.dest = field(json, where, "dest");
  if (s.dest.size() < 2 || s.dest.front() != '/' || has_control(s.dest) || !plain_components(s.dest.substr(1))) {
    throw ProtocolError("job field '" + where + "dest' must be an absolute file path without '..', got '" + s.dest + "'");
  }
  if (s.dest.rfind("/nix/store/", 0) == 0 || s.dest.rfind("/nix/store", 0) == 0) {
    throw ProtocolError("job field '" + where + "dest' lies in the world-readable /nix/store: '" + s.dest + "'");
  }
  s.owner = field(json, where, "owner");
  s.group = field(json, where, "group");
  for (const auto* account : {&s.owner, &s.group}) {
    if (!safe_account(*account)) {
      throw ProtocolError("job field '" + where + (account == &s.owner ? "owner" : "group") +
                          "' is not a user or group name: '" + *account + "'");
    }
  }
  s.mode = field(json, where, "mode");
  bool mode_ok = (s.mode.size() == 3 || (s.mode.size() == 4 && s.mode.front() == '0')) &&
                 std::all_of(s.mode.begin(), s.mode.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!mode_ok) {
    throw ProtocolError("job field '" + where + "mode' is not an octal mode such as \"0400\": '" + s.mode + "'");
  }
  s.when = field(json, where, "when");
  if (s.when != "pre-activation" && s.when != "post-activation") {
    throw ProtocolError("job field '" + where + "when' must be pre-activation or post-activation, got '" + s.when + "'");
  }
  auto required = json.find("required");
  if (required == json.end() || !required->is_boolean()) {
    throw ProtocolError("job field '" + where + "required' is missing or not a boolean");
  }
  s.required = required->get<bool>();
  return s;
}

}  // namespace fleet::protocol
