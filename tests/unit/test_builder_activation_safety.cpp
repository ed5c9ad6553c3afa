// SPDX-License-Identifier: MIT
#include "builder/activation/activation_stage.hpp"
#include "builder/activation/activation_store.hpp"
#include "builder/activation/recover.hpp"
#include "builder/activation/supervisor_launch.hpp"
#include "builder/activation/switch_inhibitors.hpp"
#include "builder/activation/switch_lock.hpp"
#include "builder/activation/target_lock.hpp"
#include "builder/agent_path.hpp"
#include "builder/agent_store.hpp"
#include "support/temp_dir.hpp"
#include "uploader/base/file_io.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

using namespace fleet;
using namespace fleet::builder;
using protocol::Action;

namespace {

ActivationRecord sample_record(Action action) {
  ActivationRecord record;
  record.id = new_activation_id("t1");
  record.node = "t1";
  record.store_path = "/nix/store/new-nixos-system-t1";
  record.action = action;
  record.previous_generation = 3;
  record.previous_path = "/nix/store/old-nixos-system-t1";
  record.previous_system = "/nix/store/old-nixos-system-t1";
  record.run_id = "20250101-100000-ab12";
  record.deployer = "alice@laptop";
  record.secrets.node = "t1";
  return record;
}

// A store in `dir` holding one activation of `action` that reached `stage`.
ActivationRecord recorded(const ActivationStore& store, Action action, Stage stage) {
  auto record = sample_record(action);
  store.create(record);
  store.set_stage(record.id, stage);
  return record;
}

secrets::SecretOptions test_secret_options(const fleet::test::TempDir& dir) {
  return {dir.path() / "no-key", dir.path() / "secrets"};
}

std::string last_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line)) {
    last = line;
  }
  return last;
}

}  // namespace

TEST_CASE("stages are spelled as their files hold them") {
  for (auto stage : {Stage::started, Stage::switching, Stage::activated, Stage::awaiting_confirmation, Stage::committing,
                     Stage::ended}) {
    CHECK(parse_stage(to_string(stage)) == stage);
  }
  CHECK(to_string(Stage::awaiting_confirmation) == "awaiting-confirmation");
  CHECK_FALSE(parse_stage("confirmed"));
}

TEST_CASE("a rollback undoes what the stage reached had changed, and no more") {
  CHECK(undo_for(Action::switch_, Stage::started).nothing());
  CHECK(undo_for(Action::switch_, Stage::switching) == Undo{true, true, false});
  CHECK(undo_for(Action::switch_, Stage::awaiting_confirmation) == Undo{true, true, false});
  CHECK(undo_for(Action::switch_, Stage::committing) == Undo{true, true, true});
  CHECK(undo_for(Action::test, Stage::activated) == Undo{true, true, false});
  CHECK(undo_for(Action::boot, Stage::switching).nothing());
  CHECK(undo_for(Action::boot, Stage::committing) == Undo{false, false, true});
  CHECK(undo_for(Action::dry_activate, Stage::switching).nothing());
  CHECK(undo_for(Action::switch_, Stage::ended).nothing());
}

TEST_CASE("recover commits only what was confirmed") {
  const std::optional<std::string> confirmed = "confirmed", expired = "expired", none;
  CHECK(decide_recovery(Action::switch_, Stage::ended, none) == Recovery::nothing);
  CHECK(decide_recovery(Action::switch_, Stage::awaiting_confirmation, confirmed) == Recovery::finish_commit);
  CHECK(decide_recovery(Action::switch_, Stage::awaiting_confirmation, expired) == Recovery::roll_back);
  CHECK(decide_recovery(Action::switch_, Stage::activated, confirmed) == Recovery::roll_back);
  CHECK(decide_recovery(Action::switch_, Stage::committing, expired) == Recovery::finish_commit);
  CHECK(decide_recovery(Action::test, Stage::awaiting_confirmation, confirmed) == Recovery::finish_ok);
  CHECK(decide_recovery(Action::test, Stage::awaiting_confirmation, none) == Recovery::roll_back);
  CHECK(decide_recovery(Action::boot, Stage::committing, none) == Recovery::roll_back);
}

TEST_CASE("the supervisor is started as the sudo rules expect it") {
  SupervisorLaunch launch{"/nix/store/abc-fleet-builder-1/bin/fleet-builder", "/var/lib/fleet", "t1-1-00aa", std::nullopt};
  CHECK(supervisor_argv(launch) == std::vector<std::string>{"/nix/store/abc-fleet-builder-1/bin/fleet-builder",
                                                            "--state-dir", "/var/lib/fleet", "supervise", "--id",
                                                            "t1-1-00aa"});
  launch.systemd_run = "/run/current-system/sw/bin/systemd-run";
  CHECK(supervisor_argv(launch) ==
        std::vector<std::string>{"/run/current-system/sw/bin/systemd-run", "--unit=fleet-activation-t1-1-00aa",
                                 "--collect", "--service-type=exec", "--quiet",
                                 "--property=ExecStopPost=/nix/store/abc-fleet-builder-1/bin/fleet-builder --state-dir "
                                 "/var/lib/fleet recover --id t1-1-00aa",
                                 "--", "/nix/store/abc-fleet-builder-1/bin/fleet-builder", "--state-dir",
                                 "/var/lib/fleet", "supervise", "--id", "t1-1-00aa"});
}

