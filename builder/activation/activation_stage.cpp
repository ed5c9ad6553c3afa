// SPDX-License-Identifier: MIT
#include "builder/activation/activation_stage.hpp"

#include "uploader/base/enum_names.hpp"

namespace fleet::builder {
namespace {

using protocol::Action;

constexpr EnumNames<Stage, 6> k_names{{{
    {Stage::started, "started"},
    {Stage::switching, "switching"},
    {Stage::activated, "activated"},
    {Stage::awaiting_confirmation, "awaiting-confirmation"},
    {Stage::committing, "committing"},
    {Stage::ended, "ended"},
}}};

}  // namespace

std::string to_string(Stage stage) { return std::string(k_names.name(stage)); }

std::optional<Stage> parse_stage(std::string_view text) { return k_names.parse(text); }

Undo undo_for(Action action, Stage reached) {
  Undo undo;
  if (reached == Stage::started || reached == Stage::ended) {
    return undo;
  }
  if (protocol::changes_running_system(action)) {
    undo.secrets = true;
    undo.running_system = true;
  }
  if (protocol::sets_system_profile(action) && reached == Stage::committing) {
    undo.profile = true;
  }
  return undo;
}

Recovery decide_recovery(Action action, Stage reached, const std::optional<std::string>& decision) {
  if (reached == Stage::ended) {
    return Recovery::nothing;
  }
  const bool confirmed = decision == "confirmed";
  if (action == Action::switch_ && (reached == Stage::committing || (reached == Stage::awaiting_confirmation && confirmed))) {
    return Recovery::finish_commit;
  }
  if (action == Action::test && reached == Stage::awaiting_confirmation && confirmed) {
    return Recovery::finish_ok;
  }
  return Recovery::roll_back;
}

}  // namespace fleet::builder
