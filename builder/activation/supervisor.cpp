// SPDX-License-Identifier: MIT
#include "builder/activation/supervisor.hpp"

#include "builder/activation/activation_steps.hpp"
#include "builder/activation/health_checks.hpp"
#include "builder/activation/recover.hpp"
#include "builder/activation/switch_lock.hpp"
#include "builder/event_writer.hpp"
#include "uploader/base/error.hpp"

#include <cstdio>
#include <optional>
#include <thread>
#include <unistd.h>

namespace fleet::builder {
namespace {

using protocol::Action;
using protocol::Phase;
using protocol::Status;

constexpr std::chrono::milliseconds k_decision_poll{200};

// The steps of one activation in their order; see run_supervisor().
class Sequence {
public:
  Sequence(ActivationSteps& steps, const ActivationStore& store) : m_steps(steps), m_store(store) {}

  int run() {
    const auto& record = m_steps.record();
    if (!m_steps.run_hook("preActivate", record.spec.pre_activate_hook)) {
      return m_steps.finish(Phase::activate, Status::fail, hook_failure("preActivate") + "; nothing was changed", "failed");
    }
    return record.action == Action::boot ? boot() : activate_now();
  }

private:
  // What the report says of a hook that failed: which one, and how (its exit code or time limit).
  std::string hook_failure(const char* name) const {
    return std::string("the ") + name + " hook failed: " + m_steps.last_failure();
  }

  // switch, test and dry-activate: the new system runs before anything makes it the default.
  int activate_now() {
    const auto& record = m_steps.record();
    const Action action = record.action;
    m_steps.set_stage(Stage::switching);
    const bool with_secrets = protocol::installs_secrets(action);
    if (with_secrets) {
      if (!m_steps.keep_secrets()) {
        return m_steps.finish(Phase::activate, Status::fail, "not activated: the secrets could not be kept", "failed");
      }
      if (!m_steps.install_secrets("pre-activation")) {
        return m_steps.roll_back("not activated: a required pre-activation secret could not be installed",
                                 Undo{.secrets = true});
      }
    }
    const std::string verb = action == Action::switch_ ? "test" : m_steps.action_name();
    if (!m_steps.switch_to(record.store_path, verb)) {
      if (!protocol::changes_target(action)) {
        return m_steps.finish(Phase::activate, Status::fail, "switch-to-configuration " + verb + " failed", "failed");
      }
      return m_steps.roll_back(m_steps.last_failure(), undo_for(action, Stage::switching));
    }
    m_steps.set_stage(Stage::activated);
    if (with_secrets && !m_steps.install_secrets("post-activation")) {
      return m_steps.roll_back("a required post-activation secret could not be installed", undo_for(action, Stage::activated));
    }
    bool hook_failed = false;
    if (!m_steps.run_hook("postActivate", record.spec.post_activate_hook)) {
      if (record.spec.rollback_on_hook_failure) {
        return m_steps.roll_back(hook_failure("postActivate"), undo_for(action, Stage::activated));
      }
      if (!protocol::awaits_confirmation(action)) {
        return m_steps.finish(Phase::activate, Status::fail, hook_failure("postActivate"), "failed");
      }
      // The new system stays, so it still has to prove it keeps the host reachable.
      hook_failed = true;
    }
    if (!protocol::awaits_confirmation(action)) {
      return m_steps.succeed(m_steps.action_name() + " done");
    }
    if (!checks_pass()) {
      return m_steps.roll_back(m_check_failure, undo_for(action, Stage::activated));
    }
    m_steps.set_stage(Stage::awaiting_confirmation);
    if (!confirmed()) {
      return m_steps.roll_back("no confirmation within " + std::to_string(record.spec.confirm_timeout) +
                                   " s: the new configuration may have cut SSH or the network",
                               undo_for(action, Stage::awaiting_confirmation));
    }
    if (action == Action::switch_) {
      m_steps.set_stage(Stage::committing);
      if (!m_steps.commit()) {
        return m_steps.roll_back("confirmed, but making it the boot default failed: " + m_steps.last_failure(),
                                 undo_for(action, Stage::committing));
      }
    }
    if (hook_failed) {
      return m_steps.finish(Phase::activate, Status::fail, hook_failure("postActivate") + " (the new configuration stays active)",
                            "failed");
    }
    return m_steps.succeed(m_steps.action_name() + " done");
  }

  // boot: the profile and the boot entry; the running system and its secrets stay as they are.
  int boot() {
    const auto& record = m_steps.record();
    if (!m_steps.keep_secrets()) {
      return m_steps.finish(Phase::activate, Status::fail, "not activated: the secrets could not be kept", "failed");
    }
    m_steps.set_stage(Stage::committing);
    if (!m_steps.commit()) {
      return m_steps.roll_back(m_steps.last_failure(), undo_for(Action::boot, Stage::committing));
    }
    if (!m_steps.run_hook("postActivate", record.spec.post_activate_hook)) {
      if (record.spec.rollback_on_hook_failure) {
        return m_steps.roll_back(hook_failure("postActivate"), undo_for(Action::boot, Stage::committing));
      }
      return m_steps.finish(Phase::activate, Status::fail, hook_failure("postActivate") + " (the new generation stays the boot default)",
                            "failed");
    }
    return m_steps.succeed("boot done: the new generation is the boot default; its secrets are installed when it boots");
  }

