// SPDX-License-Identifier: MIT
#include "uploader/base/error.hpp"
#include "uploader/protocol/event.hpp"
#include "uploader/protocol/node_result.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/protocol/json_document.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace fleet;
using namespace fleet::protocol;

TEST_CASE("events round-trip through one JSON line") {
  Event event{1700000000.25, "t1", Phase::build, Status::ok, "built", {{"storePath", "/nix/store/abc-x"}}};
  std::string line = to_json_line(event);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(parse_event_line(line) == event);
}

TEST_CASE("an event too long for one line keeps its verdict: the message's tail and the small fields") {
  using namespace fleet::protocol;
  std::string log;
  for (int i = 0; log.size() < (1 << 20); ++i) {
    log += "building line " + std::to_string(i) + " \"quoted\" \x01\n";
  }
  log += "error: builder for '/nix/store/x.drv' failed with exit code 1";
  Event event{1.5, "t1", Phase::build, Status::fail, log, {{"drvPath", "/nix/store/x.drv"}, {"huge", std::string(5000, 'x')}}};
  const std::string line = to_json_line(event);
  CHECK(line.size() <= k_max_event_line);
  Event parsed = parse_event_line(line);
  CHECK(parsed.status == Status::fail);
  CHECK(parsed.node == "t1");
  CHECK(parsed.msg.rfind("building line 0 ", 0) == 0);
  CHECK_THAT(parsed.msg, Catch::EndsWith("failed with exit code 1"));
  CHECK_THAT(parsed.msg, Catch::Contains(" bytes cut] …"));
  CHECK(parsed.extra.value("drvPath", "") == "/nix/store/x.drv");
  CHECK_FALSE(parsed.extra.contains("huge"));
  // A short event is sent as it is.
  Event small{1.5, "t1", Phase::build, Status::ok, "done", {{"huge", std::string(5000, 'x')}}};
  CHECK(parse_event_line(to_json_line(small)) == small);
}

TEST_CASE("JSON nested deeper than any document fleet writes is refused before it is parsed") {
  auto nested = [](std::size_t depth) {
    return R"({"ts":1,"node":"t1","phase":"build","status":"ok","extra":)" + std::string(depth, '[') +
           std::string(depth, ']') + "}";
  };
  // The line's own object is one level, so 127 arrays inside it are the deepest allowed.
  CHECK(parse_event_line(nested(k_max_json_depth - 1)).extra.contains("extra"));
  CHECK_THROWS_WITH(parse_event_line(nested(k_max_json_depth)), Catch::Contains("event line nests deeper than 128 levels"));
  // 30,000 levels fit in one event line; a value that deep overflowed the stack when copied.
  CHECK_THROWS_AS(parse_event_line(nested(30000)), ProtocolError);
  // Brackets inside strings, escaped quotes included, are text, not nesting.
  CHECK_FALSE(nests_deeper_than(R"(["\"[[[[", "{{{{"])", 2));
  CHECK(nests_deeper_than(R"([[{"a":[]}]])", 3));
  CHECK_FALSE(nests_deeper_than(R"([[{"a":[]}]])", 4));
  std::istringstream job(std::string(100000, '[') + std::string(100000, ']'));
  CHECK_THROWS_WITH(read_json_document(job, 1 << 20, "the job on stdin"), Catch::Contains("deeper than 128 levels"));
}

TEST_CASE("hostile event lines are rejected with the line quoted") {
  CHECK_THROWS_WITH(parse_event_line("not json"), Catch::Contains("'not json'"));
  CHECK_THROWS_WITH(parse_event_line("[1,2]"), Catch::Contains("expected a JSON object"));
  CHECK_THROWS_WITH(parse_event_line(R"({"ts":1,"node":"t1","phase":"dance","status":"ok"})"),
                    Catch::Contains("unknown phase"));
  CHECK_THROWS_WITH(parse_event_line(R"({"ts":"x","node":"t1","phase":"build","status":"ok"})"),
                    Catch::Contains("'ts'"));
  CHECK_THROWS_WITH(parse_event_line(R"({"ts":1,"phase":"build","status":"ok"})"), Catch::Contains("'node'"));
  CHECK_THROWS_WITH(parse_event_line(std::string(k_max_event_line + 1, 'x')), Catch::Contains("exceeds the limit"));
}

TEST_CASE("build jobs round-trip and hostile jobs are refused") {
  BuildJob job;
  job.run_id = "20261121T230000Z-1a2b";
  job.source_hash = std::string(64, 'a');
  job.nix_options = {{"sandbox", "false"}};
  job.targets = {{"t1", TargetMode::delegate, "10.0.0.1", "root", 22, "ssh-ed25519 AAAA", Action::switch_, {}, {}},
                 {"t3", TargetMode::self, "", "root", 22, "", Action::boot, {}, {}}};
  CHECK(parse_build_job(to_json(job)) == job);

  SECTION("version mismatch names both versions") {
    auto json = to_json(job);
    json["version"] = 99;
    CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("99") && Catch::Contains("speaks " + std::to_string(protocol::k_protocol_version)));
  }
  SECTION("option-like host is refused") {
    auto json = to_json(job);
    json["targets"][0]["host"] = "-oProxyCommand=evil";
    CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("unsafe value"));
  }
  SECTION("flake outside the source is refused") {
    auto json = to_json(job);
    json["flake"] = "../etc";
    CHECK_THROWS_AS(parse_build_job(json), ProtocolError);
  }
  SECTION("evalMemoryMB is optional and bounded") {
    job.eval_memory_mb = 3000;
    CHECK(parse_build_job(to_json(job)).eval_memory_mb == 3000);
    auto json = to_json(job);
    json.erase("evalMemoryMB");
    CHECK(parse_build_job(json).eval_memory_mb == 1024);
    json["evalMemoryMB"] = 0;
    CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("evalMemoryMB"));
    json["evalMemoryMB"] = "big";
    CHECK_THROWS_AS(parse_build_job(json), ProtocolError);
  }
  SECTION("evalWorkers is optional and bounded") {
    job.eval_workers = 8;
    CHECK(parse_build_job(to_json(job)).eval_workers == 8);
    auto json = to_json(job);
    json.erase("evalWorkers");
    CHECK(parse_build_job(json).eval_workers == 1);  // an older coordinator's job: one at a time
    for (const nlohmann::json& odd : {nlohmann::json(0), nlohmann::json(100000), nlohmann::json("all")}) {
      json["evalWorkers"] = odd;
      CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("evalWorkers"));
    }
  }
  SECTION("a run id or node name that is a path component is refused") {
    for (std::string dots : {".", ".."}) {
      auto json = to_json(job);
      json["run"] = dots;
      CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("unsafe value"));
      json = to_json(job);
      json["targets"][0]["node"] = dots;
      CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("unsafe value"));
    }
    CHECK(is_safe_token("..x"));
    CHECK(is_safe_token("web.1"));
  }
  SECTION("source must be a content hash") {
    auto json = to_json(job);
    json["source"] = "../../x";
    CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("content hash"));
  }
}

TEST_CASE("node results print and parse as the reports spell them") {
  using fleet::protocol::NodeResult;
  for (auto result : {NodeResult::ok, NodeResult::failed, NodeResult::rolled_back, NodeResult::skipped}) {
    CHECK(fleet::protocol::parse_node_result(fleet::protocol::to_string(result)) == result);
  }
  CHECK(fleet::protocol::to_string(NodeResult::rolled_back) == "rolled-back");
  CHECK_FALSE(fleet::protocol::parse_node_result("rolled_back"));
  CHECK_FALSE(fleet::protocol::parse_node_result(""));
}
