// SPDX-License-Identifier: MIT
#include "coordinator/run/source_distribution.hpp"

#include <catch2/catch.hpp>

using fleet::coordinator::SourceDistribution;
using Steps = std::vector<SourceDistribution::Step>;

namespace {

bool from_laptop(const SourceDistribution::Step& step) { return !step.from.has_value(); }

}  // namespace

TEST_CASE("the laptop sends the source once, to a builder, and the holders relay it on in a bounded tree") {
  SourceDistribution distribution(2);
  distribution.need(0, false);  // a self-building target, listed first
  for (std::size_t builder = 1; builder <= 6; ++builder) {
    distribution.need(builder, true);
  }
  Steps steps = distribution.next();
  REQUIRE(steps.size() == 1);
  CHECK(from_laptop(steps[0]));
  CHECK(steps[0].to == std::vector<std::size_t>{1});
  CHECK(distribution.next().empty());  // nothing more until the first copy is there

  distribution.received(1);
  steps = distribution.next();
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].from == 1u);
  CHECK(steps[0].to == std::vector<std::size_t>{2, 3});  // builders first, at most the fan-out

  distribution.received(2);
  distribution.received(3);
  distribution.relay_ended(1);
  steps = distribution.next();
  REQUIRE(steps.size() == 2);  // node 1 has served its two; 2 and 3 take the rest
  CHECK(steps[0].from == 2u);
  CHECK(steps[0].to == std::vector<std::size_t>{4, 5});
  CHECK(steps[1].from == 3u);
  CHECK(steps[1].to == std::vector<std::size_t>{6, 0});
  for (std::size_t location : {4, 5, 6, 0}) {
    distribution.received(location);
  }
  distribution.relay_ended(2);
  distribution.relay_ended(3);
  CHECK(distribution.next().empty());
  CHECK(distribution.done());
}

TEST_CASE("a failed relay is retried from another holder, and from the laptop only when no node can serve") {
  SourceDistribution distribution(3);
  distribution.need(0, true);
  distribution.need(1, true);
  distribution.need(2, true);
  distribution.next();
  distribution.received(0);
  Steps steps = distribution.next();
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].to == std::vector<std::size_t>{1, 2});

  distribution.received(1);
  distribution.failed(2, 0, "b1: connection refused");
  distribution.relay_ended(0);
  steps = distribution.next();
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].from == 1u);  // not 0 again
  CHECK(steps[0].to == std::vector<std::size_t>{2});

  distribution.failed(2, 1, "b2: no route to host");
  distribution.relay_ended(1);
  steps = distribution.next();
  REQUIRE(steps.size() == 1);
  CHECK(from_laptop(steps[0]));
  CHECK(steps[0].note.find("no node could relay it (b2: no route to host)") != std::string::npos);
  distribution.received(2);
  CHECK(distribution.done());
}

TEST_CASE("when the laptop cannot reach the first location it tries the next one") {
  SourceDistribution distribution(3);
  distribution.need(0, true);
  distribution.need(1, true);
  REQUIRE(distribution.next()[0].to == std::vector<std::size_t>{0});
  distribution.failed(0, std::nullopt, "refused");
  Steps steps = distribution.next();
  REQUIRE(steps.size() == 1);
  CHECK(from_laptop(steps[0]));
  CHECK(steps[0].to == std::vector<std::size_t>{1});
  distribution.received(1);
  CHECK(distribution.done());
  CHECK_FALSE(distribution.holds(0));
}
