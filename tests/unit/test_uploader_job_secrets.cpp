// SPDX-License-Identifier: MIT
// Secrets inside build jobs: they round-trip, and every field is checked on arrival.
#include "uploader/base/error.hpp"
#include "uploader/protocol/job.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::protocol;

namespace {

BuildJob job_with_secret() {
  BuildJob job;
  job.run_id = "run-1";
  job.source_hash = std::string(64, 'b');
  JobTarget target;
  target.node = "t1";
  target.host = "t1.lab";
  target.secrets = {{"wifi", "secrets/wifi.age", "/run/keys/wifi", "root", "keys", "0440", "pre-activation", true},
                    {"db", "secrets/db.age", "/var/lib/db/pass", "1000", "1000", "600", "post-activation", false}};
  job.targets.push_back(target);
  return job;
}

}  // namespace

TEST_CASE("secrets in a job round-trip; a job without secrets carries no secrets key") {
  auto job = job_with_secret();
  CHECK(parse_build_job(to_json(job)) == job);
  job.targets[0].secrets.clear();
  CHECK_FALSE(to_json(job)["targets"][0].contains("secrets"));
  CHECK(parse_build_job(to_json(job)) == job);
}

TEST_CASE("hostile secret fields are refused") {
  auto json = to_json(job_with_secret());
  auto refused = [&](const char* key, nlohmann::json value, const char* says) {
    auto bad = json;
    bad["targets"][0]["secrets"][0][key] = std::move(value);
    CHECK_THROWS_WITH(parse_build_job(bad), Catch::Contains(says));
  };
  refused("dest", "run/keys/x", "absolute");
  refused("dest", "/run/keys/../../etc/shadow", "absolute");
  refused("dest", "/run/keys/", "absolute");
  refused("dest", "/nix/store/abc-secret", "/nix/store");
  refused("file", "../outside.age", "relative path inside the source");
  refused("file", "/etc/shadow", "relative path inside the source");
  refused("mode", "0999", "octal");
  refused("mode", "400a", "octal");
  refused("owner", "root;rm -rf /", "not a user or group");
  refused("group", "-g", "not a user or group");
  refused("name", "../x", "unsafe value");
  refused("when", "later", "pre-activation or post-activation");
  refused("required", "yes", "not a boolean");
  auto missing = json;
  missing["targets"][0]["secrets"][0].erase("dest");
  CHECK_THROWS_AS(parse_build_job(missing), ProtocolError);
  CHECK(parse_octal_mode("0440") == 0440);
  CHECK(parse_octal_mode("600") == 0600);
}