TEST_CASE("the agent finds itself and systemd-run by absolute paths only") {
  CHECK(agent_store_path_of("/nix/store/abc-fleet-builder-1/bin/fleet-builder"));
  for (const char* path : {"/nix/store/bin/fleet-builder", "/nix/store/a/b/bin/fleet-builder", "/usr/bin/fleet-builder",
                           "/nix/store/../bin/fleet-builder", "/nix/store/abc/bin/fleet-builder-x"}) {
    CHECK_FALSE(agent_store_path_of(path));
  }
  ::unsetenv("FLEET_AGENT_PATH");
  CHECK(agent_self_path().is_absolute());
  ::setenv("FLEET_AGENT_PATH", "/nonexistent/bin/fleet-builder", 1);  // no such file: ignored
  CHECK(agent_self_path() != std::filesystem::path("/nonexistent/bin/fleet-builder"));
  ::unsetenv("FLEET_AGENT_PATH");

  fleet::test::TempDir dir;
  auto bin = dir.path() / "bin";
  std::filesystem::create_directory(bin);
  write_file_atomically(bin / "systemd-run", "#!/bin/sh\n");
  CHECK_FALSE(find_on_path("systemd-run", "relative/bin:" + (dir.path() / "none").string()));
  ::chmod((bin / "systemd-run").c_str(), 0755);
  CHECK(find_on_path("systemd-run", "relative:" + bin.string()) == bin / "systemd-run");
}

TEST_CASE("one activation holds a target; others see who") {
  fleet::test::TempDir dir;
  TargetLock lock(dir.path() / "run-fleet");
  CHECK_FALSE(lock.taken());
  CHECK_FALSE(lock.holder());
  {
    UniqueFd held = lock.acquire();
    REQUIRE(held.valid());
    CHECK((std::filesystem::status(lock.lock_file()).permissions() & std::filesystem::perms::others_read) !=
          std::filesystem::perms::none);
    LockHolder holder{"t1-1-00aa", "run-7", "alice@laptop", "2025-01-01T10:00:00Z", ::getpid(), "/var/lib/fleet"};
    lock.write_holder(holder);
    CHECK(lock.taken());
    CHECK_FALSE(lock.acquire().valid());
    CHECK(lock.holder() == holder);
    CHECK(describe(*lock.holder()) ==
          "activation t1-1-00aa (run run-7, deployer alice@laptop, since 2025-01-01T10:00:00Z)");
  }
  // The holder died without clearing its file: the lock is free, the file names a dead holder.
  CHECK_FALSE(lock.taken());
  CHECK(lock.holder()->activation == "t1-1-00aa");
  UniqueFd again = lock.acquire();
  CHECK(again.valid());
  lock.clear_holder();
  CHECK_FALSE(lock.holder());
  CHECK(utc_now_iso8601().size() == 20);
}

TEST_CASE("an activation's record, stage and flock") {
  fleet::test::TempDir dir;
  ActivationStore store(dir.path());
  auto record = sample_record(Action::switch_);
  record.secrets.secrets.push_back({{"db", "secrets/db.age", "/run/keys/db", "root", "root", "0400", "pre-activation", true},
                                    "ciphertext"});
  store.create(record);
  CHECK(std::filesystem::exists(store.events_file(record.id)));
  auto loaded = store.load(record.id);
  CHECK(loaded.run_id == record.run_id);
  CHECK(loaded.deployer == record.deployer);
  CHECK(loaded.secrets == record.secrets);
  CHECK(store.ids() == std::vector<std::string>{record.id});

  CHECK_FALSE(store.stage(record.id));
  store.set_stage(record.id, Stage::awaiting_confirmation);
  CHECK(store.stage(record.id) == Stage::awaiting_confirmation);

  CHECK_FALSE(store.held(record.id));
  {
    UniqueFd held = store.hold(record.id, false);
    REQUIRE(held.valid());
    CHECK(store.held(record.id));
    CHECK_FALSE(store.hold(record.id, false).valid());
  }
  CHECK_FALSE(store.held(record.id));
}

