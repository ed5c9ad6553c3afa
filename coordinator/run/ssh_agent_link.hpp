// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_report.hpp"
#include "coordinator/run/build_location.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/ssh/ssh_session.hpp"
#include "uploader/transfer/relay_messages.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fleet::coordinator {

// The coordinator's end of one build location: one SSH session, reused for the upload and
// the build job. Blocking; used from one worker thread at a time.
class LocationLink {
public:
  using LineSink = std::function<void(std::string_view)>;

  LocationLink(BuildLocation location, ssh::SshOptions options);

  // Connects, verifies the host key and authenticates. A transient failure (unreachable, reset,
  // timed out; never a host key or authentication failure) is retried as the location's
  // run.retries say, with exponential backoff, telling `on_retry` before each wait. Throws
  // ssh::SshError once the attempts are used up.
  void connect(const std::function<void(const std::string&)>& on_retry = {});

  // Sends the source to `fleet-builder receive` unless the location already holds it: a delta
  // against a tar it keeps when `payloads` can make one, else the whole .tar.zst. The agent
  // verifies the hash before keeping it. Throws fleet::NodeError on failure.
  TransferRecord upload(transfer::PayloadCache& payloads);

  // Has this location send the source `hash`, which it holds, on to `request`'s destinations
  // (`fleet-builder relay`). Returns one outcome per destination, failed ones included; a
  // destination the agent said nothing about is a failure naming its exit status.
  std::vector<transfer::RelayOutcome> relay(const std::string& hash, const transfer::RelayRequest& request);

  // How another node reaches this location: the address the session resolved and the host key
  // it verified. Valid after connect().
  const ssh::SshTarget& verified_target() const { return m_session->verified_target(); }

  // Runs `fleet-builder build` with `job` on stdin, its timeouts and retries replaced by the
  // location's run settings; each stdout line (an event, unvalidated) goes to `on_line` and each
  // stderr line to `on_stderr`. Returns how the agent exited. The whole job is bounded by the sum
  // of its phases' timeouts: a silent or stuck agent ends in ssh::SshError timed_out.
  ssh::ExitStatus run_job(const protocol::BuildJob& job, const LineSink& on_line, const LineSink& on_stderr);

  // Runs `fleet-builder update-inputs` on the source `hash` (already uploaded) and returns the
  // flake.lock that `nix flake update` made there; `log` receives nix's messages. Bounded by the
  // build timeout. Throws fleet::NodeError with nix's messages when the update fails.
  std::string update_inputs(const std::string& hash, const std::string& flake,
                            const std::map<std::string, std::string>& nix_options, std::string& log);

  const BuildLocation& location() const { return m_location; }

private:
  BuildLocation m_location;
  ssh::SshOptions m_options;
  std::unique_ptr<ssh::SshSession> m_session;
};

}  // namespace fleet::coordinator
