// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_report.hpp"
#include "coordinator/run/build_location.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/ssh/ssh_session.hpp"
#include "uploader/tarball/tarball_writer.hpp"

#include <functional>
#include <memory>
#include <string>

namespace fleet::coordinator {

// The coordinator's end of one build location: one SSH session, reused for the upload and
// the build job. Blocking; used from one worker thread at a time.
class LocationLink {
public:
  using LineSink = std::function<void(std::string_view)>;

  LocationLink(BuildLocation location, ssh::SshOptions options);

  // Connects, verifies the host key and authenticates. Throws ssh::SshError.
  void connect();

  // Sends the tarball to `fleet-builder receive` unless the location already holds its hash;
  // the agent verifies the hash before keeping it. Throws fleet::NodeError on failure.
  TransferRecord upload(const tarball::PackedTarball& tarball);

  // Runs `fleet-builder build` with `job` on stdin; each stdout line (an event, unvalidated)
  // goes to `on_line` and each stderr line to `on_stderr`. Returns how the agent exited.
  ssh::ExitStatus run_job(const protocol::BuildJob& job, const LineSink& on_line, const LineSink& on_stderr);

  const BuildLocation& location() const { return m_location; }

private:
  BuildLocation m_location;
  ssh::SshOptions m_options;
  std::unique_ptr<ssh::SshSession> m_session;
};

}  // namespace fleet::coordinator
