// SPDX-License-Identifier: MIT
#include "uploader/protocol/action.hpp"

#include "uploader/base/enum_names.hpp"

namespace fleet::protocol {
namespace {

constexpr EnumNames<Action, 5> k_names{{{
    {Action::switch_, "switch"},
    {Action::boot, "boot"},
    {Action::test, "test"},
    {Action::dry_activate, "dry-activate"},
    {Action::build, "build"},
}}};

}  // namespace

std::string to_string(Action action) { return std::string(k_names.name(action)); }

std::optional<Action> parse_action(std::string_view text) { return k_names.parse(text); }

const std::vector<std::string>& action_names() {
  static const std::vector<std::string> k_list = [] {
    std::vector<std::string> names;
    for (const auto& entry : k_names.entries) {
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
