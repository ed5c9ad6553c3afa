// SPDX-License-Identifier: MIT
// Which fleet-builder a delegated target runs: what its own said to the probe, the new system's,
// or the one its build node brings; and the version answers they are judged by.
#include "builder/target_agent.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/agent_version.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::builder;
using Outcome = TargetAgentProbe::Outcome;

namespace {

const std::string k_brought = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-fleet-builder-0.1.0";

std::string answer(const std::string& version, int protocol) {
  return protocol::format_agent_version({"fleet-builder", version, protocol});
}

}  // namespace

TEST_CASE("the probe's answer says whether the target's own agent can be used") {
  const auto ours = protocol::this_agent_version();
  CHECK(read_agent_probe(0, protocol::format_agent_version(ours)).outcome == Outcome::same);
  auto older = read_agent_probe(0, answer("0.0.9", ours.protocol));
  CHECK(older.outcome == Outcome::different);
  CHECK(older.version.version == "0.0.9");
  CHECK(read_agent_probe(0, answer(ours.version, ours.protocol + 1)).outcome == Outcome::different);
  CHECK(read_agent_probe(127, "").outcome == Outcome::missing);
  auto old_agent = read_agent_probe(2, "");
  CHECK(old_agent.outcome == Outcome::unreadable);
  CHECK_THAT(old_agent.detail, Catch::Contains("exited with 2"));
  auto nonsense = read_agent_probe(0, "hello");
  CHECK(nonsense.outcome == Outcome::unreadable);
  CHECK_THAT(describe_probe(nonsense), Catch::Contains("not a JSON object"));
  CHECK(describe_probe(older) == "its fleet-builder is 0.0.9 (protocol " + std::to_string(ours.protocol) + ")");
}

TEST_CASE("a target runs its own agent of this release, else the new system's, else the one brought to it") {
  const auto ours = protocol::this_agent_version();
  int brought_calls = 0;
  auto bring = [&] {
    ++brought_calls;
    return k_brought;
  };
  auto no_system_agent = [] { return std::optional<std::string>(); };

  SECTION("the same release: nothing is brought") {
    auto agent = choose_target_agent(read_agent_probe(0, protocol::format_agent_version(ours)), no_system_agent, bring);
    CHECK(agent.command == "fleet-builder");
    CHECK(agent.copied.empty());
    CHECK(brought_calls == 0);
  }
  SECTION("no agent: the build node's is copied with the closure and run by its store path") {
    auto agent = choose_target_agent(read_agent_probe(127, ""), no_system_agent, bring);
    CHECK(agent.copied == k_brought);
    CHECK(agent.command == k_brought + "/bin/fleet-builder");
    CHECK(agent.why == "target has no fleet-builder: bringing " + k_brought);
  }
  SECTION("another release: the message names both") {
    auto agent = choose_target_agent(read_agent_probe(0, answer("0.0.9", 1)), no_system_agent, bring);
    CHECK(agent.copied == k_brought);
    CHECK(agent.why == "target's fleet-builder 0.0.9 (protocol 1) differs from this build node's " +
                           protocol::describe(ours) + ": bringing " + k_brought);
  }
  SECTION("the new system has this release: it is used and nothing more is copied") {
    const std::string in_system = "/nix/store/abcdefghijklmnopqrstuvwxyz012345-fleet-0.1.0/bin/fleet-builder";
    auto agent = choose_target_agent(read_agent_probe(127, ""), [&] { return std::optional(in_system); }, bring);
    CHECK(agent.command == in_system);
    CHECK(agent.copied.empty());
    CHECK(brought_calls == 0);
    CHECK_THAT(agent.why, Catch::Contains("using the new system's " + in_system));
  }
}

TEST_CASE("a system closure's fleet-builder counts only from the store and only of this release") {
  test::TempDir dir;
  CHECK_FALSE(system_closure_agent((dir / "no-such-system").string()));
  // A real agent of this release, but outside /nix/store: its path would not pass the target's sudo rules.
  std::filesystem::create_directories(dir / "system/sw/bin");
  std::filesystem::create_symlink(FLEET_BUILDER_BINARY, dir / "system/sw/bin/fleet-builder");
  CHECK(local_agent_version(dir / "system/sw/bin/fleet-builder") == protocol::this_agent_version());
  CHECK_FALSE(system_closure_agent((dir / "system").string()));
  // Something that cannot say its version is never used.
  write_file_atomically(dir / "broken", "#!/bin/sh\necho '{\"agent\":\"fleet-builder\"}'\n");
  std::filesystem::permissions(dir / "broken", std::filesystem::perms::owner_all);
  CHECK_FALSE(local_agent_version(dir / "broken"));
  CHECK_FALSE(local_agent_version(dir / "missing"));
}
