// SPDX-License-Identifier: MIT
#include "coordinator/run/ssh_agent_link.hpp"

#include "coordinator/run/agent_check.hpp"
#include "coordinator/run/build_job.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/exit_code.hpp"
#include "uploader/base/process.hpp"
#include "uploader/protocol/json_document.hpp"
#include "uploader/ssh/ssh_error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

namespace fleet::coordinator {
namespace {

constexpr std::size_t k_upload_chunk = 256 * 1024;
constexpr std::size_t k_answer_line = 64 * 1024;
// An inventory of a few thousand nodes fits with room to spare.
constexpr std::size_t k_max_inventory_answer = 64 << 20;
constexpr const char* k_agent = "fleet-builder";
// How long a confirmation or reattachment waits before it tries a new connection again.
constexpr std::chrono::seconds k_reconnect_pause{2};

bool is_transient(const ssh::SshError& error) {
  // Host keys and authentication never fix themselves; retrying them only delays the report.
  return error.kind() == ssh::SshFailure::unreachable || error.kind() == ssh::SshFailure::connection_lost ||
         error.kind() == ssh::SshFailure::timed_out;
}

// What is left of `deadline`, at least a second, as an SshSession::exec limit.
std::chrono::seconds left_until(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::seconds{1});
}

// What a remote command wrote on stderr, for its error message: the end of it (where the reason
// is), so that an agent writing without end cannot fill the laptop's memory.
struct StderrText {
  static constexpr std::size_t k_kept = 8192;

  std::string text;
  void add(std::string_view line) {
    text += std::string(line) + "\n";
    if (text.size() > 2 * k_kept) {
      text = "…" + text.substr(text.size() - k_kept);
    }
  }
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) { add(line); };
  }
  // The text as the end of a one-line message.
  std::string said() const {
    const auto end = text.find_last_not_of(" \n");
    return end == std::string::npos ? "" : text.substr(0, end + 1);
  }
};

// fleet.json's nixOptions as the agent's --nix-option flags, each with a leading space.
std::string nix_option_flags(const std::map<std::string, std::string>& nix_options) {
  std::string flags;
  for (const auto& [key, value] : nix_options) {
    flags += " --nix-option " + shell_quote(key + "=" + value);
  }
  return flags;
}

}  // namespace

SshAgentLink::SshAgentLink(BuildLocation location, ssh::SshOptions options)
    : m_location(std::move(location)), m_options(std::move(options)) {}

void SshAgentLink::connect(const NoteSink& on_retry) {
  const auto& retries = m_location.run.retries;
  int delay = retries.delay;
  for (int attempt = 0;; ++attempt) {
    try {
      m_session = ssh::SshSession::connect(m_location.ssh, m_options);
      return;
    } catch (const ssh::SshError& e) {
      if (!is_transient(e) || attempt >= retries.count) {
        if (attempt > 0) {
          throw ssh::SshError(e.kind(), std::string(e.what()) + " (gave up after " + std::to_string(attempt + 1) + " attempts)");
        }
        throw;
      }
      if (on_retry) {
        on_retry("retry " + std::to_string(attempt + 1) + " of " + std::to_string(retries.count) + " in " +
                 std::to_string(delay) + " s: " + e.what());
      }
      std::this_thread::sleep_for(std::chrono::seconds{delay});
      delay = std::min(delay * 2, 600);
    }
  }
}

AgentVersion SshAgentLink::version() {
  StderrText err;
  auto channel = m_session->exec(std::string(k_agent) + " version --json",
                                 std::chrono::seconds{m_location.run.timeouts.connect}, err.sink());
  channel->send_eof();
  auto line = channel->read_line(protocol::k_max_version_answer);
  auto status = channel->wait_exit();
  if (status.code == 127) {
    throw missing_agent_error(m_session->describe());
  }
  try {
    if (status.code != 0) {
      throw ProtocolError("it exited with " + ssh::describe(status));
    }
    return protocol::parse_agent_version(line.value_or(""));
  } catch (const ProtocolError& e) {
    throw ProtocolError("unexpected answer from fleet-builder version on " + m_session->describe() + ": " + e.what() +
                        " " + err.said());
  }
}

