// SPDX-License-Identifier: MIT
// The coordinator's side of secrets: who a file is for, whether it is up to date, where its
// path points in the tarball, and the config check that keeps it inside the source.
#include "coordinator/plan/delegation_planner.hpp"
#include "coordinator/run/build_location.hpp"
#include "coordinator/secrets/secret_catalog.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::coordinator;

namespace {

// Real ed25519 public keys, used only as recipients: their stanzas are inspected, never opened.
const std::string k_t1_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const std::string k_t2_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEjN5VC8gxVywjedEYwzdzkfaNphG5iKFc0zZ3W+QXm";

FleetConfig config_with(const std::string& admin, const std::string& source = ".", const std::string& file = "secrets/db.age") {
  auto json = nlohmann::json::parse(R"({
    "version": 1,
    "builders": { "b1": { "host": "10.0.0.11", "systems": ["x86_64-linux"] } },
    "nodes": {
      "t1": { "host": "10.0.0.21", "lowPower": true, "hostKey": ")" + k_t1_key + R"(",
              "secrets": { "db": { "file": "secrets/db.age", "dest": "/run/keys/db", "owner": "postgres", "mode": "0440" } } },
      "t2": { "host": "10.0.0.22", "lowPower": true, "hostKey": ")" + k_t2_key + R"(",
              "secrets": { "db": { "file": "secrets/db.age", "dest": "/run/keys/db", "when": "post-activation" } } },
      "t3": { "host": "10.0.0.23", "lowPower": true }
    }
  })");
  json["admins"] = nlohmann::json::array({admin});
  json["source"] = source;
  json["nodes"]["t1"]["secrets"]["db"]["file"] = file;
  json["nodes"]["t2"]["secrets"]["db"]["file"] = file;
  return parse_fleet_config(json, std::filesystem::temp_directory_path() / "fleet.json");
}

}  // namespace

TEST_CASE("a secret file is for the nodes that reference it and for the admins") {
  auto admin = age::generate_x25519();
  auto config = config_with(admin.recipient().text);
  auto files = secret_files(config);
  REQUIRE(files.size() == 1);
  CHECK(files[0].path == std::filesystem::temp_directory_path() / "secrets/db.age");
  CHECK(files[0].nodes == std::vector<std::string>{"t1", "t2"});
  REQUIRE(files[0].recipients.size() == 3);
  CHECK(files[0].recipients[0].text == k_t1_key);
  CHECK(files[0].recipients[2].text == admin.recipient().text);
}

TEST_CASE("a node without hostKey cannot be a recipient, and the error says how to fix it") {
  auto config = config_with(age::generate_x25519().recipient().text);
  CHECK_THROWS_WITH(recipients_for(config, {"t3"}), Catch::Contains("nodes.t3.hostKey") && Catch::Contains("ssh-keyscan"));
}

TEST_CASE("a file's state compares its stanzas with its recipients") {
  auto admin = age::generate_x25519();
  auto t1 = age::parse_recipient(k_t1_key);
  auto t2 = age::parse_recipient(k_t2_key);
  CHECK(secret_state(age::encrypt("x", {t1, t2}), {t2, t1}) == SecretState::up_to_date);
  CHECK(secret_state(age::encrypt("x", {t1}), {t1, t2}) == SecretState::out_of_date);
  CHECK(secret_state(age::encrypt("x", {t1, t2}), {t1}) == SecretState::out_of_date);
  CHECK(secret_state(age::encrypt("x", {t1, admin.recipient()}), {t1, admin.recipient()}) == SecretState::unknown);
  CHECK(secret_state(age::encrypt("x", {t1}), {t1, admin.recipient()}) == SecretState::out_of_date);
}

TEST_CASE("build locations carry each target's secrets with paths relative to the source") {
  auto config = config_with(age::generate_x25519().recipient().text);
  auto locations = build_locations(config, plan_deployment(config, {"t1", "t2"}), std::nullopt);
  REQUIRE(locations.size() == 1);
  for (const auto& target : locations[0].targets) {
    REQUIRE(target.secrets.size() == 1);
    CHECK(target.secrets[0].file == "secrets/db.age");
    CHECK(target.secrets[0].dest == "/run/keys/db");
    CHECK(target.secrets[0].when == (target.node == "t1" ? "pre-activation" : "post-activation"));
    CHECK(target.secrets[0].owner == (target.node == "t1" ? "postgres" : "root"));
  }
}

TEST_CASE("a secret file outside the source is a configuration error") {
  auto dir = std::filesystem::temp_directory_path() / "fleet-secrets-src";
  std::filesystem::create_directories(dir / "nixos/secrets");
  auto path = dir / "fleet.json";
  auto make = [&](const std::string& file) {
    auto json = nlohmann::json::parse(R"({"version": 1, "source": "nixos",
      "nodes": {"t1": {"host": "h", "build": "self",
                       "secrets": {"db": {"file": "x", "dest": "/run/keys/db"}}}}})");
    json["nodes"]["t1"]["secrets"]["db"]["file"] = file;
    return parse_fleet_config(json, path);
  };
  CHECK_THROWS_WITH(make("secrets/db.age"), Catch::Contains("nodes.t1.secrets.db.file") && Catch::Contains("outside the source"));
  CHECK_THROWS_AS(make("nixos/../secrets/db.age"), ConfigError);
  auto ok = make("nixos/secrets/db.age");
  auto locations = build_locations(ok, plan_deployment(ok, {"t1"}), std::nullopt);
  CHECK(locations.at(0).targets.at(0).secrets.at(0).file == "secrets/db.age");
  std::filesystem::remove_all(dir);
}
