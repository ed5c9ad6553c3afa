// SPDX-License-Identifier: MIT
#include "coordinator/run/lock_update.hpp"

#include "uploader/base/error.hpp"
#include "uploader/protocol/json_document.hpp"

#include <nlohmann/json.hpp>

#include <set>

namespace fleet::coordinator {
namespace {

using nlohmann::json;

// The fields of `locked` that pin a newer revision of the same input.
const std::set<std::string>& moving_fields() {
  static const std::set<std::string> fields = {"rev", "narHash", "lastModified", "revCount"};
  return fields;
}

json parse_lock(const std::string& text, const std::string& which) {
  auto lock = protocol::parse_json(text);
  if (!lock.is_object() || !lock.contains("nodes") || !lock["nodes"].is_object() || !lock.contains("root") ||
      !lock["root"].is_string() || !lock["nodes"].contains(lock["root"].get<std::string>())) {
    throw ProtocolError(which + " is not a flake.lock (no nodes and root)");
  }
  return lock;
}

// The root's inputs: name → node name, or a "follows" path (an array).
json root_inputs(const json& lock) {
  const json& root = lock["nodes"][lock["root"].get<std::string>()];
  return root.is_object() && root.contains("inputs") && root["inputs"].is_object() ? root["inputs"] : json::object();
}

const json& node_of(const json& lock, const json& target, const std::string& input) {
  const std::string name = target.get<std::string>();
  if (!lock["nodes"].contains(name) || !lock["nodes"][name].is_object()) {
    throw ProtocolError("the updated flake.lock's input '" + input + "' points to the missing node '" + name + "'");
  }
  return lock["nodes"][name];
}

std::string field(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

// "github:NixOS/nixpkgs", "path:/x", "git+https://…": what the input is, for a person.
std::string describe(const json& locked) {
  std::string type = field(locked, "type");
  if (type == "github" || type == "gitlab" || type == "sourcehut") {
    return type + ":" + field(locked, "owner") + "/" + field(locked, "repo");
  }
  std::string where = field(locked, "url").empty() ? field(locked, "path") : field(locked, "url");
  return type + (where.empty() ? "" : ":" + where);
}

std::string revision(const json& locked) {
  std::string rev = field(locked, "rev");
  if (!rev.empty()) {
    return rev.substr(0, 12);
  }
  std::string hash = field(locked, "narHash");
  return hash.empty() ? "?" : hash.substr(0, 19);
}

// Whether flake.nix names `original`: owner/repo (as a URL, or as "owner" and "repo" attribute
// values), the URL or path, or the registry id.
bool names(const std::string& flake_nix, const json& original) {
  auto has = [&](const std::string& text) { return !text.empty() && flake_nix.find(text) != std::string::npos; };
  std::string type = field(original, "type");
  if (type == "github" || type == "gitlab" || type == "sourcehut") {
    const std::string owner = field(original, "owner"), repo = field(original, "repo");
    return !owner.empty() && !repo.empty() &&
           (has(owner + "/" + repo) || (has("\"" + owner + "\"") && has("\"" + repo + "\"")));
  }
  if (type == "indirect") {
    return has(field(original, "id"));
  }
  return has(field(original, "url").empty() ? field(original, "path") : field(original, "url"));
}

// An input whose reference differs from the source's lock (or that it lacks): flake.nix must
// name the new reference, and the lock must pin what that reference says. So a build node can
// follow an edit of flake.nix but cannot invent a redirect.
void check_named_in_flake(const std::string& input, const json& node, const std::string& flake_nix) {
  const json original = node.value("original", json::object());
  const json locked = node.value("locked", json::object());
  if (!names(flake_nix, original)) {
    throw ProtocolError("the updated flake.lock takes the input '" + input + "' from " + original.dump() +
                        ", which flake.nix does not name");
  }
  if (field(original, "type") == "indirect") {
    return;  // resolved through the flake registry: locked is whatever it names
  }
  for (const char* key : {"type", "owner", "repo", "host", "path"}) {
    if (original.contains(key) && locked.value(key, json()) != original[key]) {
      throw ProtocolError("the updated flake.lock locks the input '" + input + "' to locked." + key + " " +
                          locked.value(key, json()).dump() + " although flake.nix asks for " + original[key].dump());
    }
  }
}

}  // namespace

std::vector<std::string> check_lock_update(const std::string& old_lock, const std::string& new_lock,
                                           const std::string& flake_nix) {
  const json updated = parse_lock(new_lock, "the updated flake.lock");
  const json before = old_lock.empty() ? json() : parse_lock(old_lock, "the source's flake.lock");
  const json old_inputs = old_lock.empty() ? json::object() : root_inputs(before);
  const json new_inputs = root_inputs(updated);
  for (const auto& [name, target] : old_inputs.items()) {
    if (!new_inputs.contains(name)) {
      throw ProtocolError("the updated flake.lock drops the input '" + name + "'");
    }
  }
  std::vector<std::string> changes;
  for (const auto& [name, target] : new_inputs.items()) {
    if (!target.is_string()) {  // follows another input: the same path as before, or new
      if (old_inputs.contains(name) && old_inputs[name] != target) {
        throw ProtocolError("the updated flake.lock makes the input '" + name + "' follow " + target.dump() +
                            " instead of " + old_inputs[name].dump());
      }
      continue;
    }
    const json& now = node_of(updated, target, name);
    const json locked = now.value("locked", json::object());
    if (!old_inputs.contains(name)) {
      check_named_in_flake(name, now, flake_nix);
      changes.push_back(name + ": new, " + describe(locked) + " " + revision(locked));
      continue;
    }
    if (!old_inputs[name].is_string()) {
      throw ProtocolError("the updated flake.lock locks the input '" + name + "', which followed " +
                          old_inputs[name].dump());
    }
    const json& was = node_of(before, old_inputs[name], name);
    if (now.value("original", json()) != was.value("original", json())) {
      check_named_in_flake(name, now, flake_nix);
      changes.push_back(name + ": " + describe(locked) + " " + revision(locked) + ", as flake.nix now says");
      continue;
    }
    const json was_locked = was.value("locked", json::object());
    for (const auto* side : {&locked, &was_locked}) {
      for (const auto& [key, value] : side->items()) {
        if (moving_fields().count(key) == 0 && locked.value(key, json()) != was_locked.value(key, json())) {
          throw ProtocolError("the updated flake.lock changes locked." + key + " of the input '" + name + "' from " +
                              was_locked.value(key, json()).dump() + " to " + locked.value(key, json()).dump() +
                              "; only revisions and hashes may move");
        }
      }
    }
    if (revision(locked) != revision(was_locked)) {
      changes.push_back(name + ": " + describe(locked) + " " + revision(was_locked) + " → " + revision(locked));
    }
  }
  return changes;
}

}  // namespace fleet::coordinator
