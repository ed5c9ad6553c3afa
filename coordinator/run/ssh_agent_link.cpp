// SPDX-License-Identifier: MIT
#include "coordinator/run/location_link.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/ssh/ssh_error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

namespace fleet::coordinator {
namespace {

constexpr std::size_t k_upload_chunk = 256 * 1024;
constexpr const char* k_agent = "fleet-builder";
// How many targets the agent delivers at once (builder/build_command.cpp), for the job's bound.
constexpr long long k_agent_deliver_parallel = 4;

bool is_transient(const ssh::SshError& error) {
  // Host keys and authentication never fix themselves; retrying them only delays the report.
  return error.kind() == ssh::SshFailure::unreachable || error.kind() == ssh::SshFailure::connection_lost ||
         error.kind() == ssh::SshFailure::timed_out;
}

std::chrono::seconds job_bound(const BuildLocation& location) {
  const auto& t = location.run.timeouts;
  long long deliveries = (static_cast<long long>(location.targets.size()) + k_agent_deliver_parallel - 1) /
                         k_agent_deliver_parallel;
  long long connects = static_cast<long long>(t.connect) * (location.run.retries.count + 1);
  // Probe, evaluation, build, then the deliveries in batches, each copy and activation with
  // its own connection; plus slack for the agent's own bookkeeping.
  return std::chrono::seconds{connects + 2LL * t.build + deliveries * (t.copy + t.activate + 2 * connects) + 120};
}

}  // namespace

LocationLink::LocationLink(BuildLocation location, ssh::SshOptions options)
    : m_location(std::move(location)), m_options(std::move(options)) {}

void LocationLink::connect(const std::function<void(const std::string&)>& on_retry) {
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

TransferRecord LocationLink::upload(transfer::PayloadCache& payloads) {
  std::string stderr_text;
  auto channel = m_session->exec(std::string(k_agent) + " receive --hash " + payloads.hash(),
                                 [&](std::string_view line) { stderr_text += std::string(line) + "\n"; });
  const auto timeout = std::chrono::seconds{m_location.run.timeouts.upload};
  auto hello_line = channel->read_line(64 * 1024, timeout);
  transfer::ReceiveHello hello;
  try {
    hello = transfer::parse_receive_hello(hello_line.value_or(""));
  } catch (const ProtocolError& e) {
    auto status = channel->wait_exit();
    if (status.code == 127) {
      throw NodeError("fleet-builder is not installed on " + m_session->describe() +
                      ": install it there (the NixOS module in nix/ does) or put it on the login PATH");
    }
    throw NodeError("unexpected answer from fleet-builder receive on " + m_session->describe() + " (" +
                    ssh::describe(status) + "): " + e.what() + " " + stderr_text);
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
  std::string rest = channel->read_all(64 * 1024);
  auto status = channel->wait_exit();
  if (status.code != 0) {
    throw NodeError("upload to " + m_session->describe() + " was rejected (" + ssh::describe(status) +
                    "): " + stderr_text + rest);
  }
  return record;
}

std::vector<transfer::RelayOutcome> LocationLink::relay(const std::string& hash, const transfer::RelayRequest& request) {
  std::string stderr_text;
  auto channel = m_session->exec(std::string(k_agent) + " relay --hash " + hash,
                                 [&](std::string_view line) { stderr_text += std::string(line) + "\n"; });
  channel->write(transfer::to_json(request).dump());
  channel->send_eof();
  std::vector<transfer::RelayOutcome> outcomes;
  // Every destination has its own time limit on the relaying node; this bounds a silent one.
  const auto bound = std::chrono::seconds{request.timeout + m_location.run.timeouts.connect + 60};
  while (auto line = channel->read_line(64 * 1024, bound)) {
    try {
      auto outcome = transfer::parse_relay_outcome(*line);
      auto named = std::find_if(request.destinations.begin(), request.destinations.end(),
                                [&](const transfer::RelayDestination& d) { return d.name == outcome.to; });
      if (named != request.destinations.end()) {
        outcomes.push_back(std::move(outcome));
      }
    } catch (const ProtocolError& e) {
      stderr_text += std::string("unexpected output: ") + e.what() + "\n";
    }
  }
  auto status = channel->wait_exit();
  for (const auto& destination : request.destinations) {
    bool answered = std::any_of(outcomes.begin(), outcomes.end(),
                                [&](const transfer::RelayOutcome& o) { return o.to == destination.name; });
    if (!answered) {
      transfer::RelayOutcome missing;
      missing.to = destination.name;
      missing.error = m_location.name + " gave no outcome for it (" + ssh::describe(status) + "): " + stderr_text;
      outcomes.push_back(std::move(missing));
    }
  }
  return outcomes;
}

ssh::ExitStatus LocationLink::run_job(const protocol::BuildJob& job, const LineSink& on_line,
                                      const LineSink& on_stderr) {
  protocol::BuildJob limited = job;
  limited.timeouts = job_timeouts(m_location.run.timeouts);
  limited.retries = job_retries(m_location.run.retries);
  auto bound = job_bound(m_location);
  auto deadline = std::chrono::steady_clock::now() + bound;
  auto channel = m_session->exec(std::string(k_agent) + " build", on_stderr);
  channel->write(protocol::to_json(limited).dump());
  channel->send_eof();
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw ssh::SshError(ssh::SshFailure::timed_out, "the build job on " + m_session->describe() + " did not finish within " +
                                                          std::to_string(bound.count()) + " s (the sum of fleet.json's timeouts for it)");
    }
    std::optional<std::string> line;
    try {
      line = channel->read_line(1 << 20, left);
    } catch (const ssh::SshError& e) {
      if (e.kind() != ssh::SshFailure::timed_out) {
        throw;
      }
      continue;  // the deadline check above names the bound
    }
    if (!line) {
      break;
    }
    on_line(*line);
  }
  return channel->wait_exit();
}

}  // namespace fleet::coordinator

namespace fleet::coordinator {

std::string LocationLink::update_inputs(const std::string& hash, const std::string& flake,
                                        const std::map<std::string, std::string>& nix_options, std::string& log) {
  std::string command = std::string(k_agent) + " update-inputs --hash " + shell_quote(hash) + " --flake " +
                        shell_quote(flake) + " --timeout " + std::to_string(m_location.run.timeouts.build);
  for (const auto& [key, value] : nix_options) {
    command += " --nix-option " + shell_quote(key + "=" + value);
  }
  std::string stderr_text;
  auto channel = m_session->exec(command, [&](std::string_view line) { stderr_text += std::string(line) + "\n"; });
  channel->send_eof();
  auto line = channel->read_line(4 << 20, std::chrono::seconds{m_location.run.timeouts.build + 60});
  auto status = channel->wait_exit();
  auto answer = nlohmann::json::parse(line.value_or(""), nullptr, false);
  if (status.code != 0 || !answer.is_object() || !answer.contains("flakeLock") || !answer["flakeLock"].is_string()) {
    throw NodeError("updating the flake inputs on " + m_session->describe() + " failed (" + ssh::describe(status) +
                    "):\n" + stderr_text);
  }
  if (answer.contains("log") && answer["log"].is_string()) {
    log = answer["log"].get<std::string>();
  }
  return answer["flakeLock"].get<std::string>();
}

}  // namespace fleet::coordinator
