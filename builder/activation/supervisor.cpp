// SPDX-License-Identifier: MIT
#include "builder/activation/supervisor.hpp"

#include "builder/activation/activate_here.hpp"
#include "builder/activation/health_checks.hpp"
#include "builder/closure_diff.hpp"
#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fleet::builder {
namespace {

using protocol::Phase;
using protocol::Status;

constexpr std::chrono::milliseconds k_decision_poll{200};

// One activation's steps, writing its events to the activation's events file.
class Supervision {
public:
  Supervision(ActivationRecord record, EventWriter& events)
      : m_record(std::move(record)), m_events(events), m_nix(m_record.nix_options) {}

  int run(const ActivationStore& store) {
    const auto& spec = m_record.spec;
    if (!run_hook("preActivate", spec.pre_activate_hook)) {
      return finish(Phase::activate, Status::fail, "preActivate hook failed; nothing was changed", "failed");
    }
    if (protocol::sets_system_profile(m_record.action)) {
      auto argv = as_root(m_nix.legacy("nix-env", {"-p", k_system_profile, "--set", m_record.store_path}));
      if (!step(argv, std::chrono::seconds{300})) {
        return finish(Phase::activate, Status::fail, "setting the system profile failed; nothing was changed", "failed");
      }
    }
    auto script = m_record.store_path + "/bin/switch-to-configuration";
    if (!step(as_root({script, action_name()}), std::chrono::seconds{m_record.timeout_seconds})) {
      if (!protocol::changes_target(m_record.action)) {
        return finish(Phase::activate, Status::fail, "switch-to-configuration " + action_name() + " failed", "failed");
      }
      return roll_back(m_last_failure);
    }
    if (!run_hook("postActivate", spec.post_activate_hook)) {
      if (spec.rollback_on_hook_failure) {
        return roll_back("the postActivate hook failed");
      }
      return finish(Phase::activate, Status::fail, "the postActivate hook failed (the new configuration stays active)",
                    "failed");
    }
    if (!protocol::awaits_confirmation(m_record.action)) {
      return succeed();
    }
    for (const auto& check : spec.health_checks) {
      auto outcome = run_health_check(check);
      m_events.emit(m_record.node, Phase::check, Status::start, outcome.summary);
      std::string detail = outcome.summary + " (" + std::to_string(outcome.attempts) + " attempt" +
                           (outcome.attempts == 1 ? "" : "s") + "): " + outcome.output;
      if (!outcome.passed) {
        m_events.emit(m_record.node, Phase::check, Status::fail, detail);
        return roll_back("health check failed: " + detail);
      }
      m_events.emit(m_record.node, Phase::check, Status::ok, detail);
    }
    return await_confirmation(store);
  }

private:
  int await_confirmation(const ActivationStore& store) {
    const int timeout = m_record.spec.confirm_timeout;
    m_events.emit(m_record.node, Phase::activate, Status::progress,
                  "waiting up to " + std::to_string(timeout) + " s for the deployer to confirm over a new SSH connection",
                  {{"awaitConfirmation", m_record.id}});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{timeout};
    while (std::chrono::steady_clock::now() < deadline) {
      if (store.decision(m_record.id) == "confirmed") {
        return succeed();
      }
      std::this_thread::sleep_for(k_decision_poll);
    }
    if (!store.decide(m_record.id, "expired")) {
      return succeed();  // the confirmation won the race by a hair
    }
    return roll_back("no confirmation within " + std::to_string(timeout) +
                     " s: the new configuration may have cut SSH or the network");
  }

  int succeed() {
    nlohmann::json extra = {{"storePath", m_record.store_path}};
    if (protocol::sets_system_profile(m_record.action) && !m_record.previous_path.empty()) {
      extra["previousPath"] = m_record.previous_path;
      extra["closureDiff"] = diff_closures(m_nix, m_record.previous_path, m_record.store_path);
    }
    return finish(Phase::activate, Status::ok, action_name() + " done", "ok", extra);
  }

