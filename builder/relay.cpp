// SPDX-License-Identifier: MIT
#include "builder/relay.hpp"

#include "builder/source_store.hpp"
#include "builder/target_ssh.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/base/scratch_dir.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/protocol/json_document.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

namespace fleet::builder {

namespace {

transfer::RelayOutcome send_to(const transfer::RelayDestination& destination, const std::string& hash, int timeout,
                               transfer::PayloadCache& payloads, const std::filesystem::path& work_dir) {
  transfer::RelayOutcome outcome;
  outcome.to = destination.name;
  const auto start = std::chrono::steady_clock::now();
  try {
    protocol::JobTarget target;
    target.node = destination.name;
    target.host = destination.host;
    target.user = destination.user;
    target.port = destination.port;
    target.host_key = destination.host_key;
    Command command;
    // A connection of its own: nothing else goes to this destination, nothing to share it with.
    command.argv = make_target_ssh(target, work_dir).fresh_command("fleet-builder receive --hash " + hash);
    command.timeout = std::chrono::seconds{timeout};
    std::string last_line;
    // The payload is shared by every destination that gets the same one: written, not copied.
    std::shared_ptr<const transfer::Payload> payload;
    std::string header_line;
    command.answer_first_line = [&](std::string_view line) -> std::vector<std::string_view> {
      const auto hello = transfer::parse_receive_hello(line);
      if (hello.have) {
        outcome.had = true;
        return {};
      }
      payload = payloads.payload_for(hello);
      outcome.base = payload->header.base;
      outcome.bytes = payload->header.bytes;
      header_line = transfer::to_line(payload->header) + "\n";
      return {header_line, payload->bytes};
    };
    auto result = run_process(command, [&](std::string_view line) { last_line = line; });
    auto answer = protocol::parse_json(last_line);
    const bool received = answer.is_object() && answer.value("received", "") == hash;
    if (!result.ok() || (!outcome.had && !received)) {
      throw Error("fleet-builder receive on " + destination.host + " " +
                  (result.timed_out ? "did not finish within " + std::to_string(timeout) + " s"
                                    : "ended with exit code " + std::to_string(result.exit_code)) +
                  (result.err_tail.empty() ? "" : ": " + result.err_tail));
    }
    outcome.ok = true;
  } catch (const std::exception& e) {
    // Each destination runs on a thread of its own, and one failing must not stop the others.
    outcome.ok = false;
    outcome.error = describe_error(e);
    outcome.bytes = 0;
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return outcome;
}

}  // namespace

int run_relay(const std::string& hash, const std::filesystem::path& state_dir, const transfer::RelayRequest& request,
              std::ostream& out) {
  // The hash goes into the command run on every destination.
  if (!protocol::is_content_hash(hash)) {
    throw ProtocolError("relay --hash '" + hash + "' is not a content hash (64 lowercase hex digits)");
  }
  const SourceStore store(state_dir);
  auto tar = store.holds(hash) ? store.tar(hash) : std::nullopt;
  if (!tar) {
    throw Error("this node does not hold source " + hash + " (unpacked and as a tar), so it cannot relay it");
  }
  auto work_dir = ScratchDir::create_in(state_dir, "relay-");
  transfer::PayloadCache payloads(transfer::HeldSource(hash, std::move(tar), store.compressed(hash)),
                                  [&store](const std::string& base) { return store.tar(base); });
  std::mutex out_mutex;
  bool all_ok = true;
  std::vector<std::thread> senders;
  senders.reserve(request.destinations.size());
  for (const auto& destination : request.destinations) {
    senders.emplace_back([&, destination] {
      auto outcome = send_to(destination, hash, request.timeout, payloads, work_dir.path());
      std::lock_guard lock(out_mutex);
      all_ok = all_ok && outcome.ok;
      out << transfer::to_line(outcome) << '\n';
      out.flush();
    });
  }
  for (auto& sender : senders) {
    sender.join();
  }
  return all_ok ? 0 : 1;
}

}  // namespace fleet::builder
