// SPDX-License-Identifier: MIT
#include "builder/activation/activation_stage.hpp"
#include "builder/activation/activation_store.hpp"
#include "builder/activation/health_checks.hpp"
#include "support/temp_dir.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fstream>
#include <set>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace fleet;
using namespace fleet::builder;

namespace {

// A fresh activation of t1, as the agent records it before anything runs.
ActivationRecord record_for_t1() {
  ActivationRecord record;
  record.id = new_activation_id("t1");
  record.node = "t1";
  return record;
}

}  // namespace

TEST_CASE("activation specs are validated field by field") {
  protocol::ActivationSpec spec;
  spec.health_checks = {{{"type", "tcp"}, {"port", 22}}, {{"type", "command"}, {"command", "true"}, {"retries", 2}}};
  spec.pre_activate_hook = "echo pre";
  spec.confirm_timeout = 12;
  CHECK(protocol::parse_activation_spec(protocol::to_json(spec), "") == spec);

  auto bad = protocol::to_json(spec);
  bad["healthChecks"][0]["type"] = "ping";
  CHECK_THROWS_WITH(protocol::parse_activation_spec(bad, "t."), Catch::Contains("t.healthChecks[0].type"));
  bad = protocol::to_json(spec);
  bad["healthChecks"][0]["port"] = 70000;
  CHECK_THROWS_AS(protocol::parse_activation_spec(bad, ""), ProtocolError);
  bad = protocol::to_json(spec);
  bad["confirmTimeout"] = -1;
  CHECK_THROWS_WITH(protocol::parse_activation_spec(bad, ""), Catch::Contains("confirmTimeout"));
  bad = protocol::to_json(spec);
  bad["healthChecks"] = {{{"type", "systemd"}, {"units", {"-evil"}}}};
  CHECK_THROWS_WITH(protocol::parse_activation_spec(bad, ""), Catch::Contains("unit name"));
}

TEST_CASE("the first decision on an activation wins") {
  fleet::test::TempDir dir;
  ActivationStore store(dir.path());
  ActivationRecord record = record_for_t1();
  record.store_path = "/nix/store/abc-nixos-system-t1";
  record.action = protocol::Action::switch_;
  record.previous_generation = 3;
  record.previous_system = "/nix/store/old-nixos-system-t1";
  store.create(record);

  auto loaded = store.load(record.id);
  CHECK(loaded.previous_generation == 3);
  CHECK(loaded.previous_system == record.previous_system);
  CHECK_FALSE(store.decision(record.id));
  CHECK(store.decide(record.id, "confirmed"));
  CHECK_FALSE(store.decide(record.id, "expired"));
  CHECK(store.decision(record.id) == "confirmed");
  // An id already used is never written over.
  CHECK_THROWS_WITH(store.create(record), Catch::Contains("exists already"));
  CHECK(store.decision(record.id) == "confirmed");
}

TEST_CASE("an empty decision file is no decision, and a confirmation cannot follow it") {
  // What a crash between creating the decision file and writing it leaves behind.
  fleet::test::TempDir dir;
  ActivationStore store(dir.path());
  const ActivationRecord record = record_for_t1();
  store.create(record);
  std::ofstream(dir.path() / "activations" / record.id / "decision").close();
  CHECK_FALSE(store.decision(record.id));
  CHECK_FALSE(store.decide(record.id, "confirmed"));
  CHECK_FALSE(store.decision(record.id));
  CHECK(decide_recovery(protocol::Action::switch_, Stage::awaiting_confirmation, store.decision(record.id)) ==
        Recovery::roll_back);
}

TEST_CASE("activation ids never leave the activations directory") {
  CHECK(is_activation_id(new_activation_id("web-1")));
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    ids.insert(new_activation_id("web-1"));
  }
  CHECK(ids.size() == 1000);
  for (const char* id : {"", "../x", "a/b", "-rf", ".hidden", "a b"}) {
    CHECK_FALSE(is_activation_id(id));
  }
  fleet::test::TempDir dir;
  CHECK_THROWS_WITH(ActivationStore(dir.path()).load("../../etc"), Catch::Contains("not an activation id"));
}

TEST_CASE("the profile's generation is read from its link") {
  fleet::test::TempDir dir;
  CHECK(current_generation(dir.path() / "system") == 0);
  std::filesystem::create_symlink("system-17-link", dir.path() / "system");
  CHECK(current_generation(dir.path() / "system") == 17);
}

TEST_CASE("health checks report what they saw") {
  auto command = run_health_check({{"type", "command"}, {"command", "echo disk full; exit 3"}});
  CHECK_FALSE(command.passed);
  CHECK_THAT(command.output, Catch::Contains("disk full") && Catch::Contains("exit status 3"));
  CHECK(run_health_check({{"type", "command"}, {"command", "true"}}).passed);

  // A fraction of a second is rounded up, never read as 0 ("no limit"): before, this ran 20 s.
  auto hung = run_health_check({{"type", "command"}, {"command", "exec >/dev/null 2>&1; sleep 20"}, {"timeout", 0.5}});
  CHECK_FALSE(hung.passed);
  CHECK_THAT(hung.output, Catch::Contains("timed out after 1 s"));

  auto retried = run_health_check({{"type", "command"}, {"command", "false"}, {"retries", 2}, {"interval", 0}});
  CHECK(retried.attempts == 3);

  // A listening socket on loopback, then the same port closed.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  REQUIRE(::listen(fd, 4) == 0);
  int port = ntohs(address.sin_port);
  CHECK(run_health_check({{"type", "tcp"}, {"port", port}, {"timeout", 2}}).passed);
  auto http = run_health_check({{"type", "http"}, {"url", "http://127.0.0.1:" + std::to_string(port) + "/"}, {"timeout", 1}});
  CHECK_FALSE(http.passed);  // accepts, never answers
  ::close(fd);
  auto refused = run_health_check({{"type", "tcp"}, {"port", port}, {"timeout", 2}});
  CHECK_FALSE(refused.passed);
  CHECK_THAT(refused.output, Catch::Contains("refused"));
}

TEST_CASE("a health check that prints without end keeps only the end of it") {
  auto chatty = run_health_check({{"type", "command"},
                                  {"command", "yes 0123456789 | head -c 40000000; echo the end; exit 1"},
                                  {"timeout", 30}});
  CHECK_FALSE(chatty.passed);
  CHECK(chatty.output.size() < 20 * 1024);
  CHECK(chatty.output.find("the end\n(exit status 1)") != std::string::npos);
}