  bool checks_pass() {
    const auto& node = m_steps.record().node;
    for (const auto& check : m_steps.record().spec.health_checks) {
      auto outcome = run_health_check(check);
      m_steps.events().emit(node, Phase::check, Status::start, outcome.summary);
      std::string detail = outcome.summary + " (" + std::to_string(outcome.attempts) + " attempt" +
                           (outcome.attempts == 1 ? "" : "s") + "): " + outcome.output;
      if (!outcome.passed) {
        m_steps.events().emit(node, Phase::check, Status::fail, detail);
        m_check_failure = "health check failed: " + detail;
        return false;
      }
      m_steps.events().emit(node, Phase::check, Status::ok, detail);
    }
    return true;
  }

  bool confirmed() {
    const auto& record = m_steps.record();
    const int timeout = record.spec.confirm_timeout;
    m_steps.events().emit(record.node, Phase::activate, Status::progress,
                          "waiting up to " + std::to_string(timeout) +
                              " s for the deployer to confirm over a new SSH connection",
                          {{"awaitConfirmation", record.id}});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{timeout};
    while (std::chrono::steady_clock::now() < deadline) {
      if (m_store.decision(record.id) == "confirmed") {
        return true;
      }
      std::this_thread::sleep_for(k_decision_poll);
    }
    // The confirmation may have won the race by a hair.
    return !m_store.decide(record.id, "expired") && m_store.decision(record.id) == "confirmed";
  }

  ActivationSteps& m_steps;
  const ActivationStore& m_store;
  std::string m_check_failure;
};

// Takes the target's lock for this activation, first finishing an activation whose supervisor
// died holding it, and ends a switch that supervisor left running. Returns the failure that
// stops this activation, or empty.
std::string take_target(ActivationSteps& steps, const ActivationStore& store, const TargetLock& lock, UniqueFd& held,
                        const secrets::SecretOptions& secret_options) {
  const auto& record = steps.record();
  auto& events = steps.events();
  held = lock.acquire();
  if (!held.valid()) {
    auto holder = lock.holder();
    return "another activation holds this target: " + (holder ? describe(*holder) : std::string("unknown holder")) +
           "; wait for it to end (`fleet-builder attach --id` follows it)";
  }
  if (auto dead = lock.holder(); dead && dead->activation != record.id) {
    events.emit(record.node, Phase::activate, Status::progress,
                "the lock's holder, " + describe(*dead) + ", has no live supervisor: recovering it first");
    auto outcome = recover_activation(ActivationStore(dead->state_dir.empty() ? store.state_dir() : std::filesystem::path(dead->state_dir)),
                                      dead->activation, secret_options);
    events.emit(record.node, Phase::activate, Status::progress, "recovered " + dead->activation + ": " + outcome.message);
  }
  lock.write_holder({record.id, record.run_id, record.deployer, utc_now_iso8601(), ::getpid(),
                     std::filesystem::absolute(store.state_dir()).string()});
  auto orphan = end_orphaned_switch(k_switch_lock, record.id);
  if (!orphan.message.empty()) {
    events.emit(record.node, Phase::activate, Status::progress, orphan.message);
  }
  return orphan.ok ? "" : orphan.message;
}

}  // namespace

int run_supervisor(const ActivationStore& store, const std::string& id, const secrets::SecretOptions& secret_options,
                   const TargetLock& lock) {
  auto record = store.load(id);
  UniqueFd own = store.hold(id, false);
  if (!own.valid()) {
    throw Error("activation '" + id + "' already has a supervisor (or a recover) at work");
  }
  std::FILE* file = std::fopen(store.events_file(id).c_str(), "a");
  if (file == nullptr) {
    throw Error("cannot open the events file of activation '" + id + "'");
  }
  EventWriter events(file);
  int rc = 1;
  std::exception_ptr bug;
  UniqueFd target;
  std::optional<ActivationSteps> steps;
  try {
    steps.emplace(store, record, events, secret_options);
    steps->set_stage(Stage::started);
    auto refused = take_target(*steps, store, lock, target, secret_options);
    rc = refused.empty() ? Sequence(*steps, store).run()
                         : steps->finish(Phase::activate, Status::fail, refused + "; nothing was changed", "failed");
  } catch (const std::exception& e) {
    // Whoever follows the activation waits for a final event, so one is written whatever
    // failed, after putting back what the stage says had changed; a bug then still reaches
    // main() and its exit code.
    std::string why = "the activation supervisor failed: " + describe_error(e);
    if (is_internal_error(e)) {
      bug = std::current_exception();
    }
    if (!steps) {
      events.emit(record.node, Phase::activate, Status::fail, why, {{"final", "failed"}});
    } else {
      try {
        rc = steps->roll_back(why, undo_for(record.action, steps->stage()));
      } catch (const std::exception& again) {
        events.emit(record.node, Phase::activate, Status::fail, why + "; then: " + describe_error(again),
                    {{"final", "failed"}});
      }
    }
  }
  if (target.valid()) {
    lock.clear_holder();
  }
  std::fclose(file);
  if (bug) {
    std::rethrow_exception(bug);
  }
  return rc;
}

}  // namespace fleet::builder
