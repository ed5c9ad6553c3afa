// SPDX-License-Identifier: MIT
#include "coordinator/config/run_settings.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::coordinator;
using nlohmann::json;

TEST_CASE("run settings default to sane limits") {
  auto settings = parse_run_settings("fleet.json", json::object());
  // The defaults README.md documents, written out so that changing one breaks this test.
  CHECK(settings.timeouts.connect == 30);
  CHECK(settings.timeouts.upload == 600);
  CHECK(settings.timeouts.build == 21600);
  CHECK(settings.timeouts.copy == 10800);
  CHECK(settings.timeouts.activate == 1800);
  CHECK(settings.retries.count == 3);
  CHECK(settings.retries.delay == 1);
  CHECK(settings.history.keep == 100);
  CHECK(settings.history.max_age_days == 90);
}

TEST_CASE("fleet.json's defaults are the ones an agent applies to a job that omits them") {
  CHECK(job_timeouts(PhaseTimeouts{}) == protocol::JobTimeouts{});
  CHECK(job_retries(RetrySettings{}) == protocol::JobRetries{});
}

TEST_CASE("timeouts, retries and history are read from fleet.json") {
  auto settings = parse_run_settings("fleet.json", json::parse(R"({
    "timeouts": {"connect": 5, "activate": 60},
    "retries": {"count": 0},
    "history": {"keep": 10, "maxAgeDays": 7}})"));
  CHECK(settings.timeouts.connect == 5);
  CHECK(settings.timeouts.activate == 60);
  CHECK(settings.timeouts.build == 21600);  // absent keys keep the documented default
  CHECK(settings.retries.count == 0);
  CHECK(settings.history.keep == 10);
  CHECK(settings.history.max_age_days == 7);
  auto job = job_timeouts(settings.timeouts);
  CHECK(job.connect == 5);
  CHECK(job.activate == 60);
}

TEST_CASE("bad run settings name the key and the fix") {
  CHECK_THROWS_WITH(parse_run_settings("f.json", json::parse(R"({"timeouts": {"activate": 0}})")),
                    Catch::Contains("f.json: timeouts.activate") && Catch::Contains("from 1"));
  CHECK_THROWS_WITH(parse_run_settings("f.json", json::parse(R"({"timeouts": {"activte": 5}})")),
                    Catch::Contains("timeouts.activte") && Catch::Contains("activate"));
  CHECK_THROWS_WITH(parse_run_settings("f.json", json::parse(R"({"retries": {"count": "3"}})")),
                    Catch::Contains("retries.count"));
  CHECK_THROWS_AS(parse_run_settings("f.json", json::parse(R"({"retries": {"count": 11}})")), ConfigError);
  CHECK_THROWS_AS(parse_run_settings("f.json", json::parse(R"({"history": {"keep": 0}})")), ConfigError);
}
