// SPDX-License-Identifier: MIT
#include "builder/ssh_retry.hpp"

#include <algorithm>
#include <thread>

namespace fleet::builder {
namespace {

bool contains(const std::string& text, const char* needle) { return text.find(needle) != std::string::npos; }

}  // namespace

bool is_transient_ssh_failure(const ProcessResult& result) {
  if (result.ok()) {
    return false;
  }
  const auto& err = result.err_tail;
  // Checked first: these also print "Connection closed", which must not make them look transient.
  if (contains(err, "Host key verification failed") || contains(err, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
      contains(err, "Permission denied") || contains(err, "No matching host key") ||
      contains(err, "Too many authentication failures")) {
    return false;
  }
  return result.timed_out || contains(err, "Connection refused") || contains(err, "Connection reset") ||
         contains(err, "Connection timed out") || contains(err, "Operation timed out") ||
         contains(err, "No route to host") || contains(err, "Network is unreachable") ||
         contains(err, "Connection closed by") || contains(err, "kex_exchange_identification") ||
         contains(err, "Broken pipe");
}

std::chrono::seconds retry_delay(const protocol::JobRetries& retries, int retry) {
  long long delay = std::max(0, retries.delay_seconds);
  for (int i = 1; i < retry && delay < 600; ++i) {
    delay *= 2;
  }
  return std::chrono::seconds{std::min(delay, 600LL)};
}

ProcessResult run_with_retries(const Command& command, const protocol::JobRetries& retries,
                               const std::function<void(const std::string& why)>& on_retry,
                               const LineHandler& on_stdout_line, const LineHandler& on_stderr_line,
                               const std::function<bool(const ProcessResult&)>& may_retry) {
  ProcessResult result = run_process(command, on_stdout_line, on_stderr_line);
  for (int retry = 1; retry <= retries.count; ++retry) {
    if (!is_transient_ssh_failure(result) || (may_retry && !may_retry(result))) {
      break;
    }
    auto delay = retry_delay(retries, retry);
    if (on_retry) {
      std::string last = result.err_tail;
      last.erase(last.find_last_not_of('\n') + 1);
      last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
      on_retry("attempt " + std::to_string(retry) + " of " + std::to_string(retries.count) + " more in " +
               std::to_string(delay.count()) + " s after a transient failure: " +
               (result.timed_out ? std::string("no answer in time") : last));
    }
    std::this_thread::sleep_for(delay);
    result = run_process(command, on_stdout_line, on_stderr_line);
  }
  return result;
}

}  // namespace fleet::builder
