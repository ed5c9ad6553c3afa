// SPDX-License-Identifier: MIT
// `fleet-builder version --json`: what the agent prints and how a peer's answer is judged.
#include "uploader/base/error.hpp"
#include "uploader/protocol/agent_version.hpp"
#include "uploader/protocol/job.hpp"

#include <catch2/catch.hpp>

using namespace fleet;

TEST_CASE("this agent's version is the release and the protocol it was built with") {
  CHECK(protocol::this_agent_version() == protocol::AgentVersion{"fleet-builder", FLEET_VERSION, protocol::k_protocol_version});
  CHECK(protocol::format_agent_version({"fleet-builder", "0.1.0", 2}) ==
        R"({"agent":"fleet-builder","protocol":2,"version":"0.1.0"})");
  CHECK(protocol::describe(protocol::AgentVersion{"fleet-builder", "0.1.0", 2}) == "0.1.0 (protocol 2)");
}

TEST_CASE("the agent's version answer is one small JSON object, checked field by field") {
  const auto ours = protocol::this_agent_version();
  CHECK(protocol::parse_agent_version(protocol::format_agent_version(ours)) == ours);
  CHECK(protocol::parse_agent_version(R"({"agent":"fleet-builder","version":"0.2.0-pre+git.1","protocol":3})") ==
        protocol::AgentVersion{"fleet-builder", "0.2.0-pre+git.1", 3});
  auto refused = [](const std::string& text, const std::string& why) {
    INFO(text);
    CHECK_THROWS_WITH(protocol::parse_agent_version(text), Catch::Contains(why));
  };
  refused("", "not a JSON object");
  refused("[1]", "not a JSON object");
  refused(R"({"agent":"other","version":"0.1.0","protocol":2})", "\"agent\" is not \"fleet-builder\"");
  refused(R"({"agent":"fleet-builder","protocol":2})", "\"version\" is not a release");
  refused(R"({"agent":"fleet-builder","version":"0.1.0 \u001b[2J","protocol":2})", "\"version\" is not a release");
  refused(R"({"agent":"fleet-builder","version":")" + std::string(65, '1') + R"(","protocol":2})",
          "\"version\" is not a release");
  refused(R"({"agent":"fleet-builder","version":"0.1.0","protocol":"2"})", "\"protocol\" is not a positive integer");
  refused(R"({"agent":"fleet-builder","version":"0.1.0","protocol":0})", "\"protocol\" is not a positive integer");
  refused(R"({"agent":"fleet-builder","version":"0.1.0","protocol":99999999999})", "\"protocol\" is not a positive integer");
  refused(std::string(protocol::k_max_version_answer + 1, ' '), "longer than 4096 bytes");
  // The excerpt in the message is printable whatever the peer sent.
  try {
    protocol::parse_agent_version("\x1b]0;owned\x07");
    FAIL("accepted");
  } catch (const ProtocolError& e) {
    CHECK(std::string(e.what()).find('\x1b') == std::string::npos);
  }
}

