// SPDX-License-Identifier: MIT
#include "builder/activation/supervisor_launch.hpp"
#include "builder/privilege.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace fleet;
using namespace fleet::builder;

namespace {

const std::string k_agent = "/nix/store/0c1h4sb7z3kpnrbzvqhfkv8v4z2k2y3a-fleet-builder-0.1.0/bin/fleet-builder";
const std::string k_dir = "/var/lib/fleet";
const std::string k_id = "20250101T000000-3f2a";

// The supervisor start with systemd, exactly as the shared design spells it.
std::vector<std::string> systemd_start(const std::string& systemd_run, const std::string& agent, const std::string& dir,
                                       const std::string& unit_prefix = "fleet-activation-") {
  return {systemd_run,
          "--unit=" + unit_prefix + k_id,
          "--collect",
          "--service-type=exec",
          "--quiet",
          "--property=ExecStopPost=" + agent + " --state-dir " + dir + " recover --id " + k_id,
          "--",
          agent,
          "--state-dir",
          dir,
          "supervise",
          "--id",
          k_id};
}

std::vector<std::string> direct_start(const std::string& agent, const std::string& dir) {
  return {agent, "--state-dir", dir, "supervise", "--id", k_id};
}

std::string allowed_by(const std::vector<std::string>& argv) {
  const auto* entry = find_privileged_command(privileged_commands(), argv);
  return entry == nullptr ? "" : entry->name;
}

}  // namespace

TEST_CASE("the compiled-in list has the two supervisor starts, each with a reason") {
  const auto& commands = privileged_commands();
  REQUIRE(commands.size() == 2);
  for (const auto& entry : commands) {
    CHECK_FALSE(entry.why.empty());
  }
}

TEST_CASE("the supervisor starts the agent builds are in the list") {
  for (const char* systemd_run : {"/usr/bin/systemd-run", "/run/current-system/sw/bin/systemd-run"}) {
    CHECK(allowed_by(supervisor_argv({k_agent, k_dir, k_id, std::filesystem::path(systemd_run)})) == "supervisor-systemd");
  }
  CHECK(allowed_by(supervisor_argv({"/usr/local/bin/fleet-builder", k_dir, k_id, std::nullopt})) == "supervisor-direct");
}

TEST_CASE("the supervisor starts of the shared design are in the list") {
  CHECK(allowed_by(systemd_start("/usr/bin/systemd-run", k_agent, k_dir)) == "supervisor-systemd");
  CHECK(allowed_by(systemd_start("/run/current-system/sw/bin/systemd-run", "/usr/local/bin/fleet-builder",
                                 "/home/deploy/.local/state/fleet-builder")) == "supervisor-systemd");
  CHECK(allowed_by(direct_start(k_agent, k_dir)) == "supervisor-direct");
  CHECK(allowed_by(direct_start("/opt/fleet/bin/fleet-builder", "/srv/fleet")) == "supervisor-direct");
}

TEST_CASE("commands outside the list are refused") {
  CHECK(allowed_by({"nix-env", "-p", "/nix/var/nix/profiles/system", "--set", k_agent}).empty());
  CHECK(allowed_by({"/nix/store/x-nixos-system/bin/switch-to-configuration", "switch"}).empty());
  CHECK(allowed_by({"nixos-rebuild", "switch", "--flake", "path:/x#web"}).empty());
  CHECK(allowed_by({"sh", "-c", "fleet-builder --state-dir /var/lib/fleet supervise --id 1"}).empty());
  CHECK(allowed_by({"/bin/sh", "-c", k_agent + " --state-dir /var/lib/fleet supervise --id 1"}).empty());
  CHECK(allowed_by(systemd_start("/usr/bin/systemd-run", k_agent, k_dir, "other-")).empty());
  CHECK(allowed_by({}).empty());
}

TEST_CASE("each placeholder is one absolute path, the same wherever it is used") {
  // A relative agent is found through PATH, which sudo's rules cannot pin.
  CHECK(allowed_by(direct_start("fleet-builder", k_dir)).empty());
  CHECK(allowed_by(systemd_start("systemd-run", k_agent, k_dir)).empty());
  CHECK(allowed_by(direct_start(k_agent, "relative/state")).empty());
  // recover and supervise run the same agent on the same state dir.
  auto other_agent = systemd_start("/usr/bin/systemd-run", k_agent, k_dir);
  other_agent[7] = "/usr/local/bin/fleet-builder";
  CHECK(allowed_by(other_agent).empty());
  auto other_dir = systemd_start("/usr/bin/systemd-run", k_agent, k_dir);
  other_dir[9] = "/tmp/elsewhere";
  CHECK(allowed_by(other_dir).empty());
}

TEST_CASE("sudo_argv prefixes a listed command and names an unlisted one") {
  auto argv = sudo_argv(direct_start(k_agent, k_dir));
  REQUIRE(argv.size() == 9);
  CHECK(std::vector<std::string>(argv.begin(), argv.begin() + 3) == std::vector<std::string>{"sudo", "-n", "--"});
  CHECK(argv[3] == k_agent);
  try {
    sudo_argv({"nix-env", "--switch-generation", "12"});
    FAIL("nix-env went through sudo");
  } catch (const InternalError& e) {
    CHECK_THAT(e.what(), Catch::Contains("not in the privileged-command list: `nix-env --switch-generation 12`") &&
                             Catch::Contains("add it to nix/privileged-commands.json"));
  }
}

