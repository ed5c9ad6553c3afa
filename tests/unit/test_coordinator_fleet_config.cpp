// SPDX-License-Identifier: MIT
#include "coordinator/config/fleet_config.hpp"
#include "support/golden.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

using namespace fleet;
using namespace fleet::coordinator;
using fleet::test::check_golden;
using fleet::test::write_file;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A small valid config that each error case breaks in one place.
json base_config() {
  return json::parse(R"({
    "version": 1,
    "builders": { "b1": { "host": "b1.example", "systems": ["x86_64-linux"], "site": "home" },
                  "b2": { "host": "b2.example", "systems": ["x86_64-linux"] } },
    "defaults": { "user": "root" },
    "nodes": { "pi1": { "host": "pi1.example", "system": "x86_64-linux", "lowPower": true,
                        "secrets": { "wifi": { "file": "secrets/wifi.age", "dest": "/run/keys/wifi" } } } }
  })");
}

// The ConfigError message of loading `text` as <scratch>/fleet.json, with the scratch directory
// stripped so it reads as the user would see it from that directory.
std::string load_error(const std::string& text) {
  test::TempDir dir;
  write_file(dir.path() / "fleet.json", text);
  try {
    load_fleet_config(dir.path() / "fleet.json");
  } catch (const ConfigError& error) {
    std::string message = error.what();
    const std::string prefix = dir.path().string() + "/";
    for (auto at = message.find(prefix); at != std::string::npos; at = message.find(prefix)) {
      message.erase(at, prefix.size());
    }
    return message + "\n";
  }
  return "(no error)\n";
}

void check_error(const std::string& name, const json& config) {
  check_golden("config-errors/" + name + ".txt", load_error(config.dump(2)));
}

}  // namespace

TEST_CASE("a full fleet.json parses with every field") {
  const fs::path file = fleet::test::data_path("config/full-fleet.json");
  FleetConfig config = load_fleet_config(file);
  const fs::path dir = fs::canonical(file.parent_path());

  CHECK(config.file == fs::absolute(file).lexically_normal());
  CHECK(config.source_dir == dir / "nixos");
  CHECK(config.flake == "hosts");
  CHECK(config.exclude == std::vector<std::string>{".git", "result", "*.swp"});
  CHECK(config.nix_options == std::map<std::string, std::string>{{"cores", "2"}, {"sandbox", "false"}});
  REQUIRE(config.admins.size() == 1);
  CHECK(config.secrets_dir == config.file.parent_path() / "keys");

  REQUIRE(config.builders.size() == 2);
  const BuilderSpec& b1 = config.builders.at("b1");
  CHECK(b1.name == "b1");
  CHECK(b1.host == "b1.example");
  CHECK(b1.user == "builder");
  CHECK(b1.port == 2222);
  CHECK(b1.systems == std::vector<std::string>{"x86_64-linux", "aarch64-linux"});
  CHECK(b1.max_jobs == 4);
  CHECK(b1.speed == 1.5);
  CHECK(b1.site == "home");
  const BuilderSpec& b2 = config.builders.at("b2");
  CHECK(b2.user == "deploy");  // defaults.user applies to builders too
  CHECK(b2.port == 0);
  CHECK(b2.max_jobs == 1);
  CHECK(b2.speed == 1);

  REQUIRE(config.nodes.size() == 4);
  const NodeSpec& pi1 = config.nodes.at("pi1");
  CHECK(pi1.host == "pi1.example");
  CHECK(pi1.user == "deploy");
  CHECK(pi1.port == 22);
  CHECK(pi1.system == "aarch64-linux");
  CHECK(pi1.tags == std::vector<std::string>{"audio", "low"});
  CHECK(pi1.build == BuildMode::automatic);
  CHECK(pi1.low_power);
  CHECK(pi1.site == "home");
  CHECK(pi1.host_key.rfind("ssh-ed25519 AAAA", 0) == 0);
  CHECK(pi1.action == protocol::Action::boot);
  REQUIRE(pi1.secrets.size() == 1);
  const SecretSpec& wifi = pi1.secrets[0];
  CHECK(wifi.name == "wifi");
  CHECK(wifi.file == "nixos/secrets/wifi.age");
  CHECK(wifi.dest == "/run/keys/wifi");
  CHECK(wifi.owner == "root");
  CHECK(wifi.group == "wheel");
  CHECK(wifi.mode == "0440");
  CHECK(wifi.when == "post-activation");
  CHECK_FALSE(wifi.required);
  REQUIRE(pi1.health_checks.size() == 5);
  CHECK(pi1.health_checks[0].type == "command");
  CHECK(pi1.health_checks[0].params == json{{"command", "systemctl is-system-running --wait"}, {"timeout", 60}});
  CHECK(pi1.health_checks[1].type == "tcp");
  CHECK(pi1.health_checks[1].params.at("port") == 22);
  CHECK(pi1.health_checks[1].params.at("retries") == 3);
  CHECK(pi1.health_checks[2].type == "http");
  CHECK(pi1.health_checks[3].params.at("units") == json{"sshd.service"});
  CHECK(pi1.health_checks[4].type == "system-running");
  CHECK(pi1.health_checks[4].params == json::object());
  CHECK(pi1.pre_activate_hook == "echo pre");
  CHECK(pi1.post_activate_hook == "echo post");

  const NodeSpec& web1 = config.nodes.at("web-1");
  CHECK(web1.host == "10.0.0.5");
  CHECK(web1.user == "root");
  CHECK(web1.port == 2022);
  CHECK(web1.system == "x86_64-linux");
  CHECK(web1.build == BuildMode::self);
  CHECK(web1.action == protocol::Action::switch_);
  CHECK(web1.secrets.empty());

  const NodeSpec& web2 = config.nodes.at("web-2");
  CHECK(web2.host == "web-2");  // the node name is the default host, as an ~/.ssh/config alias
  CHECK(web2.build == BuildMode::pinned);
  CHECK(web2.pinned_builder == "b2");
  CHECK(to_string(web2.build, web2.pinned_builder) == "b2");
  CHECK(config.nodes.at("db-1").build == BuildMode::delegate);
}

