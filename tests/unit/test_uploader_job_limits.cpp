// SPDX-License-Identifier: MIT
#include "uploader/base/error.hpp"
#include "uploader/protocol/job.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::protocol;

namespace {

BuildJob sample_job() {
  BuildJob job;
  job.run_id = "20261121T230000Z-1a2b";
  job.source_hash = std::string(64, 'a');
  job.targets = {{"t1", TargetMode::delegate, "10.0.0.1", "root", 22, "", Action::switch_, {}, {}}};
  return job;
}

}  // namespace

TEST_CASE("a job carries its timeouts and retries") {
  BuildJob job = sample_job();
  job.timeouts = {5, 60, 120, 7};
  job.retries = {2, 3};
  auto parsed = parse_build_job(to_json(job));
  CHECK(parsed == job);
  CHECK(parsed.timeouts.activate == 7);
  CHECK(parsed.retries.delay_seconds == 3);
}

TEST_CASE("a job without timeouts gets the defaults") {
  auto json = to_json(sample_job());
  json.erase("timeouts");
  json.erase("retries");
  auto parsed = parse_build_job(json);
  // The numbers README.md documents for fleet.json, written out so that changing a default
  // breaks this test instead of silently changing what users get.
  CHECK(parsed.timeouts.connect == 30);
  CHECK(parsed.timeouts.build == 21600);
  CHECK(parsed.timeouts.copy == 10800);
  CHECK(parsed.timeouts.activate == 1800);
  CHECK(parsed.retries.count == 3);
  CHECK(parsed.retries.delay_seconds == 1);
}

TEST_CASE("hostile timeouts are refused") {
  auto json = to_json(sample_job());
  json["timeouts"]["build"] = -1;
  CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("timeouts.build"));
  json = to_json(sample_job());
  json["timeouts"]["copy"] = "soon";
  CHECK_THROWS_AS(parse_build_job(json), ProtocolError);
  json = to_json(sample_job());
  json["timeouts"] = 5;
  CHECK_THROWS_AS(parse_build_job(json), ProtocolError);
  json = to_json(sample_job());
  json["retries"]["count"] = 1000;
  CHECK_THROWS_WITH(parse_build_job(json), Catch::Contains("retries.count"));
}