TEST_CASE("switch inhibitors refuse switch and test only when both systems have them and they differ") {
  CHECK_FALSE(switch_inhibited(Action::switch_, std::nullopt, "systemd-256"));
  CHECK_FALSE(switch_inhibited(Action::switch_, "systemd-256", std::nullopt));
  CHECK_FALSE(switch_inhibited(Action::switch_, "systemd-256", "systemd-256"));
  CHECK_FALSE(switch_inhibited(Action::boot, "systemd-256", "systemd-257"));
  auto refused = switch_inhibited(Action::test, "systemd-256", "systemd-257");
  REQUIRE(refused);
  CHECK_THAT(*refused, Catch::Contains("test is refused") && Catch::Contains("boot and reboot"));

  fleet::test::TempDir dir;
  auto running = dir.path() / "running", next = dir.path() / "next";
  std::filesystem::create_directories(running);
  std::filesystem::create_directories(next);
  write_file_atomically(running / "switch-inhibitors", "/nix/store/a-systemd\n");
  CHECK_FALSE(check_switch_inhibitors(Action::switch_, running, next));
  write_file_atomically(next / "switch-inhibitors", "/nix/store/b-systemd\n");
  CHECK(check_switch_inhibitors(Action::switch_, running, next));
  CHECK_FALSE(check_switch_inhibitors(Action::switch_, "", next));
}

TEST_CASE("the holders of switch-to-configuration's lock are found in /proc/locks") {
  const std::string locks = "1: FLOCK  ADVISORY  WRITE 4242 00:1a:77 0 EOF\n"
                            "1: -> FLOCK  ADVISORY  WRITE 5151 00:1a:77 0 EOF\n"
                            "2: POSIX  ADVISORY  WRITE 6161 00:1a:77 0 EOF\n"
                            "3: FLOCK  ADVISORY  WRITE 7171 fd:01:77 0 EOF\n";
  CHECK(flock_holders(locks, 0x00, 0x1a, 77) == std::vector<pid_t>{4242});
  CHECK(flock_holders(locks, 0xfd, 0x01, 77) == std::vector<pid_t>{7171});
  CHECK(flock_holders(locks, 0x00, 0x1a, 78).empty());

  CHECK(fleet_activation_of(std::string("PATH=/bin\0FLEET_ACTIVATION=t1-1-00aa\0HOME=/root\0", 46)) == "t1-1-00aa");
  CHECK_FALSE(fleet_activation_of(std::string("PATH=/bin\0FLEET_ACTIVATIONX=1\0", 30)));

  // The real file: this process's own flock shows up as held by it.
  fleet::test::TempDir dir;
  auto file = dir.path() / "switch.lock";
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  REQUIRE(::flock(fd.get(), LOCK_EX) == 0);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  auto proc_locks = read_whole_file("/proc/locks");
  REQUIRE(proc_locks);
  auto holders = flock_holders(*proc_locks, major(st.st_dev), minor(st.st_dev), st.st_ino);
  CHECK(std::find(holders.begin(), holders.end(), ::getpid()) != holders.end());
  // Held by this process, which carries no FLEET_ACTIVATION: not fleet's, so it is left alone.
  auto outcome = end_orphaned_switch(file, "t1-1-00aa");
  CHECK_FALSE(outcome.ok);
  CHECK_THAT(outcome.message, Catch::Contains("not started by fleet"));
  ::flock(fd.get(), LOCK_UN);
  CHECK(end_orphaned_switch(file, "t1-1-00aa").ok);
  CHECK(end_orphaned_switch(dir.path() / "missing.lock", "t1-1-00aa").message.empty());
}

TEST_CASE("recover rolls back an unconfirmed activation that changed nothing, once") {
  fleet::test::TempDir dir;
  ActivationStore store(dir.path());
  auto record = recorded(store, Action::switch_, Stage::started);
  auto options = test_secret_options(dir);

  auto outcome = recover_activation(store, record.id, options);
  CHECK(outcome.result == "failed");
  CHECK_THAT(outcome.message, Catch::Contains("stage started") && Catch::Contains("nothing was changed"));
  CHECK(store.stage(record.id) == Stage::ended);
  CHECK(store.decision(record.id) == "expired");
  CHECK_THAT(last_line(store.events_file(record.id)), Catch::Contains("\"final\":\"failed\""));

  auto again = recover_activation(store, record.id, options);
  CHECK(again.message == outcome.message);
}

TEST_CASE("recover finishes a test the deployer confirmed") {
  fleet::test::TempDir dir;
  ActivationStore store(dir.path());
  auto record = recorded(store, Action::test, Stage::awaiting_confirmation);
  REQUIRE(store.decide(record.id, "confirmed"));
  auto outcome = recover_activation(store, record.id, test_secret_options(dir));
  CHECK(outcome.result == "ok");
  CHECK_THAT(outcome.message, Catch::Contains("after the confirmation"));
}

TEST_CASE("recover --boot ends every unfinished activation with the reboot") {
  fleet::test::TempDir dir;
  ActivationStore store(dir.path());
  auto unfinished = recorded(store, Action::switch_, Stage::awaiting_confirmation);
  std::FILE* out = std::tmpfile();
  EventWriter events(out);
  run_recover_at_boot(store, test_secret_options(dir), events);
  std::fclose(out);
  CHECK(store.stage(unfinished.id) == Stage::ended);
  CHECK_THAT(last_line(store.events_file(unfinished.id)),
             Catch::Contains("rebooted during the confirmation window") && Catch::Contains("\"final\":\"rolled-back\""));
}
