// SPDX-License-Identifier: MIT
// An inventory in the flake: fleet.json's "inventory", merging the flake's nodes with fleet.json's,
// Colmena's deployment options read as fleet nodes, and the laptop's cache of evaluated
// inventories (against scripted agents: support/fake_agents.hpp).
#include "coordinator/config/colmena_hive.hpp"
#include "coordinator/config/fleet_config.hpp"
#include "coordinator/config/inventory_merge.hpp"
#include "coordinator/config/selector.hpp"
#include "coordinator/run/flake_inventory.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/scratch_dir.hpp"

#include "support/fake_agents.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace fleet;
using namespace fleet::coordinator;
using nlohmann::json;
using Catch::Contains;

namespace {

namespace fs = std::filesystem;

const std::string k_flake = "/src/flake.nix";

FleetConfig config_of(json root) {
  root["version"] = 1;
  if (!root.contains("builders")) {
    root["builders"] = {{"b1", {{"systems", {"x86_64-linux", "aarch64-linux"}}}},
                        {"b2", {{"systems", {"x86_64-linux"}}, {"speed", 2}}}};
  }
  return parse_fleet_config(root, fs::temp_directory_path() / "fleet.json");
}

FleetConfig inventory_config(json nodes = json::object(), json defaults = json::object()) {
  json root = {{"inventory", "fleet"}, {"nodes", nodes}};
  if (!defaults.empty()) {
    root["defaults"] = defaults;
  }
  return config_of(root);
}

DeclaredInventory fleet_nodes(json nodes) {
  DeclaredInventory inventory;
  inventory.file = k_flake;
  inventory.path = "fleet.nodes";
  inventory.nodes = std::move(nodes);
  return inventory;
}

// The message of the ConfigError that `f` throws.
template <typename F>
std::string config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("no ConfigError");
  return {};
}

}  // namespace

TEST_CASE("fleet.json may leave the nodes to an inventory in the flake") {
  auto config = inventory_config();
  CHECK(config.inventory == protocol::InventoryKind::fleet);
  CHECK(config.nodes.empty());
  CHECK(config_of({{"inventory", "colmena"}}).inventory == protocol::InventoryKind::colmena);
  CHECK_FALSE(config_of({{"nodes", {{"t1", json::object()}}}}).inventory);

  CHECK_THAT(config_error([] { config_of({{"inventory", "nixops"}}); }),
             Contains("inventory: 'nixops' is not an inventory kind") && Contains("\"colmena\""));
  CHECK_THAT(config_error([] { config_of({{"inventory", "fleet"}, {"builders", json::object()}}); }),
             Contains("inventory: an inventory in the flake is evaluated on a builder, and there is none"));
  CHECK_THAT(config_error([] { config_of({{"builders", json::object()}}); }),
             Contains("no nodes to deploy") && Contains("or \"inventory\""));
  // fleet.json's own nodes are still checked at once, before anything is evaluated.
  CHECK_THAT(config_error([] { inventory_config({{"t1", {{"port", "22"}}}}); }),
             Contains("nodes.t1.port: expected an integer"));
}

TEST_CASE("the flake's nodes are validated like fleet.json's, at their attribute path") {
  auto config = inventory_config(json::object(), {{"user", "deploy"}});
  merge_inventory(config, fleet_nodes({{"web1", {{"host", "10.0.0.1"}, {"tags", {"web"}}, {"system", "aarch64-linux"}}},
                                       {"db1", {{"build", "self"}}}}));
  REQUIRE(config.nodes.size() == 2);
  CHECK(config.nodes.at("web1").host == "10.0.0.1");
  CHECK(config.nodes.at("web1").system == "aarch64-linux");
  CHECK(config.nodes.at("web1").user == "deploy");  // fleet.json's defaults apply to them too
  CHECK(config.nodes.at("web1").tags == std::vector<std::string>{"web"});
  CHECK(config.nodes.at("db1").host == "db1");
  CHECK(config.nodes.at("db1").build == BuildMode::self);

  auto bad = [](json node) {
    return config_error([&] {
      auto fresh = inventory_config();
      merge_inventory(fresh, fleet_nodes({{"web1", node}}));
    });
  };
  CHECK(bad({{"port", "22"}}) == "/src/flake.nix: fleet.nodes.web1.port: expected an integer, got the string \"22\"; "
                                  "write 22 without quotes");
  CHECK_THAT(bad({{"colour", "red"}}), Contains("/src/flake.nix: fleet.nodes.web1.colour: unknown key 'colour'"));
  CHECK_THAT(bad({{"action", "reboot"}}), Contains("/src/flake.nix: fleet.nodes.web1.action"));
  CHECK_THAT(bad({{"system", "riscv64-linux"}, {"lowPower", true}}),
             Contains("/src/flake.nix: fleet.nodes.web1.system: no builder builds riscv64-linux"));
  CHECK_THAT(bad("web"), Contains("/src/flake.nix: fleet.nodes.web1: expected an object, got the string \"web\""));
  CHECK_THAT(config_error([] {
               auto fresh = inventory_config();
               merge_inventory(fresh, fleet_nodes(json::array()));
             }),
             Contains("/src/flake.nix: fleet.nodes: expected an attribute set of nodes, got an array"));
  CHECK_THAT(config_error([] {
               auto fresh = inventory_config();
               merge_inventory(fresh, fleet_nodes({{"-x", json::object()}}));
             }),
             Contains("/src/flake.nix: fleet.nodes[\"-x\"]") || Contains("/src/flake.nix: fleet.nodes.-x"));
  CHECK_THAT(config_error([] {
               auto fresh = inventory_config();
               merge_inventory(fresh, fleet_nodes(json::object()));
             }),
             Contains("/src/flake.nix: fleet.nodes: no nodes to deploy"));
}

