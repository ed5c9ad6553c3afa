// SPDX-License-Identifier: MIT
#include "coordinator/run/run_lock.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <unistd.h>

using namespace fleet;
using namespace fleet::coordinator;

TEST_CASE("the run lock admits one run and names its holder to the next") {
  test::TempDir dir;
  auto path = dir / "state/fleet/lock";
  auto first = RunLock::acquire(path, "fleet sync-and-build --unattended");
  CHECK_FALSE(first.taken_over());
  CHECK(test::read_file(path).find("\"pid\":" + std::to_string(::getpid())) != std::string::npos);

  // flock(2) locks belong to an open file description: a second acquire conflicts even in the
  // same process, exactly as another process's would.
  CHECK_THROWS_AS(RunLock::acquire(path, "fleet sync-and-build"), LockHeld);
  CHECK_THROWS_WITH(RunLock::acquire(path, "fleet sync-and-build"),
                    Catch::Contains("pid " + std::to_string(::getpid())) && Catch::Contains("--unattended") &&
                        Catch::Contains(path.string()));
}

TEST_CASE("a released lock is free and leaves no record behind") {
  test::TempDir dir;
  auto path = dir / "lock";
  { auto lock = RunLock::acquire(path, "first"); }
  CHECK(test::read_file(path).empty());
  auto again = RunLock::acquire(path, "second");
  CHECK_FALSE(again.taken_over());
}

TEST_CASE("a lock left by a dead process is taken over and the takeover is reported") {
  test::TempDir dir;
  auto path = dir / "lock";
  // What a run killed with SIGKILL leaves: its record, and no flock (the kernel dropped it).
  std::ofstream(path) << R"({"pid": 999999, "host": "cron-box", "started": 1700000000, "command": "fleet sync-and-build"})" << '\n';
  auto lock = RunLock::acquire(path, "fleet sync-and-build --unattended");
  REQUIRE(lock.taken_over());
  CHECK(lock.taken_over()->pid == 999999);
  CHECK(lock.taken_over()->describe().find("cron-box") != std::string::npos);
  CHECK(test::read_file(path).find("--unattended") != std::string::npos);
}

TEST_CASE("the lock lives beside the runs directory") {
  test::ScopedEnv state("XDG_STATE_HOME", "/var/lib/x");
  CHECK(default_lock_path() == "/var/lib/x/fleet/lock");
}