TEST_CASE("defaults of a minimal fleet.json") {
  test::TempDir dir;
  FleetConfig config = parse_fleet_config(json{{"version", 1}, {"nodes", {{"t1", json::object()}}}},
                                          dir.path() / "fleet.json");
  CHECK(config.source_dir == dir.path());
  CHECK(config.flake == ".");
  CHECK(config.exclude == std::vector<std::string>{".git", "result"});
  CHECK(config.secrets_dir == dir.path() / "secrets");
  const NodeSpec& t1 = config.nodes.at("t1");
  CHECK(t1.host == "t1");
  CHECK(t1.user.empty());
  CHECK(t1.port == 0);
  CHECK(t1.system == "x86_64-linux");
  CHECK(t1.build == BuildMode::automatic);
  CHECK_FALSE(t1.action.has_value());
  CHECK_FALSE(t1.substitute_on_target);
}

TEST_CASE("substituteOnTarget is the node's own, else the defaults'") {
  test::TempDir dir;
  FleetConfig config = parse_fleet_config(
      json::parse(R"({"version": 1, "defaults": {"substituteOnTarget": true},
                      "nodes": {"inherits": {}, "refuses": {"substituteOnTarget": false}}})"),
      dir.path() / "fleet.json");
  CHECK(config.nodes.at("inherits").substitute_on_target);
  CHECK_FALSE(config.nodes.at("refuses").substitute_on_target);
  CHECK_THROWS_WITH(parse_fleet_config(json::parse(R"({"version": 1, "nodes": {"t1": {"substituteOnTarget": "yes"}}})"),
                                       dir.path() / "fleet.json"),
                    Catch::Contains("nodes.t1.substituteOnTarget: expected true or false"));
}

