// SPDX-License-Identifier: MIT
#include "builder/phases/delivery.hpp"

#include "builder/activation/activate_here.hpp"
#include "builder/ssh_retry.hpp"
#include "builder/target_agent.hpp"
#include "builder/target_ssh.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <thread>

namespace fleet::builder {
namespace {

using protocol::Phase;
using protocol::Status;

constexpr std::size_t k_probe_parallel = 16;
constexpr std::chrono::seconds k_confirm_timeout{20};
constexpr std::chrono::seconds k_confirm_retry{2};
// The target's agent enforces the activation timeout itself and reports it; the ssh around it
// gets this much longer, so only a target that stops answering is cut off from here.
constexpr int k_remote_grace_seconds = 60;
constexpr int k_command_not_found = 127;
constexpr int k_cannot_execute = 126;

// Explains an OpenSSH failure in the user's terms; ssh's own last lines follow.
std::string explain_ssh_failure(const ProcessResult& result, const TargetSsh& ssh) {
  const auto& err = result.err_tail;
  std::string why;
  if (result.timed_out) {
    why = "no answer within the time limit";
  } else if (err.find("REMOTE HOST IDENTIFICATION HAS CHANGED") != std::string::npos ||
             err.find("Host key verification failed") != std::string::npos) {
    why = "host key verification failed: the key " + ssh.destination +
          " presented does not match hostKey in fleet.json (or known_hosts); if the host was reinstalled, "
          "update hostKey after checking the new key's fingerprint";
  } else if (err.find("Connection refused") != std::string::npos || err.find("timed out") != std::string::npos ||
             err.find("No route to host") != std::string::npos || err.find("Could not resolve") != std::string::npos) {
    why = "unreachable";
  } else if (err.find("Permission denied") != std::string::npos) {
    why = "authentication failed: the build node's key is not authorized on the target";
  } else {
    why = "ssh exited with " + std::to_string(result.exit_code);
  }
  return "cannot reach " + ssh.destination + " from this build node: " + why + "\n" + err;
}

// Settles which fleet-builder runs on the target (see choose_target_agent) and says why.
void choose_agent(TargetState& state, BroughtAgent& brought, EventWriter& events) {
  state.agent = choose_target_agent(
      state.own_agent, [&] { return system_closure_agent(state.out_path); }, [&] { return brought.path(); });
  events.emit(state.target.node, Phase::copy, Status::progress, state.agent.why);
}

// Copies the closure, and the agent brought for the target if any, in one `nix copy`.
void copy_closure(TargetState& state, const TargetSsh& ssh, const NixCli& nix, const DeliveryLimits& limits,
                  BroughtAgent& brought, EventWriter& events) {
  const auto& node = state.target.node;
  events.emit(node, Phase::copy, Status::start, state.out_path + " → " + ssh.store_url());
  std::vector<std::string> args{"copy", "--to", ssh.store_url(), state.out_path};
  if (state.target.substitute_on_target) {
    args.push_back("--substitute-on-destination");  // what the target's caches have is not sent from here
  }
  if (protocol::activates(state.target.action)) {
    try {
      choose_agent(state, brought, events);
    } catch (const std::exception& e) {
      state.failed = true;
      events.emit(node, Phase::copy, Status::fail, describe_error(e));
      return;
    }
    if (!state.agent.copied.empty()) {
      args.push_back(state.agent.copied);
    }
  }
  auto log = [&](std::string_view line) { events.emit(node, Phase::copy, Status::progress, line); };
  auto argv = nix.nix(args);
  auto retry = [&](const std::string& why) { events.emit(node, Phase::copy, Status::progress, why); };
  // `nix copy` only adds valid paths, so running it again after a dropped connection is safe; a
  // copy that ran out of time is not tried again.
  auto result = run_with_retries({argv, {{"NIX_SSHOPTS", ssh.nix_sshopts()}}, "", std::chrono::seconds{limits.timeouts.copy}},
                                 limits.retries, retry, log, log, [](const ProcessResult& r) { return !r.timed_out; });
  if (!result.ok()) {
    state.failed = true;
    events.emit(node, Phase::copy, Status::fail, "nix copy to " + ssh.store_url() + " failed:\n" + result.err_tail);
    return;
  }
  events.emit(node, Phase::copy, Status::ok, "closure on " + ssh.destination);
}

// Confirms activation `id` on the target over a connection of its own: that a new SSH
// connection gets through proves the new configuration kept the host reachable. Retries until
// the target's own deadline; a late confirmation is refused by the target. Sets `confirmed` when
// the target took the confirmation.
void confirm_remote(const TargetSsh& ssh, const std::string& agent, const std::string& id, int confirm_timeout,
                    const std::string& node, EventWriter& events, bool& confirmed) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{confirm_timeout};
  while (std::chrono::steady_clock::now() < deadline) {
    auto confirm = shell_quote(agent) + " confirm --id " + shell_quote(id);
    auto result = run_process({ssh.fresh_command(confirm), {}, "", k_confirm_timeout});
    if (result.ok()) {
      confirmed = true;
      events.emit(node, Phase::activate, Status::progress, "confirmed over a new SSH connection");
      return;
    }
    if (result.exit_code != 255) {
      events.emit(node, Phase::activate, Status::progress, "the target refused the confirmation: " + result.err_tail);
      return;
    }
    std::this_thread::sleep_for(k_confirm_retry);
  }
  events.emit(node, Phase::activate, Status::progress,
              "could not reach the target again to confirm; it rolls back by itself");
}

// What is known of an activation whose target stopped answering before it said how it ended.
std::string lost_contact(const ProcessResult& result, const TargetSsh& ssh, const std::string& id, bool confirmed,
                         std::chrono::seconds waited) {
  return "lost contact with " + ssh.destination + " during activation " + id +
         " and could not reach it again before the activation's limits passed (" + std::to_string(waited.count()) +
         " s from its start: timeouts.activate + confirmTimeout + timeouts.connect); " +
         (confirmed ? "it was confirmed, so it keeps the new configuration unless that fails; check the target"
                    : "it was not confirmed, so it rolls back by itself to the configuration it ran before") +
         "\n" + explain_ssh_failure(result, ssh);
}

// Runs `fleet-builder activate` on the target and relays its events, accepting only
// well-formed events about this node. The target's supervisor goes on if this connection
// drops (the new configuration may restart the network); then the outcome is fetched again
// with `fleet-builder attach` once the target answers.
void activate_remote(const TargetSsh& ssh, TargetState& state, const NixCli& nix, const DeliveryLimits& limits,
                     const RunIdentity& identity, EventWriter& events) {
  const auto& node = state.target.node;
  const std::string agent = shell_quote(state.agent_command());
  std::string remote = agent + " activate --stdin --node " + shell_quote(node) + " --path " + shell_quote(state.out_path) +
                       " --action " + shell_quote(protocol::to_string(state.target.action)) + " --timeout " +
                       std::to_string(limits.timeouts.activate);
  if (!identity.run_id.empty()) {
    remote += " --run-id " + shell_quote(identity.run_id);
  }
  if (!identity.deployer.empty()) {
    remote += " --deployer " + shell_quote(identity.deployer);
  }
  for (const auto& [key, value] : nix.options()) {
    remote += " --nix-option " + shell_quote(key + "=" + value);
  }
  std::string activation_id;
  std::string final_result;
  std::size_t lines = 0;
  bool heard = false;
  bool confirmed = false;
  std::thread confirmer;
  auto on_line = [&](std::string_view line) {
    heard = true;
    try {
      auto event = protocol::parse_event_line(line);
      if (event.node != node) {
        throw ProtocolError("event for node '" + event.node + "' from the agent of " + node);
      }
      // After the event that names the activation, the agent relays its events file: `attach
      // --from` counts lines of that file, so what the agent said before is not counted.
      if (event.extra.contains("activation") && event.extra["activation"].is_string()) {
        activation_id = event.extra["activation"].get<std::string>();
        lines = 0;
      } else if (!activation_id.empty()) {
        ++lines;
      }
      if (event.extra.contains("final") && event.extra["final"].is_string()) {
        final_result = event.extra["final"].get<std::string>();
      }
      if (event.extra.contains("awaitConfirmation") && !confirmer.joinable()) {
        confirmer = std::thread(confirm_remote, ssh, state.agent_command(), activation_id,
                                state.target.activation.confirm_timeout, node, std::ref(events), std::ref(confirmed));
      }
      events.emit(event);
    } catch (const Error& e) {
      events.emit(node, Phase::activate, Status::progress, std::string("unexpected output from the target's agent: ") + e.what());
    }
  };
  auto retry = [&](const std::string& why) { events.emit(node, Phase::activate, Status::progress, why); };
  std::chrono::seconds ssh_timeout{limits.timeouts.activate + limits.timeouts.connect + k_remote_grace_seconds +
                                   state.target.activation.confirm_timeout};
  // Only a connection that never reached the target's agent is tried again: activating twice
  // is not what anyone asked for.
  auto document = secrets::activation_stdin(state.target.activation, state.secrets.bundle);
  // The target ends the activation by its own limits; past them (and a connection's time) no
  // outcome can come any more.
  const std::chrono::seconds limit{limits.timeouts.activate + state.target.activation.confirm_timeout +
                                   limits.timeouts.connect};
  const auto reattach_deadline = std::chrono::steady_clock::now() + limit;
  auto result = run_with_retries({ssh.command(remote), {}, document, ssh_timeout}, limits.retries, retry, on_line, {},
                                 [&](const ProcessResult& r) { return !heard && !r.timed_out && r.exit_code == 255; });
  const bool lost = final_result.empty() && !activation_id.empty() && result.exit_code == 255;
  if (lost) {
    events.emit(node, Phase::activate, Status::progress,
                "connection lost during activation " + activation_id + "; reattaching until its limits pass, " +
                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                       reattach_deadline - std::chrono::steady_clock::now())
                                       .count()) +
                    " s from now");
  }
  while (final_result.empty() && !activation_id.empty() && result.exit_code == 255 &&
         std::chrono::steady_clock::now() < reattach_deadline) {
    std::this_thread::sleep_for(k_confirm_retry);
    std::string attach = agent + " attach --id " + shell_quote(activation_id) + " --from " + std::to_string(lines);
    result = run_process({ssh.fresh_command(attach), {}, "", ssh_timeout}, on_line);
  }
  if (confirmer.joinable()) {
    confirmer.join();
  }
  if (final_result == "ok") {
    return;
  }
  state.failed = true;
  if (!final_result.empty()) {
    return;  // the target's own events said how it failed or rolled back
  }
  if (!state.agent.copied.empty() && (result.exit_code == k_command_not_found || result.exit_code == k_cannot_execute)) {
    events.emit(node, Phase::activate, Status::fail,
                "the fleet-builder brought to " + ssh.destination + " (" + state.agent_command() +
                    ") did not start there: a target of another architecture than this build node needs fleet-builder "
                    "installed (the NixOS module in nix/ does)\n" + result.err_tail);
  } else if (result.exit_code == k_command_not_found) {
    events.emit(node, Phase::activate, Status::fail,
                "fleet-builder is not installed on " + ssh.destination +
                    ": install it on the target (the NixOS module in nix/ does) or put it on the login PATH");
  } else if (lost && result.exit_code == 255) {
    events.emit(node, Phase::activate, Status::fail, lost_contact(result, ssh, activation_id, confirmed, limit));
  } else if (result.exit_code == 255) {
    events.emit(node, Phase::activate, Status::fail, explain_ssh_failure(result, ssh));
  } else {
    events.emit(node, Phase::activate, Status::fail, "activation on the target failed:\n" + result.err_tail);
  }
}

}  // namespace

