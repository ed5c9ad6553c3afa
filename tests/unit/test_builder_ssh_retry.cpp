// SPDX-License-Identifier: MIT
#include "builder/ssh_retry.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace fleet;
using namespace fleet::builder;

namespace {

ProcessResult failed(int code, std::string err, bool timed_out = false) {
  ProcessResult result;
  result.exit_code = code;
  result.err_tail = std::move(err);
  result.timed_out = timed_out;
  return result;
}

}  // namespace

TEST_CASE("only transient ssh failures are retried") {
  CHECK(is_transient_ssh_failure(failed(255, "ssh: connect to host 10.0.0.5 port 22: Connection refused\n")));
  CHECK(is_transient_ssh_failure(failed(255, "Connection reset by peer\n")));
  CHECK(is_transient_ssh_failure(failed(255, "ssh: connect to host x port 22: Connection timed out\n")));
  CHECK(is_transient_ssh_failure(failed(255, "kex_exchange_identification: read: Connection reset by peer\n")));
  CHECK(is_transient_ssh_failure(failed(-1, "", true)));
  CHECK_FALSE(is_transient_ssh_failure(failed(255, "Host key verification failed.\n")));
  CHECK_FALSE(is_transient_ssh_failure(failed(255, "root@t1: Permission denied (publickey).\nConnection closed by 1.2.3.4\n")));
  CHECK_FALSE(is_transient_ssh_failure(failed(1, "error: build failed\n")));
  ProcessResult ok;
  ok.exit_code = 0;
  CHECK_FALSE(is_transient_ssh_failure(ok));
}

TEST_CASE("retry delays double from the configured one") {
  protocol::JobRetries retries{3, 1};
  CHECK(retry_delay(retries, 1).count() == 1);
  CHECK(retry_delay(retries, 2).count() == 2);
  CHECK(retry_delay(retries, 3).count() == 4);
  CHECK(retry_delay({3, 400}, 3).count() == 600);
}

TEST_CASE("a command that fails transiently is run again until it succeeds or attempts run out") {
  test::TempDir dir;
  auto counter = dir / "count";
  // Fails with ssh's "Connection refused" twice, then succeeds.
  std::string script = "n=$(cat '" + counter.string() + "' 2>/dev/null || echo 0); n=$((n+1)); echo $n >'" +
                       counter.string() + "'; if [ $n -le 2 ]; then echo 'Connection refused' >&2; exit 255; fi; exit 0";
  std::vector<std::string> notes;
  auto result = run_with_retries({{"/bin/sh", "-c", script}, {}, "", std::chrono::seconds{10}}, {3, 0},
                                 [&](const std::string& why) { notes.push_back(why); });
  CHECK(result.ok());
  CHECK(notes.size() == 2);
  CHECK(notes.front().find("Connection refused") != std::string::npos);

  std::filesystem::remove(counter);
  auto limited = run_with_retries({{"/bin/sh", "-c", script}, {}, "", std::chrono::seconds{10}}, {1, 0}, {});
  CHECK(limited.exit_code == 255);

  std::filesystem::remove(counter);
  auto refused = run_with_retries({{"/bin/sh", "-c", script}, {}, "", std::chrono::seconds{10}}, {3, 0}, {}, {}, {},
                                  [](const ProcessResult&) { return false; });
  CHECK(refused.exit_code == 255);
  std::ifstream in(counter);
  int runs = 0;
  in >> runs;
  CHECK(runs == 1);
}