TEST_CASE("sudoers wildcards: within one path component in the command, anything in the arguments") {
  const std::string store = "/nix/store/*/bin/fleet-builder";
  CHECK(sudoers_pattern_matches(store + " supervise", {k_agent, "supervise"}));
  CHECK_FALSE(sudoers_pattern_matches(store + " supervise", {"/nix/store/a/b/bin/fleet-builder", "supervise"}));
  CHECK_FALSE(sudoers_pattern_matches(store + " supervise", {k_agent, "supervise", "--id", "1"}));
  CHECK(sudoers_pattern_matches("/bin/x --id *", {"/bin/x", "--id", "1", "--and", "/more"}));
  CHECK(sudoers_pattern_matches("/bin/x a*b", {"/bin/x", "a", "b"}));
  CHECK(sudoers_pattern_matches("/bin/x --p=" + store + " y", {"/bin/x", "--p=" + k_agent + " y"}));
  CHECK(sudoers_pattern_matches("/bin/x --p=" + store + " y", {"/bin/x", "--p=" + k_agent, "y"}));
  CHECK(sudoers_pattern_matches("/bin/x a\\*", {"/bin/x", "a*"}));
  CHECK_FALSE(sudoers_pattern_matches("/bin/x a\\*", {"/bin/x", "ab"}));
  CHECK(sudoers_pattern_matches("/bin/x ?", {"/bin/x", "z"}));
  CHECK_FALSE(sudoers_pattern_matches("/bin/x y", {"/bin/xx", "y"}));
}

TEST_CASE("a malformed list entry is refused with its name") {
  auto parse = [](const std::string& pattern) {
    parse_privileged_commands(R"({"commands": [{"name": "n", "why": "w", "pattern": ")" + pattern + R"("}]})");
  };
  CHECK_NOTHROW(parse("@AGENT@ supervise --id *"));
  CHECK_THROWS_WITH(parse("@AGENT@"), Catch::Contains("'n'") && Catch::Contains("any arguments"));
  CHECK_THROWS_WITH(parse("@AGENTS@ x"), Catch::Contains("absolute path"));
  CHECK_THROWS_WITH(parse("/bin/x @STATEDIR@"), Catch::Contains("unknown placeholder"));
  CHECK_THROWS_WITH(parse("fleet-builder x"), Catch::Contains("absolute path"));
  CHECK_THROWS_WITH(parse("/bin/x [ab]"), Catch::Contains("avoid"));
  CHECK_THROWS_AS(parse_privileged_commands(R"({"commands": [{"name": "n"}]})"), InternalError);
}

TEST_CASE("placeholders expand to every combination, one value per placeholder per line") {
  PlaceholderValues values{{"/nix/store/*/bin/fleet-builder", "/usr/bin/fleet-builder"},
                           {"/usr/bin/systemd-run"},
                           {"/var/lib/fleet"}};
  CHECK(expand_placeholders("@SYSTEMD_RUN@ a=@AGENT@ @STATE_DIR@ -- @AGENT@", values) ==
        std::vector<std::string>{"/usr/bin/systemd-run a=/nix/store/*/bin/fleet-builder /var/lib/fleet -- "
                                 "/nix/store/*/bin/fleet-builder",
                                 "/usr/bin/systemd-run a=/usr/bin/fleet-builder /var/lib/fleet -- /usr/bin/fleet-builder"});
  values.agent = {"/a", "/a"};
  CHECK(expand_placeholders("@AGENT@ x", values) == std::vector<std::string>{"/a x"});
  values.agent = {"/@STATE_DIR@"};
  CHECK(expand_placeholders("@AGENT@ x", values) == std::vector<std::string>{"/@STATE_DIR@ x"});
}

TEST_CASE("every expanded rule admits the design's argv for its values") {
  PlaceholderValues values{{k_agent}, {"/usr/bin/systemd-run"}, {k_dir}};
  const auto& commands = privileged_commands();
  REQUIRE(commands.size() == 2);
  auto systemd_rules = expand_placeholders(commands[0].pattern, values);
  auto direct_rules = expand_placeholders(commands[1].pattern, values);
  REQUIRE(systemd_rules.size() == 1);
  REQUIRE(direct_rules.size() == 1);
  CHECK(sudoers_pattern_matches(systemd_rules[0], systemd_start("/usr/bin/systemd-run", k_agent, k_dir)));
  CHECK_FALSE(sudoers_pattern_matches(systemd_rules[0], systemd_start("/usr/bin/systemd-run", k_agent, "/srv")));
  CHECK(sudoers_pattern_matches(direct_rules[0], direct_start(k_agent, k_dir)));
  CHECK_FALSE(sudoers_pattern_matches(direct_rules[0], direct_start("/usr/bin/fleet-builder", k_dir)));
}
