// SPDX-License-Identifier: MIT
#include "coordinator/config/selector.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::coordinator;
using nlohmann::json;
using Names = std::vector<std::string>;

namespace {

FleetConfig fleet_with_tags() {
  return parse_fleet_config(json::parse(R"({
    "version": 1,
    "nodes": {
      "web-1": { "tags": ["web"] },
      "web-2": { "tags": ["web"] },
      "db-1": {},
      "pi1": { "tags": ["audio", "low"] },
      "pi2": { "tags": ["low"] }
    }
  })"),
                            std::filesystem::temp_directory_path() / "fleet.json");
}

}  // namespace

TEST_CASE("select_nodes resolves names, globs and tags") {
  const FleetConfig config = fleet_with_tags();

  CHECK(select_nodes(config, "") == Names{"db-1", "pi1", "pi2", "web-1", "web-2"});
  CHECK(select_nodes(config, " ") == Names{"db-1", "pi1", "pi2", "web-1", "web-2"});
  CHECK(select_nodes(config, "pi1") == Names{"pi1"});
  CHECK(select_nodes(config, "web-2,db-1") == Names{"db-1", "web-2"});
  CHECK(select_nodes(config, "web-*") == Names{"web-1", "web-2"});
  CHECK(select_nodes(config, "pi?") == Names{"pi1", "pi2"});
  CHECK(select_nodes(config, "*-[12]") == Names{"db-1", "web-1", "web-2"});
  CHECK(select_nodes(config, "@low") == Names{"pi1", "pi2"});
  CHECK(select_nodes(config, "@audio, db-1 ,web-*") == Names{"db-1", "pi1", "web-1", "web-2"});
  CHECK(select_nodes(config, "pi1,pi1,@low,pi*,,") == Names{"pi1", "pi2"});
}

TEST_CASE("a term that selects nothing is an error naming what exists") {
  const FleetConfig config = fleet_with_tags();

  CHECK_THROWS_AS(select_nodes(config, "@dbs"), ConfigError);
  CHECK_THROWS_WITH(select_nodes(config, "@dbs"), "--on: '@dbs' matches no node; tags in fleet.json: audio, low, web");
  CHECK_THROWS_WITH(select_nodes(config, "@lwo"),
                    "--on: '@lwo' matches no node; did you mean '@low'? tags in fleet.json: audio, low, web");
  CHECK_THROWS_WITH(select_nodes(config, "pi1,cache-*"),
                    "--on: 'cache-*' matches no node; nodes in fleet.json: db-1, pi1, pi2, web-1, web-2");
  CHECK_THROWS_WITH(select_nodes(config, "web-3"),
                    "--on: 'web-3' matches no node; did you mean 'web-1'? nodes in fleet.json: db-1, pi1, pi2, "
                    "web-1, web-2");
  CHECK_THROWS_WITH(select_nodes(config, "@"), Catch::StartsWith("--on: '@' matches no node"));
}
