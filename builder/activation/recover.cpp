// SPDX-License-Identifier: MIT
#include "builder/activation/recover.hpp"

#include "builder/activation/activate_here.hpp"
#include "builder/activation/activation_steps.hpp"
#include "builder/activation/switch_lock.hpp"
#include "builder/closure_diff.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <unistd.h>

namespace fleet::builder {
namespace {

using protocol::Phase;
using protocol::Status;

// The last event with a "final" result in an events file.
std::optional<RecoverOutcome> final_outcome(const std::filesystem::path& events_file) {
  std::optional<RecoverOutcome> found;
  std::ifstream in(events_file);
  for (std::string line; std::getline(in, line);) {
    try {
      auto event = protocol::parse_event_line(line);
      if (event.extra.contains("final") && event.extra["final"].is_string()) {
        found = RecoverOutcome{event.extra["final"].get<std::string>(), event.msg};
      }
    } catch (const ProtocolError&) {
      // a damaged line is no result
    }
  }
  return found;
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

std::unique_ptr<std::FILE, FileCloser> open_events(const ActivationStore& store, const std::string& id) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(store.events_file(id).c_str(), "a"));
  if (!file) {
    throw Error("cannot open the events file of activation '" + id + "'");
  }
  return file;
}

// True while systemd takes the host down: a supervisor stopped then was stopped by a shutdown
// or reboot, which the report should say.
bool host_is_shutting_down() {
  if (!std::filesystem::exists("/run/systemd/system")) {
    return false;
  }
  auto state = run_process({{"systemctl", "is-system-running"}, {}, "", std::chrono::seconds{5}});
  return state.out.rfind("stopping", 0) == 0;
}

int finish_recovery(ActivationSteps& steps, const ActivationStore& store) {
  const auto& record = steps.record();
  const Stage reached = steps.stage();
  store.decide(record.id, "expired");  // a no-op when a decision is already there
  const std::string stopped = (host_is_shutting_down() ? "the host began to shut down (a reboot or power-off)"
                                                       : "the activation supervisor stopped") +
                              std::string(" at stage ") + to_string(reached);
  switch (decide_recovery(record.action, reached, store.decision(record.id))) {
    case Recovery::nothing:
      return 0;
    case Recovery::finish_ok:
      return steps.succeed(stopped + " after the confirmation; nothing was left to do");
    case Recovery::finish_commit:
      steps.set_stage(Stage::committing);
      if (!steps.commit()) {
        return steps.roll_back(stopped + " after the confirmation, and making the new system the boot default failed: " +
                                   steps.last_failure(),
                               undo_for(record.action, Stage::committing));
      }
      return steps.succeed(stopped + " after the confirmation; recover made the new system the boot default");
    case Recovery::roll_back:
      break;
  }
  return steps.roll_back(stopped + " before the activation was confirmed", undo_for(record.action, reached));
}

}  // namespace

RecoverOutcome recover_activation(const ActivationStore& store, const std::string& id,
                                  const secrets::SecretOptions& secret_options) {
  auto record = store.load(id);
  UniqueFd held = store.hold(id, true);
  if (auto done = final_outcome(store.events_file(id))) {
    return *done;
  }
  if (store.stage(id) == Stage::ended) {
    return {"failed", "the activation ended without a final event"};
  }
  auto file = open_events(store, id);
  EventWriter events(file.get());
  ActivationSteps steps(store, record, events, secret_options);
  auto orphan = end_orphaned_switch(k_switch_lock, id);
  if (!orphan.message.empty()) {
    events.emit(record.node, Phase::rollback, Status::progress, orphan.message);
  }
  try {
    finish_recovery(steps, store);
  } catch (const std::exception& e) {
    if (is_internal_error(e)) {
      throw;
    }
    steps.finish(Phase::rollback, Status::fail, "recovering the activation failed: " + describe_error(e), "failed");
  }
  std::fflush(file.get());
  return final_outcome(store.events_file(id)).value_or(RecoverOutcome{"failed", "recover wrote no result"});
}

int run_recover(const ActivationStore& store, const std::string& id, const secrets::SecretOptions& secret_options,
                EventWriter& out, const TargetLock& lock) {
  auto record = store.load(id);
  auto outcome = recover_activation(store, id, secret_options);
  if (auto holder = lock.holder(); holder && holder->activation == id) {
    if (UniqueFd target = lock.acquire(); target.valid()) {
      lock.clear_holder();
    }
  }
  out.emit(record.node, Phase::rollback, outcome.result == "ok" ? Status::ok : Status::fail,
           "activation " + id + ": " + outcome.message, {{"final", outcome.result}, {"activation", id}});
  return outcome.result == "ok" ? 0 : 1;
}

int run_recover_at_boot(const ActivationStore& store, const secrets::SecretOptions& secret_options, EventWriter& out) {
  std::error_code ec;
  const auto booted = std::filesystem::read_symlink(k_current_system, ec).string();
  std::string node;
  for (const auto& id : store.ids()) {
    try {
      auto record = store.load(id);
      node = record.node;
      UniqueFd held = store.hold(id, false);
      if (!held.valid() || store.stage(id) == Stage::ended || final_outcome(store.events_file(id))) {
        continue;
      }
      store.decide(id, "expired");
      auto file = open_events(store, id);
      EventWriter events(file.get());
      ActivationSteps steps(store, record, events, secret_options);
      if (!booted.empty() && booted == record.store_path) {
        steps.finish(Phase::activate, Status::ok, "the host rebooted during the activation; it booted the new generation",
                     "ok");
      } else {
        steps.finish(Phase::rollback, Status::ok,
                     "the host rebooted during the confirmation window; it booted the previous generation", "rolled-back");
      }
      out.emit(record.node, Phase::rollback, Status::progress, "activation " + id + " ended by the reboot");
    } catch (const std::exception& e) {
      if (is_internal_error(e)) {
        throw;
      }
      // One damaged activation must not keep the others, or the secrets, from being dealt with.
      out.emit(node.empty() ? id : node, Phase::rollback, Status::fail, "activation " + id + ": " + describe_error(e));
    }
  }
  if (node.empty()) {
    char host[256] = {};
    node = ::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0' ? host : "localhost";
  }
  secrets::GenerationSecrets secrets(secret_options);
  return secrets.install_for_boot(profile_store_path(k_system_profile), node, out) ? 0 : 1;
}

}  // namespace fleet::builder
