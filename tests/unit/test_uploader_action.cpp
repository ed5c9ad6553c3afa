// SPDX-License-Identifier: MIT
#include "uploader/protocol/action.hpp"

#include <catch2/catch.hpp>

using namespace fleet::protocol;

namespace {

const Action k_all[] = {Action::switch_, Action::boot, Action::test, Action::dry_activate, Action::build};

}  // namespace

TEST_CASE("actions print and parse as nixos-rebuild spells them") {
  CHECK(to_string(Action::switch_) == "switch");
  CHECK(to_string(Action::dry_activate) == "dry-activate");
  for (Action action : k_all) {
    CHECK(parse_action(to_string(action)) == action);
  }
  CHECK(action_names() == std::vector<std::string>{"switch", "boot", "test", "dry-activate", "build"});
  CHECK(action_names_text() == "switch, boot, test, dry-activate or build");
}

TEST_CASE("an unknown action name parses to nothing") {
  CHECK_FALSE(parse_action(""));
  CHECK_FALSE(parse_action("Switch"));
  CHECK_FALSE(parse_action("dry_activate"));
  CHECK_FALSE(parse_action("switch "));
}

TEST_CASE("each action's predicates say what it does to the target") {
  SECTION("build only builds") {
    CHECK_FALSE(activates(Action::build));
    for (Action action : {Action::switch_, Action::boot, Action::test, Action::dry_activate}) {
      CHECK(activates(action));
    }
  }
  SECTION("switch and boot set the system profile") {
    CHECK(sets_system_profile(Action::switch_));
    CHECK(sets_system_profile(Action::boot));
    CHECK_FALSE(sets_system_profile(Action::test));
    CHECK_FALSE(sets_system_profile(Action::dry_activate));
    CHECK_FALSE(sets_system_profile(Action::build));
  }
  SECTION("switch and test change the running system and await confirmation") {
    for (Action action : k_all) {
      bool now = action == Action::switch_ || action == Action::test;
      CHECK(changes_running_system(action) == now);
      CHECK(awaits_confirmation(action) == now);
    }
  }
  SECTION("dry-activate and build leave the target, secrets included, as it was") {
    for (Action action : k_all) {
      bool dry = action == Action::dry_activate || action == Action::build;
      CHECK(changes_target(action) == !dry);
      CHECK(installs_secrets(action) == !dry);
    }
  }
}