TransferRecord SshAgentLink::upload(transfer::PayloadCache& payloads) {
  StderrText err;
  // One limit for the whole upload, so a receiver that stops reading cannot hold the run.
  auto channel = m_session->exec(std::string(k_agent) + " receive --hash " + payloads.hash(),
                                 std::chrono::seconds{m_location.run.timeouts.upload}, err.sink());
  auto hello_line = channel->read_line(k_answer_line);
  transfer::ReceiveHello hello;
  try {
    hello = transfer::parse_receive_hello(hello_line.value_or(""));
  } catch (const ProtocolError& e) {
    auto status = channel->wait_exit();
    throw NodeError("unexpected answer from fleet-builder receive on " + m_session->describe() + " (" +
                    ssh::describe(status) + "): " + e.what() + " " + err.said());
  }
  TransferRecord record{k_laptop, m_location.name, 0, hello.have, "", ""};
  if (!hello.have) {
    auto payload = payloads.payload_for(hello);
    channel->write(transfer::to_line(payload->header) + "\n");
    std::string_view data(payload->bytes);
    for (std::size_t offset = 0; offset < data.size(); offset += k_upload_chunk) {
      channel->write(data.substr(offset, k_upload_chunk));
    }
    record.bytes = data.size();
    record.base = payload->header.base;
  }
  channel->send_eof();
  std::string rest = channel->read_all(k_answer_line);
  auto status = channel->wait_exit();
  if (status.code != 0) {
    throw NodeError("upload to " + m_session->describe() + " was rejected (" + ssh::describe(status) + "): " + err.said() +
                    rest);
  }
  return record;
}

transfer::RelayDestination SshAgentLink::address() const {
  const auto& verified = m_session->verified_target();
  return {m_location.name, verified.host, verified.user, verified.port, verified.pinned_host_key};
}

std::vector<transfer::RelayOutcome> SshAgentLink::relay(const std::string& hash, const transfer::RelayRequest& request) {
  StderrText err;
  // Every destination has its own time limit on the relaying node, all running at once; this
  // bounds a silent relay.
  const auto bound = std::chrono::seconds{request.timeout + m_location.run.timeouts.connect + 60};
  auto channel = m_session->exec(std::string(k_agent) + " relay --hash " + hash, bound, err.sink());
  channel->write(transfer::to_json(request).dump());
  channel->send_eof();
  auto named = [&](const std::string& name) {
    return std::any_of(request.destinations.begin(), request.destinations.end(),
                       [&](const transfer::RelayDestination& d) { return d.name == name; });
  };
  std::vector<transfer::RelayOutcome> outcomes;
  while (auto line = channel->read_line(k_answer_line)) {
    try {
      auto outcome = transfer::parse_relay_outcome(*line);
      if (named(outcome.to)) {
        outcomes.push_back(std::move(outcome));
      }
    } catch (const ProtocolError& e) {
      err.add(std::string("unexpected output: ") + e.what());
    }
  }
  auto status = channel->wait_exit();
  for (const auto& destination : request.destinations) {
    bool answered = std::any_of(outcomes.begin(), outcomes.end(),
                                [&](const transfer::RelayOutcome& o) { return o.to == destination.name; });
    if (!answered) {
      transfer::RelayOutcome missing;
      missing.to = destination.name;
      missing.error = m_location.name + " gave no outcome for it (" + ssh::describe(status) + "): " + err.said();
      outcomes.push_back(std::move(missing));
    }
  }
  return outcomes;
}

InputUpdate SshAgentLink::update_inputs(const std::string& hash, const std::string& flake,
                                        const std::map<std::string, std::string>& nix_options) {
  std::string command = std::string(k_agent) + " update-inputs --hash " + shell_quote(hash) + " --flake " +
                        shell_quote(flake) + " --timeout " + std::to_string(m_location.run.timeouts.build);
  command += nix_option_flags(nix_options);
  StderrText err;
  auto channel = m_session->exec(command, std::chrono::seconds{m_location.run.timeouts.build + 60}, err.sink());
  channel->send_eof();
  auto line = channel->read_line(4 << 20);
  auto status = channel->wait_exit();
  auto answer = protocol::parse_json(line.value_or(""));
  if (status.code != 0 || !answer.is_object() || !answer.contains("flakeLock") || !answer["flakeLock"].is_string()) {
    throw NodeError("updating the flake inputs on " + m_session->describe() + " failed (" + ssh::describe(status) +
                    "):\n" + err.text);
  }
  InputUpdate update;
  update.flake_lock = answer["flakeLock"].get<std::string>();
  if (answer.contains("log") && answer["log"].is_string()) {
    update.log = answer["log"].get<std::string>();
  }
  return update;
}

