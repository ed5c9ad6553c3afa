// SPDX-License-Identifier: MIT
#include "uploader/protocol/action.hpp"

#include <array>
#include <utility>

namespace fleet::protocol {
namespace {

constexpr std::array<std::pair<Action, std::string_view>, 5> k_names{{
    {Action::switch_, "switch"},
    {Action::boot, "boot"},
    {Action::test, "test"},
    {Action::dry_activate, "dry-activate"},
    {Action::build, "build"},
}};

}  // namespace

std::string to_string(Action action) {
  for (const auto& [value, name] : k_names) {
    if (value == action) {
      return std::string(name);
    }
  }
  return "unknown";  // unreachable for a valid enum value
}

std::optional<Action> parse_action(std::string_view text) {
  for (const auto& [value, name] : k_names) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

const std::vector<std::string>& action_names() {
  static const std::vector<std::string> k_list = [] {
    std::vector<std::string> names;
    for (const auto& entry : k_names) {
      names.emplace_back(entry.second);
    }
    return names;
  }();
  return k_list;
}

std::string action_names_text() {
  const auto& names = action_names();
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return text;
}

bool activates(Action action) { return action != Action::build; }

bool sets_system_profile(Action action) { return action == Action::switch_ || action == Action::boot; }

bool changes_running_system(Action action) { return action == Action::switch_ || action == Action::test; }

bool changes_target(Action action) { return sets_system_profile(action) || changes_running_system(action); }

bool installs_secrets(Action action) { return changes_target(action); }

bool awaits_confirmation(Action action) { return changes_running_system(action); }

}  // namespace fleet::protocol