TEST_CASE("a node in both places takes fleet.json's keys; system may not differ") {
  auto config = inventory_config({{"web1", {{"host", "192.168.1.5"}, {"tags", {"override"}}}}, {"extra", json::object()}});
  merge_inventory(config, fleet_nodes({{"web1", {{"host", "10.0.0.1"}, {"tags", {"web"}}, {"port", 2222}}}}));
  REQUIRE(config.nodes.size() == 2);  // extra is in fleet.json only
  CHECK(config.nodes.at("web1").host == "192.168.1.5");
  CHECK(config.nodes.at("web1").tags == std::vector<std::string>{"override"});
  CHECK(config.nodes.at("web1").port == 2222);  // a key fleet.json does not set stays the flake's
  CHECK(config.nodes.at("extra").host == "extra");

  auto same = inventory_config({{"web1", {{"system", "x86_64-linux"}}}});
  merge_inventory(same, fleet_nodes({{"web1", {{"system", "x86_64-linux"}}}}));
  CHECK(same.nodes.at("web1").system == "x86_64-linux");

  auto message = config_error([] {
    auto fresh = inventory_config({{"web1", {{"system", "x86_64-linux"}}}});
    merge_inventory(fresh, fleet_nodes({{"web1", {{"system", "aarch64-linux"}}}}));
  });
  CHECK_THAT(message, Contains("fleet.json: nodes.web1.system: \"x86_64-linux\" contradicts fleet.nodes.web1.system = "
                               "\"aarch64-linux\" in /src/flake.nix"));
  // fleet.json's keys are checked at their JSON path once merged.
  CHECK_THAT(config_error([] {
               auto fresh = inventory_config({{"web1", {{"build", "b2"}}}});
               merge_inventory(fresh, fleet_nodes({{"web1", {{"system", "aarch64-linux"}}}}));
             }),
             Contains("fleet.json: nodes.web1.build: builder 'b2' does not build aarch64-linux"));
}

TEST_CASE("Colmena's deployment options become fleet's node keys") {
  json hive = {{"web1",
                {{"deployment",
                  {{"targetHost", "10.0.0.1"}, {"targetPort", 2222}, {"targetUser", "deploy"}, {"tags", {"web", "eu"}},
                   {"buildOnTarget", true}, {"allowLocalDeployment", false}, {"keys", json::array()},
                   {"replaceUnknownProfiles", true}, {"privilegeEscalationCommand", {"sudo", "-H", "--"}},
                   {"sshOptions", json::array()}}},
                 {"system", "aarch64-linux"}}},
               // Colmena's defaults: targetPort null, targetUser "root", tags [], buildOnTarget false.
               {"db1",
                {{"deployment", {{"targetHost", "db1.example"}, {"targetPort", nullptr}, {"targetUser", "root"},
                                 {"tags", json::array()}, {"buildOnTarget", false}}},
                 {"system", nullptr}}},
               {"nouser", {{"deployment", {{"targetHost", "h"}, {"targetUser", nullptr}}}}}};
  auto inventory = from_colmena_hive(hive, k_flake);
  CHECK(inventory.file == k_flake);
  CHECK(inventory.path == "colmenaHive.deploymentConfig");
  CHECK(inventory.nodes["web1"] == json{{"host", "10.0.0.1"}, {"port", 2222}, {"user", "deploy"}, {"tags", {"web", "eu"}},
                                        {"build", "self"}, {"system", "aarch64-linux"}});
  CHECK(inventory.nodes["db1"] == json{{"host", "db1.example"}, {"user", "root"}});
  CHECK(inventory.nodes["nouser"] == json{{"host", "h"}});
  CHECK(inventory.refused.empty());
  CHECK(inventory.notes.empty());  // every other option is at its Colmena default

  auto config = config_of({{"inventory", "colmena"}});
  merge_inventory(config, inventory);
  CHECK(config.nodes.at("web1").build == BuildMode::self);
  CHECK(config.nodes.at("db1").build == BuildMode::automatic);
  CHECK(config.nodes.at("db1").system == "x86_64-linux");
  CHECK(config.nodes.at("nouser").user.empty());  // as ~/.ssh/config says
}

