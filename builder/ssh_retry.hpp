// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/process.hpp"
#include "uploader/protocol/job.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace fleet::builder {

// True when an OpenSSH-based command (ssh, `nix copy --to ssh://`) failed in a way that may
// pass on its own: the connection was refused, reset, closed or timed out, or the host had no
// route. Host key and authentication failures are never transient: retrying cannot fix them.
bool is_transient_ssh_failure(const ProcessResult& result);

// The delay before retry number `retry` (1-based): delay_seconds × 2^(retry-1), capped at 10 min.
std::chrono::seconds retry_delay(const protocol::JobRetries& retries, int retry);

// Runs `command` like run_process and, while it fails transiently (is_transient_ssh_failure)
// and `may_retry` agrees with the failed result (e.g. nothing was done remotely yet), runs it again up to
// `retries.count` more times with exponential backoff. `on_retry` is told why before each wait.
ProcessResult run_with_retries(const Command& command, const protocol::JobRetries& retries,
                               const std::function<void(const std::string& why)>& on_retry,
                               const LineHandler& on_stdout_line = {}, const LineHandler& on_stderr_line = {},
                               const std::function<bool(const ProcessResult&)>& may_retry = {});

}  // namespace fleet::builder