TEST_CASE("malformed fleet.json files give golden error messages") {
  json config = base_config();
  auto& pi1 = config["nodes"]["pi1"];

  SECTION("JSON syntax error") {
    check_golden("config-errors/json-syntax.txt",
                 load_error("{\n  \"version\": 1,\n  \"nodes\": {\n    \"t1\": { \"host\": \"t1\" },\n  }\n}\n"));
  }
  SECTION("duplicate key") {
    check_golden("config-errors/duplicate-key.txt",
                 load_error(R"({"version": 1, "nodes": {"t1": {"healthChecks": [{"type": "tcp"},)"
                            R"( {"type": "tcp", "port": 22, "port": 23}]}, "t1": {}}})"));
  }
  SECTION("version 2") {
    config["version"] = 2;
    config["newKey"] = true;
    check_error("version-2", config);
  }
  SECTION("unknown top-level key with a suggestion") {
    config["nixOption"] = {{"sandbox", "false"}};
    check_error("unknown-top-level-key", config);
  }
  SECTION("unknown top-level key without a close match") {
    config["colour"] = "blue";
    check_error("unknown-top-level-key-no-match", config);
  }
  SECTION("unknown node key") {
    pi1["lowpower"] = true;
    check_error("unknown-node-key", config);
  }
  SECTION("port given as a string") {
    pi1["port"] = "22";
    check_error("wrong-type-port", config);
  }
  SECTION("bad build mode") {
    pi1["build"] = "delegat";
    check_error("bad-build-mode", config);
  }
  SECTION("pin to an unknown builder") {
    pi1["build"] = "b9";
    check_error("pin-unknown-builder", config);
  }
  SECTION("pin to a builder without the node's system") {
    pi1["system"] = "aarch64-linux";
    pi1["build"] = "b1";
    check_error("pin-wrong-system", config);
  }
  SECTION("low-power node no builder can build") {
    pi1["system"] = "aarch64-linux";
    check_error("unbuildable-node", config);
  }
  SECTION("delegated node no builder can build") {
    pi1["system"] = "riscv64-linux";
    pi1["lowPower"] = false;
    pi1["build"] = "delegate";
    check_error("unbuildable-delegate", config);
  }
  SECTION("bad action") {
    pi1["action"] = "swtich";
    check_error("bad-action", config);
  }
  SECTION("host that ssh would read as an option") {
    pi1["host"] = "-oProxyCommand=evil";
    check_error("bad-host", config);
  }
  SECTION("host with shell syntax a ProxyCommand would run") {
    for (const char* host : {"pi1|reboot", "pi1&x", "pi1<x", "pi1>x", "$(x)", "pi1;x", "`x`", "[::1]"}) {
      pi1["host"] = host;
      CHECK_THAT(load_error(config.dump(2)), Catch::Contains("which no host name or address has"));
    }
    pi1["host"] = "pi1|reboot";
    check_error("host-shell-syntax", config);
    for (const char* host : {"pi1.lab.example", "10.0.0.7", "fe80::1", "pi_1-a"}) {
      pi1["host"] = host;
      CHECK(load_error(config.dump(2)) == "(no error)\n");
    }
  }
  SECTION("user with whitespace") {
    config["defaults"]["user"] = "root admin";
    check_error("bad-user", config);
  }
  SECTION("port out of range") {
    config["builders"]["b1"]["port"] = 70000;
    check_error("port-out-of-range", config);
  }
  SECTION("bad system") {
    pi1["system"] = "x86-64 linux";
    check_error("bad-system", config);
  }
  SECTION("bad node name") {
    config["nodes"]["-evil"] = json::object();
    check_error("bad-node-name", config);
  }
  SECTION("missing source directory") {
    config["source"] = "missing";
    check_error("missing-source-dir", config);
  }
  SECTION("flake outside the source") {
    config["flake"] = "..";
    check_error("flake-outside-source", config);
  }
  SECTION("malformed host key") {
    pi1["hostKey"] = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    check_error("host-key-malformed", config);
  }
  SECTION("host key spanning two lines") {
    pi1["hostKey"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6\nUOoqKLsabgH5C9okWi0dh2l9GKJl";
    check_error("host-key-two-lines", config);
  }
  SECTION("bad secret mode") {
    pi1["secrets"]["wifi"]["mode"] = "0999";
    check_error("bad-secret-mode", config);
  }
  SECTION("secret mode as a number") {
    pi1["secrets"]["wifi"]["mode"] = 400;
    check_error("secret-mode-number", config);
  }
  SECTION("secret installed into the store") {
    pi1["secrets"]["wifi"]["dest"] = "/nix/store/wifi";
    check_error("secret-dest-in-store", config);
  }
  SECTION("bad secret time") {
    pi1["secrets"]["wifi"]["when"] = "later";
    check_error("bad-secret-when", config);
  }
  SECTION("unknown health check type") {
    pi1["healthChecks"] = json::array({{{"type", "ping"}}});
    check_error("health-check-unknown-type", config);
  }
  SECTION("tcp health check without a port") {
    pi1["healthChecks"] = json::array({{{"type", "tcp"}, {"host", "localhost"}}});
    check_error("health-check-tcp-no-port", config);
  }
  SECTION("key of another health check type") {
    pi1["healthChecks"] = json::array({{{"type", "command"}, {"command", "true"}, {"port", 22}}});
    check_error("health-check-foreign-key", config);
  }
  SECTION("builder without systems") {
    config["builders"]["b2"].erase("systems");
    check_error("builder-no-systems", config);
  }
  SECTION("nixOptions value that is not a string") {
    config["nixOptions"] = {{"sandbox", false}};
    check_error("nix-option-not-string", config);
  }
  SECTION("bad admin recipient") {
    config["admins"] = {"age1ok000000000000", "bob@example.com"};
    check_error("bad-admin", config);
  }
  SECTION("no nodes") {
    config["nodes"] = json::object();
    check_error("no-nodes", config);
  }
}

TEST_CASE("a number too large for JSON's 64 bits is a configuration error, not an internal one") {
  // Found by tests/fuzz/fuzz_config: nlohmann reports it as out_of_range, not as a parse error.
  CHECK(load_error(R"({"version": 1, "evalMemoryMB": 8e27646336})") ==
        "fleet.json: invalid JSON: number overflow parsing '8e27646336'; write a smaller number (JSON numbers "
        "here must fit in 64 bits)\n");
  CHECK(load_error("8e27646336{") == "fleet.json: invalid JSON: number overflow parsing '8e27646336'; write a "
                                     "smaller number (JSON numbers here must fit in 64 bits)\n");
}

TEST_CASE("a fleet.json nested past any sane depth is a configuration error, not a crash") {
  const std::string deep = R"({"version": 1, "x": )" + std::string(200000, '[') + std::string(200000, ']') + "}";
  CHECK(load_error(deep) ==
        "fleet.json: nests arrays and objects deeper than 128 levels; flatten it: fleet.json needs a handful of levels\n");
}

TEST_CASE("an unreadable fleet.json names the file") {
  CHECK_THROWS_AS(load_fleet_config("/nonexistent/fleet.json"), ConfigError);
  CHECK_THROWS_WITH(load_fleet_config("/nonexistent/fleet.json"),
                    Catch::StartsWith("/nonexistent/fleet.json: cannot be read"));
}

TEST_CASE("find_fleet_config searches upward") {
  test::TempDir dir;
  const fs::path deep = dir.path() / "a" / "b" / "c";
  fs::create_directories(deep);

  SECTION("finds the file in a parent directory") {
    write_file(dir.path() / "a" / "fleet.json", "{}");
    CHECK(find_fleet_config(deep) == dir.path() / "a" / "fleet.json");
  }
  SECTION("the nearest one wins") {
    write_file(dir.path() / "a" / "fleet.json", "{}");
    write_file(deep / "fleet.json", "{}");
    CHECK(find_fleet_config(deep) == deep / "fleet.json");
  }
  SECTION("says where it looked when there is none") {
    // The search goes up to /, out of the temp directory: a stray fleet.json above it would be
    // found, so say which one instead of failing on a confusing message or passing unchecked.
    for (fs::path above = dir.path().parent_path();; above = above.parent_path()) {
      if (fs::exists(above / "fleet.json")) {
        FAIL((above / "fleet.json").string() << " lies above the test's temp directory and would be found; "
                                               "remove it or point TMPDIR at a directory without one above it");
      }
      if (above == above.root_path()) {
        break;
      }
    }
    CHECK_THROWS_AS(find_fleet_config(deep), ConfigError);
    CHECK_THROWS_WITH(find_fleet_config(deep), Catch::Contains("not found in " + deep.string()) &&
                                                   Catch::Contains("pass -c"));
  }
}