TEST_CASE("Colmena keys and local-only nodes are refused; options fleet does not carry are noted once") {
  json hive = {{"keyed", {{"deployment", {{"targetHost", "k"}, {"keys", {"db-password", "api"}}}}}},
               {"laptop", {{"deployment", {{"targetHost", nullptr}, {"allowLocalDeployment", true}}}}},
               {"a", {{"deployment", {{"targetHost", "a"}, {"sshOptions", {"-J", "jump"}}, {"allowLocalDeployment", true}}}}},
               {"b", {{"deployment", {{"targetHost", "b"}, {"sshOptions", {"-v"}}, {"futureOption", 1}}}}}};
  auto inventory = from_colmena_hive(hive, k_flake);
  CHECK(inventory.nodes.size() == 2);
  REQUIRE(inventory.refused.size() == 2);
  CHECK_THAT(inventory.refused["keyed"],
             Contains("deployment.keys (db-password, api)") && Contains("plaintext") &&
                 Contains("fleet secrets encrypt db-password --for keyed") && Contains("deployment.fleet.secrets"));
  CHECK_THAT(inventory.refused["laptop"], Contains("targetHost is null") && Contains("give it a targetHost"));
  CHECK(inventory.notes == std::vector<std::string>{
                               "deployment.allowLocalDeployment is not carried over (a): fleet deploys over SSH only",
                               "deployment.futureOption is not carried over (b)",
                               "deployment.sshOptions is not carried over (a, b): put SSH settings in ~/.ssh/config"});

  // A refused node that fleet.json names is an error; otherwise the others deploy.
  auto config = config_of({{"inventory", "colmena"}, {"nodes", {{"keyed", {{"user", "x"}}}}}});
  CHECK_THAT(config_error([&] { merge_inventory(config, inventory); }),
             Contains("fleet.json: nodes.keyed: this node of colmenaHive.deploymentConfig is not deployed by fleet"));
  auto plain = config_of({{"inventory", "colmena"}});
  merge_inventory(plain, inventory);
  CHECK(plain.nodes.size() == 2);
  CHECK(plain.refused_nodes.size() == 2);
  CHECK(select_nodes(plain, "") == std::vector<std::string>{"a", "b"});
  CHECK_THAT(config_error([&] { select_nodes(plain, "keyed"); }),
             Contains("--on: 'keyed' is not deployed by fleet: its deployment.keys"));
}

TEST_CASE("Colmena values of the wrong type are named by their option") {
  auto bad = [](json deployment) {
    return config_error([&] { from_colmena_hive({{"web1", {{"deployment", deployment}}}}, k_flake); });
  };
  CHECK(bad({{"targetHost", "h"}, {"targetPort", "22"}}) ==
        "/src/flake.nix: colmenaHive.deploymentConfig.web1.targetPort: expected an integer or null, got the string "
        "\"22\"; give it an integer");
  CHECK_THAT(bad({{"targetHost", "h"}, {"targetPort", 70000}}),
             Contains("colmenaHive.deploymentConfig.web1.targetPort: ") && Contains("70000"));
  CHECK_THAT(bad({{"targetHost", 5}}), Contains("colmenaHive.deploymentConfig.web1.targetHost: expected a string"));
  CHECK_THAT(bad({{"targetHost", "h"}, {"tags", {"ok", 3}}}), Contains("colmenaHive.deploymentConfig.web1.tags"));
  CHECK_THAT(bad({{"targetHost", "h"}, {"buildOnTarget", "yes"}}), Contains("web1.buildOnTarget: expected a boolean"));
  CHECK_THAT(bad({{"targetHost", "h"}, {"targetUser", "-oProxyCommand=x"}}), Contains("web1.targetUser"));
  CHECK_THAT(config_error([] { from_colmena_hive({{"web1", "x"}}, k_flake); }),
             Contains("colmenaHive.deploymentConfig.web1: expected the node's deployment options"));
  CHECK_THAT(config_error([] { from_colmena_hive(json::array(), k_flake); }),
             Contains("colmenaHive.deploymentConfig: expected an attribute set of nodes"));
}

