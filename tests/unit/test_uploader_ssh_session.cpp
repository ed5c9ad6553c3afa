// SPDX-License-Identifier: MIT
// Against a real private sshd on 127.0.0.1 (tests/unit/support/private_sshd.hpp); no mocks.
#include "support/private_sshd.hpp"
#include "uploader/base/error.hpp"
#include "uploader/ssh/ssh_error.hpp"
#include "uploader/ssh/ssh_session.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

using namespace fleet;
using namespace fleet::ssh;
using Clock = std::chrono::steady_clock;

namespace {

// One daemon for all [sshd] cases; stopped by pid when the test binary exits.
test::PrivateSshd& sshd() {
  static test::PrivateSshd daemon;
  return daemon;
}

// sshd is part of the test environment (scripts/setup.sh installs it, CI has it), so a daemon
// that cannot start fails the test instead of letting it pass without checking anything.
void require_sshd() {
  if (!sshd().problem().empty()) {
    FAIL("the private sshd these tests need could not start: " << sshd().problem());
  }
}

SshTarget loopback(std::string key = "") { return SshTarget{"127.0.0.1", "", sshd().port(), std::move(key)}; }

SshOptions options(const std::string& known_hosts = "known_hosts") {
  SshOptions result;
  result.config_file = sshd().path("ssh_config");
  result.known_hosts_file = sshd().path(known_hosts);
  result.connect_timeout_seconds = 5;
  return result;
}

SshFailure failure_of(const std::function<void()>& action, std::string& message) {
  try {
    action();
  } catch (const SshError& error) {
    message = error.what();
    return error.kind();
  }
  FAIL("expected an SshError");
  return SshFailure::channel_failed;
}

// Long enough for anything these tests run; the deadline cases set their own.
constexpr std::chrono::seconds k_within{60};

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("exec returns stdout lines, stderr lines and the exit code", "[sshd]") {
  require_sshd();
  auto start = Clock::now();
  auto session = SshSession::connect(loopback(), options());
  WARN("connect + host key + auth on loopback: " << ms_since(start) << " ms");
  CHECK(session->describe() == "root@127.0.0.1:" + std::to_string(sshd().port()));
  CHECK(session->fingerprint().rfind("SHA256:", 0) == 0);

  std::vector<std::string> errors;
  start = Clock::now();
  auto channel = session->exec("echo hi; echo err >&2; printf 'no newline'; exit 7", k_within,
                               [&](std::string_view line) { errors.emplace_back(line); });
  CHECK(channel->read_line() == "hi");
  CHECK(channel->read_line() == "no newline");
  CHECK(channel->read_line() == std::nullopt);
  CHECK(channel->wait_exit() == ExitStatus{7, ""});
  WARN("exec round trip: " << ms_since(start) << " ms");
  CHECK(errors == std::vector<std::string>{"err"});
  CHECK(session->keepalive());
}

TEST_CASE("32 MiB of stdin reach sha256sum intact", "[sshd]") {
  require_sshd();
  std::string data(32 << 20, '\0');
  std::mt19937_64 random(42);
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    auto value = random();
    std::memcpy(&data[i], &value, 8);
  }
  std::string file = sshd().path("upload.bin");
  std::ofstream(file, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  std::string expected(64, '?');
  FILE* pipe = popen(("sha256sum " + file).c_str(), "r");
  REQUIRE(pipe != nullptr);
  REQUIRE(std::fread(expected.data(), 1, 64, pipe) == 64);
  pclose(pipe);

  auto session = SshSession::connect(loopback(), options());
  auto channel = session->exec("sha256sum", k_within);
  auto start = Clock::now();
  channel->write(data);
  channel->send_eof();
  auto line = channel->read_line();
  WARN("32 MiB upload + hash: " << ms_since(start) << " ms");
  REQUIRE(line);
  CHECK(line->substr(0, 64) == expected);
  CHECK(channel->wait_exit().code == 0);
}

TEST_CASE("a chatty remote cannot deadlock a large write", "[sshd]") {
  require_sshd();
  auto session = SshSession::connect(loopback(), options());
  auto channel = session->exec("cat", k_within);  // echoes everything while we are still writing
  std::string data(8 << 20, 'x');
  channel->write(data);
  channel->send_eof();
  CHECK(channel->read_all().size() == data.size());
  CHECK(channel->wait_exit().code == 0);

  auto limited = session->exec("head -c 100000 /dev/zero", k_within);
  CHECK_THROWS_AS(limited->read_all(1000), ProtocolError);
  auto long_line = session->exec("head -c 5000 /dev/zero | tr '\\0' a", k_within);
  CHECK_THROWS_WITH(long_line->read_line(1000), Catch::Contains("exceeds the limit of 1000 bytes"));
}

TEST_CASE("a command killed by a signal reports the signal", "[sshd]") {
  require_sshd();
  auto session = SshSession::connect(loopback(), options());
  auto channel = session->exec("echo before; kill -TERM $$; echo after", k_within);
  CHECK(channel->read_line() == "before");
  CHECK(channel->read_line() == std::nullopt);
  CHECK(channel->wait_exit() == ExitStatus{-1, "TERM"});
}

TEST_CASE("host keys are verified and known_hosts is never written", "[sshd]") {
  require_sshd();
  std::string message;
  SECTION("unknown host: fingerprint and how to accept it") {
    auto kind = failure_of([] { SshSession::connect(loopback(), options("empty_known_hosts")); }, message);
    CHECK(kind == SshFailure::host_key_unknown);
    CHECK_THAT(message, Catch::Contains("SHA256:") && Catch::Contains("ssh-keyscan -p " + std::to_string(sshd().port())) &&
                            Catch::Contains(sshd().host_key()));
    std::ifstream known(sshd().path("empty_known_hosts"));
    CHECK(known.peek() == std::ifstream::traits_type::eof());
  }
  SECTION("changed key in known_hosts: expected vs got and an attack warning") {
    std::string file = sshd().path("wrong_known_hosts");
    std::ofstream(file) << "[127.0.0.1]:" << sshd().port() << " " << sshd().stranger_key() << "\n";
    auto kind = failure_of([] { SshSession::connect(loopback(), options("wrong_known_hosts")); }, message);
    CHECK(kind == SshFailure::host_key_changed);
    CHECK_THAT(message, Catch::Contains("attack"));
  }
  SECTION("wrong pinned key: host_key_changed, known_hosts not consulted") {
    auto kind = failure_of([] { SshSession::connect(loopback(sshd().stranger_key()), options()); }, message);
    CHECK(kind == SshFailure::host_key_changed);
    CHECK_THAT(message, Catch::Contains("expected SHA256:") && Catch::Contains("attack"));
  }
  SECTION("right pinned key works without known_hosts") {
    auto session = SshSession::connect(loopback(sshd().host_key()), options("empty_known_hosts"));
    CHECK(session->exec("true", k_within)->wait_exit().code == 0);
  }
  SECTION("known_hosts with the right key works") {
    CHECK_NOTHROW(SshSession::connect(loopback(), options()));
  }
}

TEST_CASE("unreachable hosts and refused keys fail fast with the reason", "[sshd]") {
  require_sshd();
  std::string message;
  SECTION("connection refused") {
    SshTarget closed{"127.0.0.1", "root", 1, ""};
    auto start = Clock::now();
    auto kind = failure_of([&] { SshSession::connect(closed, options()); }, message);
    CHECK(ms_since(start) < 2000);
    CHECK(kind == SshFailure::unreachable);
    CHECK_THAT(message, Catch::Contains("root@127.0.0.1:1"));
  }
  SECTION("no accepted key") {
    SshOptions no_key = options();
    no_key.config_file = sshd().path("stranger_config");
    std::ofstream(no_key.config_file) << "Host *\n  IdentityFile " << sshd().path("stranger_key") << "\n";
    auto kind = failure_of([&] { SshSession::connect(loopback(), no_key); }, message);
    CHECK(kind == SshFailure::auth_failed);
    CHECK_THAT(message, Catch::Contains("publickey"));
  }
  SECTION("missing explicit config file") {
    SshOptions missing = options();
    missing.config_file = sshd().path("no_such_config");
    CHECK_THROWS_AS(SshSession::connect(loopback(), missing), ConfigError);
  }
}

TEST_CASE("an ssh config alias resolves Hostname, Port, User, IdentityFile and UserKnownHostsFile", "[sshd]") {
  require_sshd();
  SshOptions alias_options;
  alias_options.config_file = sshd().path("ssh_config");  // known_hosts comes from the alias
  auto session = SshSession::connect(SshTarget{"fleet-alias", "", 0, ""}, alias_options);
  CHECK(session->describe() == "root@127.0.0.1:" + std::to_string(sshd().port()));
  auto channel = session->exec("echo $USER", k_within);
  CHECK(channel->read_line() == "root");
}

TEST_CASE("two sessions work concurrently in two threads", "[sshd]") {
  require_sshd();
  std::array<std::string, 2> results;
  auto start = Clock::now();
  auto work = [&](int index) {
    try {
      auto session = SshSession::connect(loopback(), options());
      auto channel = session->exec("sleep 1; echo " + std::to_string(index), k_within);
      results[static_cast<std::size_t>(index)] = channel->read_line().value_or("none");
    } catch (const std::exception& error) {
      results[static_cast<std::size_t>(index)] = error.what();
    }
  };
  std::thread first(work, 0);
  std::thread second(work, 1);
  first.join();
  second.join();
  CHECK(results == std::array<std::string, 2>{"0", "1"});
  CHECK(ms_since(start) < 1900);
}

TEST_CASE("read_line honours its timeout and detects a silent peer", "[sshd]") {
  require_sshd();
  SECTION("timeout") {
    auto session = SshSession::connect(loopback(), options());
    auto channel = session->exec("sleep 3", k_within);
    auto start = Clock::now();
    std::string message;
    CHECK(failure_of([&] { channel->read_line(1024, std::chrono::seconds{1}); }, message) == SshFailure::timed_out);
    CHECK(ms_since(start) < 1800);
  }
  SECTION("peer stops answering") {
    SshOptions quick = options();
    quick.connect_timeout_seconds = 1;
    quick.keepalive_interval_seconds = 1;
    quick.dead_peer_seconds = 3;
    auto session = SshSession::connect(loopback(), quick);
    auto channel = session->exec("sleep 30", k_within);
    // Freeze every process behind this connection (the daemon serves only this test now): TCP still acks, ssh stays silent.
    auto frozen = sshd().descendants();
    for (pid_t pid : frozen) {
      kill(pid, SIGSTOP);
    }
    auto start = Clock::now();
    std::string message;
    auto kind = failure_of([&] { channel->read_line(); }, message);
    for (pid_t pid : frozen) {
      kill(pid, SIGKILL);  // this connection's sshd processes and its `sleep`, all ours
    }
    WARN("silent peer detected after " << ms_since(start) << " ms: " << message);
    CHECK(kind == SshFailure::connection_lost);
    CHECK(ms_since(start) < 8000);
  }
}

// A remote whose sshd still answers keepalives but which never reads, never writes or never
// exits: the channel's limit ends every wait.
TEST_CASE("no wait on a channel outlasts its limit", "[sshd]") {
  require_sshd();
  auto session = SshSession::connect(loopback(), options());
  const auto limit = std::chrono::seconds{2};
  std::string message;
  auto start = Clock::now();
  SECTION("write to a remote that never reads its stdin") {
    auto channel = session->exec("exec sleep 30", limit);
    const std::string data(32 << 20, 'x');  // far beyond any window and socket buffer
    CHECK(failure_of([&] { channel->write(data); }, message) == SshFailure::timed_out);
  }
  SECTION("wait_exit for a remote that closes its output and hangs") {
    auto channel = session->exec("echo started; exec >/dev/null 2>&1; exec sleep 30", limit);
    CHECK(channel->read_all() == "started\n");  // its EOF comes at once
    CHECK(failure_of([&] { channel->wait_exit(); }, message) == SshFailure::timed_out);
  }
  SECTION("wait_exit for a remote that never exits") {
    auto channel = session->exec("exec sleep 30", limit);
    CHECK(failure_of([&] { channel->wait_exit(); }, message) == SshFailure::timed_out);
  }
  SECTION("read_line without a timeout of its own") {
    auto channel = session->exec("exec sleep 30", limit);
    CHECK(failure_of([&] { channel->read_line(); }, message) == SshFailure::timed_out);
  }
  CHECK(message.find("limit of 2 s") != std::string::npos);
  CHECK(ms_since(start) >= 1900);
  CHECK(ms_since(start) < 6000);
}