void probe_targets(std::vector<TargetState>& targets, const std::filesystem::path& work_dir, EventWriter& events,
                   const DeliveryLimits& limits) {
  for_each_live_target(targets, k_probe_parallel, [&](TargetState& state) {
    if (state.target.mode != protocol::TargetMode::delegate) {
      return;
    }
    const auto& node = state.target.node;
    events.emit(node, Phase::probe, Status::start, "ssh " + state.target.host);
    try {
      auto ssh = make_target_ssh(state.target, work_dir);
      auto retry = [&](const std::string& why) { events.emit(node, Phase::probe, Status::progress, why); };
      // One command proves the target reachable and asks its agent's version. Only the first
      // line is kept, and only if it is short: the answer is the target's, so it is hostile.
      FirstLine first_line;
      auto result = run_with_retries(
          {ssh.command(k_agent_version_command), {}, "", std::chrono::seconds{limits.timeouts.connect}}, limits.retries,
          retry, first_line.sink());
      if (result.exit_code == 255 || result.timed_out || result.signal != 0) {
        state.failed = true;
        events.emit(node, Phase::probe, Status::fail, explain_ssh_failure(result, ssh));
        return;
      }
      state.own_agent = read_agent_probe(result.exit_code, first_line.text());
      events.emit(node, Phase::probe, Status::ok, "reachable from this build node; " + describe_probe(state.own_agent));
    } catch (const std::exception& e) {
      // Each target runs on a thread of its own: whatever fails fails that target only.
      state.failed = true;
      events.emit(node, Phase::probe, Status::fail, describe_error(e));
    }
  });
}

void Deliverer::deliver(TargetState& state) {
  try {
    if (state.target.mode == protocol::TargetMode::self) {
      ActivationRequest request;
      request.node = state.target.node;
      request.store_path = state.out_path;
      request.action = state.target.action;
      request.spec = state.target.activation;
      request.timeout_seconds = m_limits.timeouts.activate;
      request.run_id = m_identity.run_id;
      request.deployer = m_identity.deployer;
      request.secrets = state.secrets.bundle;
      state.failed = activate_here(request, m_nix, m_state_dir, m_events) != "ok";
      return;
    }
    auto ssh = make_target_ssh(state.target, m_work_dir);
    copy_closure(state, ssh, m_nix, m_limits, m_brought, m_events);
    if (!state.failed && protocol::activates(state.target.action)) {
      activate_remote(ssh, state, m_nix, m_limits, m_identity, m_events);
    }
    ssh.stop_sharing();
  } catch (const std::exception& e) {
    state.failed = true;
    m_events.emit(state.target.node, Phase::copy, Status::fail, describe_error(e));
  }
}

}  // namespace fleet::builder