TEST_CASE("an evaluated inventory is cached by source hash; a changed source is evaluated again") {
  auto dir = ScratchDir::create_in(fs::temp_directory_path(), "fleet-inventory-cache-");
  auto config = inventory_config();
  test::FakeAgents agents;
  agents.scripts["b1"].inventory = {{"t1", {{"host", "10.0.0.1"}}}};
  agents.scripts["b2"].inventory = {{"t1", {{"host", "10.0.0.2"}}}};
  tarball::PackedTarball packed;
  packed.content_hash = std::string(64, 'a');
  packed.compressed = "zstd";
  std::vector<std::string> said;
  auto say = [&](const std::string& text) { said.push_back(text); };
  auto no_base = [](const std::string&) { return std::optional<std::string>(); };

  // b2 is faster, so it is asked first.
  auto first = fetch_inventory(config, protocol::InventoryKind::fleet, packed, no_base, agents.factory(), dir.path(), say);
  CHECK_FALSE(first.from_cache);
  CHECK(first.builder == "b2");
  CHECK(first.value == agents.scripts["b2"].inventory);
  CHECK(agents.calls() == std::vector<std::string>{"b2 connect", "b2 version", "b2 upload", "b2 inventory fleet"});
  CHECK_THAT(said.at(0), Contains("evaluating the inventory on b2"));

  auto again = fetch_inventory(config, protocol::InventoryKind::fleet, packed, no_base, agents.factory(), dir.path(), say);
  CHECK(again.from_cache);
  CHECK(again.builder == "b2");
  CHECK(again.value == first.value);
  CHECK(agents.calls().size() == 4);  // nothing contacted

  // Another kind, another flake directory or another source: evaluated again.
  fetch_inventory(config, protocol::InventoryKind::colmena, packed, no_base, agents.factory(), dir.path(), say);
  CHECK(agents.calls().back() == "b2 inventory colmena");
  auto elsewhere = config;
  elsewhere.flake = "sub";
  CHECK_FALSE(fetch_inventory(elsewhere, protocol::InventoryKind::fleet, packed, no_base, agents.factory(), dir.path(), say)
                  .from_cache);
  packed.content_hash = std::string(64, 'b');
  CHECK_FALSE(fetch_inventory(config, protocol::InventoryKind::fleet, packed, no_base, agents.factory(), dir.path(), say)
                  .from_cache);

  // A torn or foreign cache file is a miss, not an error.
  packed.content_hash = std::string(64, 'c');
  std::ofstream(dir.path() / (packed.content_hash + "-fleet.json")) << "{\"flake\": \".\", \"inventory\"";
  CHECK_FALSE(fetch_inventory(config, protocol::InventoryKind::fleet, packed, no_base, agents.factory(), dir.path(), say)
                  .from_cache);
}

TEST_CASE("the inventory is evaluated on the next builder when one cannot be used, never after nix failed") {
  auto dir = ScratchDir::create_in(fs::temp_directory_path(), "fleet-inventory-cache-");
  auto config = inventory_config();
  tarball::PackedTarball packed;
  packed.content_hash = std::string(64, 'a');
  std::vector<std::string> said;
  auto say = [&](const std::string& text) { said.push_back(text); };
  auto no_base = [](const std::string&) { return std::optional<std::string>(); };

  test::FakeAgents agents;
  agents.scripts["b2"].unreachable = true;
  agents.scripts["b1"].inventory = {{"t1", json::object()}};
  auto fetched = fetch_inventory(config, protocol::InventoryKind::fleet, packed, no_base, agents.factory(), dir.path(), say);
  CHECK(fetched.builder == "b1");
  CHECK(std::any_of(said.begin(), said.end(),
                    [](const auto& s) { return s.find("cannot evaluate the inventory on b2") != std::string::npos; }));

  test::FakeAgents broken;
  broken.scripts["b2"].inventory_error = "error: attribute 'fleet' missing";
  packed.content_hash = std::string(64, 'd');
  CHECK_THROWS_AS(fetch_inventory(config, protocol::InventoryKind::fleet, packed, no_base, broken.factory(), dir.path(), say),
                  InventoryError);
  CHECK(broken.calls().back() == "b2 inventory fleet");  // b1 was not asked

  test::FakeAgents none;
  none.scripts["b1"].unreachable = true;
  none.scripts["b2"].no_agent = true;
  try {
    fetch_inventory(config, protocol::InventoryKind::fleet, packed, no_base, none.factory(), dir.path(), say);
    FAIL("no error");
  } catch (const NodeError& e) {
    CHECK_THAT(std::string(e.what()), Contains("no builder could evaluate the inventory") && Contains("b1: ") &&
                                          Contains("b2: "));
  }
}
