// SPDX-License-Identifier: MIT
#include "builder/agent_path.hpp"
#include "builder/build_command.hpp"
#include "builder/sudoers_fragment.hpp"
#include "support/temp_dir.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <unistd.h>

using namespace fleet;
using namespace fleet::builder;

namespace {

std::vector<std::string> rules_of(const std::string& fragment) {
  std::vector<std::string> rules;
  std::istringstream lines(fragment);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("fleet ALL=(root) NOPASSWD: ")) {
      rules.push_back(line.substr(std::string_view("fleet ALL=(root) NOPASSWD: ").size()));
    }
  }
  return rules;
}

std::string fragment_for(const PlaceholderValues& values) {
  std::ostringstream out;
  write_sudoers_fragment(out, "fleet", privileged_commands(), values);
  return out.str();
}

// visudo's verdict on `text` as a sudoers file. visudo comes with sudo, which scripts/setup.sh
// installs, so its absence is a broken test machine rather than a reason to skip.
ProcessResult visudo_check(const test::TempDir& dir, const std::string& text) {
  auto visudo = find_on_path("visudo");
  if (!visudo && ::access("/usr/sbin/visudo", X_OK) == 0) {
    visudo = "/usr/sbin/visudo";
  }
  if (!visudo) {
    FAIL("visudo is missing: install sudo (scripts/setup.sh does)");
  }
  auto file = dir / "fleet";
  std::ofstream(file) << text;
  return run_process({{visudo->string(), "-cf", file.string()}, {}, "", std::chrono::seconds{30}});
}

}  // namespace

TEST_CASE("the fragment has one rule per entry and value, the reasons as comments") {
  auto values = host_placeholder_values("/usr/local/bin/fleet-builder", "/usr/bin/systemd-run", "/var/lib/fleet");
  CHECK(values.agent == std::vector<std::string>{"/nix/store/*/bin/fleet-builder", "/usr/local/bin/fleet-builder"});
  CHECK(values.systemd_run ==
        std::vector<std::string>{"/run/current-system/sw/bin/systemd-run", "/usr/bin/systemd-run"});
  auto fragment = fragment_for(values);
  CHECK_THAT(fragment, Catch::Contains("Defaults:fleet !requiretty\n"));
  std::size_t expected = 0;
  for (const auto& entry : privileged_commands()) {
    CHECK_THAT(fragment, Catch::Contains("# " + entry.name + ": " + entry.why + "\n"));
    for (const auto& rule : expand_placeholders(entry.pattern, values)) {
      CHECK_THAT(fragment, Catch::Contains("fleet ALL=(root) NOPASSWD: " + sudoers_escape(rule) + "\n"));
      ++expected;
    }
  }
  CHECK(expected == 6);  // systemd-run: 2 agents x 2 systemd-runs; direct: 2 agents
  CHECK(rules_of(fragment).size() == expected);
  CHECK_THAT(fragment, Catch::Contains("--property\\=ExecStopPost\\=/usr/local/bin/fleet-builder --state-dir "
                                       "/var/lib/fleet recover --id * -- /usr/local/bin/fleet-builder"));
}

TEST_CASE("a store agent and NixOS's systemd-run are not listed twice") {
  auto values = host_placeholder_values("/nix/store/abc-fleet-builder-0.1.0/bin/fleet-builder",
                                        "/run/current-system/sw/bin/systemd-run", "/var/lib/fleet");
  CHECK(values.agent == std::vector<std::string>{"/nix/store/*/bin/fleet-builder"});
  CHECK(values.systemd_run == std::vector<std::string>{"/run/current-system/sw/bin/systemd-run"});
  CHECK(rules_of(fragment_for(values)).size() == 2);
  CHECK(host_placeholder_values("/usr/bin/fleet-builder", std::nullopt, "/srv").systemd_run.size() == 1);
}