nlohmann::json SshAgentLink::inventory(const std::string& hash, const std::string& flake, protocol::InventoryKind kind,
                                       const std::map<std::string, std::string>& nix_options) {
  const int timeout = m_location.run.timeouts.inventory;
  std::string command = std::string(k_agent) + " inventory --hash " + shell_quote(hash) + " --flake " + shell_quote(flake) +
                        " --kind " + protocol::to_string(kind) + " --timeout " + std::to_string(timeout);
  command += nix_option_flags(nix_options);
  StderrText err;
  auto channel = m_session->exec(command, std::chrono::seconds{timeout + 60}, err.sink());
  channel->send_eof();
  auto line = channel->read_line(k_max_inventory_answer);
  auto status = channel->wait_exit();
  if (status.code == to_int(ExitCode::usage)) {
    std::string text = err.text;
    if (constexpr std::string_view prefix = "fleet-builder: error: "; text.rfind(prefix, 0) == 0) {
      text.erase(0, prefix.size());
    }
    throw InventoryError("the inventory does not evaluate on " + m_location.name + ": " +
                         (text.empty() ? "fleet-builder exited with 2\n" : text) +
                         "fix the flake (the message above is nix's), then run fleet again");
  }
  auto answer = protocol::parse_json(line.value_or(""));
  if (status.code != 0 || !answer.is_object() || !answer.contains("inventory")) {
    throw NodeError("evaluating the inventory on " + m_session->describe() + " failed (" + ssh::describe(status) +
                    "):\n" + err.text);
  }
  return answer["inventory"];
}

ssh::ExitStatus SshAgentLink::run_job(const protocol::BuildJob& job, const LineSink& on_event_line,
                                      const LineSink& on_stderr) {
  const auto bound = job_time_bound(job);
  auto channel = m_session->exec(std::string(k_agent) + " build", bound, on_stderr);
  try {
    channel->write(protocol::to_json(job).dump());
    channel->send_eof();
    while (auto line = channel->read_line(1 << 20)) {
      on_event_line(*line);
    }
    return channel->wait_exit();
  } catch (const ssh::SshError& e) {
    if (e.kind() != ssh::SshFailure::timed_out) {
      throw;
    }
    throw ssh::SshError(ssh::SshFailure::timed_out, "the build job on " + m_session->describe() + " did not finish within " +
                                                        std::to_string(bound.count()) + " s (the sum of fleet.json's timeouts for it)");
  }
}

std::string SshAgentLink::confirm(const std::string& id, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  std::string outcome = "could not reach " + m_location.name + " again to confirm; it rolls back by itself";
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      auto session = ssh::SshSession::connect(m_location.ssh, m_options);
      StderrText err;
      auto channel = session->exec(std::string(k_agent) + " confirm --id " + shell_quote(id), left_until(deadline), err.sink());
      channel->send_eof();
      channel->read_all(k_answer_line);
      auto status = channel->wait_exit();
      return status.code == 0 ? "confirmed over a new SSH connection" : "the target refused the confirmation: " + err.said();
    } catch (const ssh::SshError& e) {
      outcome = std::string("confirming failed, retrying: ") + e.what();
      std::this_thread::sleep_for(k_reconnect_pause);
    }
  }
  return outcome;
}

std::string SshAgentLink::attach(const std::string& id, std::size_t from, std::chrono::seconds within,
                                 const LineSink& on_event_line) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  std::string last_error = "no time was left to try";
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      auto session = ssh::SshSession::connect(m_location.ssh, m_options);
      auto channel = session->exec(std::string(k_agent) + " attach --id " + shell_quote(id) + " --from " + std::to_string(from),
                                   left_until(deadline));
      channel->send_eof();
      while (auto line = channel->read_line()) {
        on_event_line(*line);
      }
      channel->wait_exit();
      return "the activation of " + m_location.name + " ended";
    } catch (const ssh::SshError& e) {
      last_error = e.what();
      std::this_thread::sleep_for(k_reconnect_pause);
    }
  }
  return "could not reach " + m_location.name +
         " again before its activation's limits passed (timeouts.activate + confirmTimeout + timeouts.connect from "
         "its start); unless it was confirmed, it rolls back by itself. The last try: " +
         last_error;
}

AgentLinkFactory ssh_agent_links(ssh::SshOptions options) {
  return [options](const BuildLocation& location) { return std::make_unique<SshAgentLink>(location, options); };
}

}  // namespace fleet::coordinator