  // Puts back what ran before: the profile generation (switch, boot) and the previous system
  // (switch, test). On a first deployment there is nothing to go back to.
  int roll_back(const std::string& reason) {
    const auto& node = m_record.node;
    m_events.emit(node, Phase::rollback, Status::start, reason);
    const bool profile_changed = protocol::sets_system_profile(m_record.action);
    const bool running_changed = protocol::changes_running_system(m_record.action);
    if ((profile_changed && m_record.previous_generation == 0) || (running_changed && m_record.previous_system.empty())) {
      return finish(Phase::rollback, Status::fail,
                    reason + "; this is the node's first deployment, so there is no previous generation to return to: "
                             "left as it is",
                    "failed");
    }
    if (profile_changed) {
      auto argv = as_root(m_nix.legacy(
          "nix-env", {"-p", k_system_profile, "--switch-generation", std::to_string(m_record.previous_generation)}));
      if (!step(argv, std::chrono::seconds{300}, Phase::rollback)) {
        return finish(Phase::rollback, Status::fail, reason + "; restoring the system profile failed", "failed");
      }
    }
    if (running_changed) {
      auto script = m_record.previous_system + "/bin/switch-to-configuration";
      if (!step(as_root({script, action_name()}), std::chrono::seconds{m_record.timeout_seconds}, Phase::rollback)) {
        return finish(Phase::rollback, Status::fail, reason + "; re-activating " + m_record.previous_system + " failed",
                      "failed");
      }
    }
    std::string back_to =
        running_changed ? m_record.previous_system : "generation " + std::to_string(m_record.previous_generation);
    return finish(Phase::rollback, Status::ok, reason + "; rolled back to " + back_to, "rolled-back",
                  {{"previousSystem", m_record.previous_system}});
  }

  bool run_hook(const char* name, const std::string& command) {
    if (command.empty()) {
      return true;
    }
    m_events.emit(m_record.node, Phase::activate, Status::progress, std::string(name) + " hook: " + command);
    return step({"/bin/sh", "-c", command}, std::chrono::seconds{m_record.spec.hook_timeout});
  }

  // Runs one command with its output as progress events; true on exit 0. The failure's
  // description ("… timed out after 5 s", "… exited with 1") is kept for the error message.
  bool step(const std::vector<std::string>& argv, std::chrono::seconds timeout, Phase phase = Phase::activate) {
    auto log = [&](std::string_view line) { m_events.emit(m_record.node, phase, Status::progress, line); };
    auto result = run_process({argv, {{"FLEET_NODE", m_record.node}, {"FLEET_STORE_PATH", m_record.store_path},
                                      {"FLEET_ACTION", action_name()}},
                               "", timeout},
                              log, log);
    if (!result.ok()) {
      m_last_failure = describe_command(argv) + (result.timed_out ? " timed out after " + std::to_string(timeout.count()) + " s"
                                                                  : " exited with " + std::to_string(result.exit_code));
      m_events.emit(m_record.node, phase, Status::progress, m_last_failure);
    }
    return result.ok();
  }

  std::string action_name() const { return protocol::to_string(m_record.action); }

  int finish(Phase phase, Status status, const std::string& msg, const std::string& result,
             nlohmann::json extra = nlohmann::json::object()) {
    extra["final"] = result;
    m_events.emit(m_record.node, phase, status, msg, extra);
    return result == "ok" ? 0 : 1;
  }

  ActivationRecord m_record;
  EventWriter& m_events;
  std::string m_last_failure;
  NixCli m_nix;
};

}  // namespace

int run_supervisor(const ActivationStore& store, const std::string& id) {
  auto record = store.load(id);
  std::FILE* file = std::fopen(store.events_file(id).c_str(), "a");
  if (file == nullptr) {
    throw Error("cannot open the events file of activation '" + id + "'");
  }
  {
    std::ofstream pid(store.pid_file(id));
    pid << getpid() << '\n';
  }
  EventWriter events(file);
  int rc = 1;
  std::exception_ptr bug;
  try {
    rc = Supervision(record, events).run(store);
  } catch (const std::exception& e) {
    // Whoever follows the activation waits for a final event, so it is written whatever failed;
    // a bug then still reaches main() and its exit code.
    events.emit(record.node, Phase::activate, Status::fail, "the activation supervisor failed: " + describe_error(e),
                {{"final", "failed"}});
    if (is_internal_error(e)) {
      bug = std::current_exception();
    }
  }
  std::fclose(file);
  if (bug) {
    std::rethrow_exception(bug);
  }
  return rc;
}

void spawn_supervisor(const std::filesystem::path& state_dir, const std::string& id) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw Error("cannot find this program's own path: " + ec.message());
  }
  std::vector<std::string> args{self.string(), "--state-dir", state_dir.string(), "supervise", "--id", id};
  if (std::filesystem::exists("/run/systemd/system")) {
    std::vector<std::string> argv{"systemd-run", "--unit", "fleet-activation-" + id, "--collect",
                                  "--service-type=exec", "--quiet", "--"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = run_process({argv, {}, "", std::chrono::seconds{60}});
    if (!result.ok()) {
      throw Error("systemd-run could not start the activation supervisor: " + result.err_tail);
    }
    return;
  }
  // Everything the children use is prepared before fork: this process may have threads.
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t child = fork();
  if (child < 0) {
    throw Error("cannot start the activation supervisor: fork failed");
  }
  if (child == 0) {
    setsid();
    if (fork() != 0) {
      _exit(0);
    }
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
}

}  // namespace fleet::builder