TEST_CASE("what sudoers reads specially is escaped, what it cannot match literally is refused") {
  CHECK(sudoers_escape("/bin/x a,b:c=d\\e *") == "/bin/x a\\,b\\:c\\=d\\\\e *");
  CHECK(sudoers_literal("/srv/fleet,a:b=c", "the state directory") == "/srv/fleet,a:b=c");
  CHECK_THROWS_AS(sudoers_literal("relative", "the state directory"), ConfigError);
  CHECK_THROWS_WITH(sudoers_literal("/srv/my fleet", "the state directory"),
                    Catch::Contains("the state directory '/srv/my fleet'"));
  CHECK_THROWS_AS(sudoers_literal("/srv/*", "the agent"), ConfigError);
  CHECK_THROWS_AS(sudoers_literal("/srv/a\\b", "the agent"), ConfigError);
}

TEST_CASE("visudo accepts the fragment, even with characters that need escaping") {
  test::TempDir dir;
  auto plain = visudo_check(dir, fragment_for(host_placeholder_values("/usr/local/bin/fleet-builder",
                                                                       "/usr/bin/systemd-run", "/var/lib/fleet")));
  INFO(plain.out << plain.err_tail);
  CHECK(plain.ok());
  auto odd = visudo_check(dir, fragment_for(host_placeholder_values("/opt/a,b/fleet-builder", "/usr/bin/systemd-run",
                                                                     "/srv/fleet:x,y=z")));
  INFO(odd.out << odd.err_tail);
  CHECK(odd.ok());
  // The check can fail: the same rule with its comma unescaped is a syntax error.
  auto unescaped = visudo_check(dir, "fleet ALL=(root) NOPASSWD: /opt/a,b/fleet-builder --state-dir /srv supervise --id *\n");
  CHECK_FALSE(unescaped.ok());
}

TEST_CASE("sudoers USER checks the user and defaults the state dir as that user's agent would") {
  std::ostringstream out;
  run_sudoers("root", "", out);
  CHECK_THAT(out.str(), Catch::Contains("root ALL=(root) NOPASSWD: /nix/store/*/bin/fleet-builder --state-dir "
                                        "/var/lib/fleet supervise --id *\n"));
  std::ostringstream chosen;
  run_sudoers("root", "/srv/fleet-state", chosen);
  CHECK_THAT(chosen.str(), Catch::Contains("--state-dir /srv/fleet-state supervise --id *\n"));
  std::ostringstream ignored;
  CHECK_THROWS_WITH(run_sudoers("fleet-no-such-user-x", "", ignored), Catch::Contains("no user 'fleet-no-such-user-x'"));
  CHECK_THROWS_AS(run_sudoers("a b", "", ignored), ConfigError);
  CHECK_THROWS_AS(run_sudoers("-rf", "", ignored), ConfigError);
  CHECK_THROWS_AS(run_sudoers("root", "relative", ignored), ConfigError);
}

TEST_CASE("the default state dir: /var/lib/fleet for root and its owner, else under the home") {
  CHECK(default_state_dir_for(0, "/root", "") == "/var/lib/fleet");
  // No test machine has a user 4242424 owning /var/lib/fleet.
  CHECK(default_state_dir_for(4242424, "/home/d", "") == "/home/d/.local/state/fleet-builder");
  CHECK(default_state_dir_for(4242424, "/home/d", "/x/state") == "/x/state/fleet-builder");
  CHECK(default_state_dir_for(4242424, "/home/d", "x/state") == "/home/d/.local/state/fleet-builder");
  // An agent started without HOME once kept its state in /tmp/.local/state, writable by all.
  CHECK_THROWS_WITH(default_state_dir_for(4242424, "", ""), Catch::Contains("give the user a home directory"));
  CHECK_THROWS_AS(default_state_dir_for(4242424, "relative", ""), ConfigError);
  CHECK(default_state_dir_for(0, "", "") == "/var/lib/fleet");
}
