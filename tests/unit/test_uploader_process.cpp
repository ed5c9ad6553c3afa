// SPDX-License-Identifier: MIT
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace fleet;

namespace {

// Runs `script`, which starts `sleep` in the background and prints its pid first, then stops
// that sleep: the test leaves nothing running.
ProcessResult run_leaving_a_sleeper(const std::string& script) {
  auto result = run_process({{"/bin/sh", "-c", "sleep 8 & echo $!; " + script}, {}, "", std::chrono::seconds{5}});
  auto pid = std::stoi(result.out.substr(0, result.out.find('\n')));
  REQUIRE(pid > 1);
  ::kill(pid, SIGKILL);
  result.out.erase(0, result.out.find('\n') + 1);
  return result;
}

}  // namespace

TEST_CASE("a time limit holds after the child closes its output") {
  // Before, the child was waited for without a limit once its pipes closed: 20 s, then "ok".
  auto result = run_process({{"/bin/sh", "-c", "exec >/dev/null 2>&1; sleep 20"}, {}, "", std::chrono::seconds{1}});
  CHECK(result.timed_out);
  CHECK(result.exit_code == -1);
  CHECK_FALSE(result.ok());
}

TEST_CASE("a child that leaves a process holding its output ends when it exits") {
  // The sleeper holds the pipes for 8 s, past the 5 s limit: waiting for it would time out.
  auto result = run_leaving_a_sleeper("echo started");
  CHECK_FALSE(result.timed_out);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "started\n");

  SECTION("and what it wrote before it exited is kept, with its exit status") {
    auto late = run_leaving_a_sleeper("printf 'a\\nb\\n'; echo err >&2; exit 3");
    CHECK_FALSE(late.timed_out);
    CHECK(late.exit_code == 3);
    CHECK(late.out == "a\nb\n");
    CHECK(late.err_tail == "err\n");
  }
}

TEST_CASE("a child that outlives its time limit with its output open is killed") {
  auto result = run_process({{"/bin/sh", "-c", "echo begun; sleep 20"}, {}, "", std::chrono::seconds{1}});
  CHECK(result.timed_out);
  CHECK(result.exit_code == -1);
  CHECK(result.out == "begun\n");
}

TEST_CASE("a line without end reaches the handler in bounded pieces") {
  std::size_t lines = 0;
  std::size_t longest = 0;
  std::size_t total = 0;
  auto result = run_process({{"/bin/sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' a; head -c 300000 /dev/zero >&2"},
                             {}, "", std::chrono::seconds{20}},
                            [&](std::string_view line) {
                              ++lines;
                              longest = std::max(longest, line.size());
                              total += line.size();
                            });
  CHECK(result.ok());
  CHECK(total == 5000000);  // nothing lost
  CHECK(lines == 5);        // 4 whole pieces of 1 MiB and the rest
  CHECK(longest == k_max_line_bytes);
  CHECK(result.err_tail.size() == k_err_tail_line_bytes + 1);  // its one line, cut, and a newline
}

namespace {

// Whether `pid` still runs: neither gone nor a zombie waiting for init to reap it.
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) {
    return false;
  }
  auto state = line.find(") ");
  return state != std::string::npos && line[state + 2] != 'Z';
}

// Starts the test parent (tests/support/process_parent.cpp), kills it with SIGKILL once its child
// runs, and returns that child's pid.
pid_t child_of_a_killed_parent(const std::string& mode) {
  pid_t child = -1;
  auto result = run_process({{FLEET_PROCESS_PARENT_BINARY, mode}, {}, "", std::chrono::seconds{30}},
                            [&](std::string_view line) {
                              std::istringstream words{std::string(line)};
                              pid_t parent = -1;
                              words >> parent >> child;
                              ::kill(parent, SIGKILL);
                            });
  CHECK(result.signal == SIGKILL);
  REQUIRE(child > 1);
  return child;
}

}  // namespace

TEST_CASE("children end with a process that asked for it, even when it is killed") {
  SECTION("asked") {
    const pid_t child = child_of_a_killed_parent("end-children");
    for (int i = 0; i < 100 && running(child); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    CHECK_FALSE(running(child));
  }
  SECTION("not asked: the child runs on, as an activation's switch must") {
    const pid_t child = child_of_a_killed_parent("keep-children");
    std::this_thread::sleep_for(std::chrono::seconds{1});
    CHECK(running(child));
    ::kill(child, SIGKILL);
  }
}

TEST_CASE("a dialogue's answer is written piece by piece after the child's first line") {
  const std::string large(1 << 20, 'x');  // more than a pipe holds: written as the child reads
  Command command{{"sh", "-c", "echo ready; wc -c; cat >/dev/null"}, {}, "", std::chrono::seconds{30}};
  std::string first;
  command.answer_first_line = [&](std::string_view line) -> std::vector<std::string_view> {
    first = line;
    return {"header\n", "", large, "end\n"};
  };
  auto result = run_process(command);
  CHECK(first == "ready");
  CHECK(result.ok());
  CHECK(result.out == "ready\n" + std::to_string(7 + large.size() + 4) + "\n");

  SECTION("an empty answer closes stdin") {
    command.argv = {"sh", "-c", "echo ready; wc -c"};
    command.answer_first_line = [](std::string_view) -> std::vector<std::string_view> { return {}; };
    CHECK(run_process(command).out == "ready\n0\n");
  }
}

TEST_CASE("a line handler that throws ends the child too") {
  pid_t child = -1;
  auto throwing = [&](std::string_view line) {
    child = std::stoi(std::string(line));
    throw Error("the handler refuses this line");
  };
  CHECK_THROWS_WITH(run_process({{"sh", "-c", "echo $$; exec sleep 60"}, {}, "", std::chrono::seconds{30}}, throwing),
                    "the handler refuses this line");
  REQUIRE(child > 1);
  CHECK_FALSE(running(child));  // killed, and reaped: not even a zombie is left
  CHECK(::kill(child, 0) != 0);
}

TEST_CASE("a child's CPU time and largest resident set are measured, with its own children's") {
  // dd's 48 MiB buffer is filled by its read, so it is resident; dd is the shell's child.
  auto result = run_process({{"/bin/sh", "-c",
                              "dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null; i=0; "
                              "while [ $i -lt 100000 ]; do i=$((i + 1)); done"},
                             {},
                             "",
                             std::chrono::seconds{30}});
  REQUIRE(result.ok());
  CHECK(result.usage.peak_rss_kib >= 48 * 1024);
  CHECK(result.usage.peak_rss_kib < 512 * 1024);
  CHECK(result.usage.cpu_seconds > 0.01);
}

TEST_CASE("a running child's CPU time and largest resident set so far are read from /proc") {
  int pid = -1;
  std::optional<ProcessUsage> so_far;
  Command command{{"python3", "-c",
                   "import sys; b = bytearray(b'x' * (64 << 20)); n = sum(range(3000000)); print('ready', flush=True); "
                   "sys.stdin.read()"},
                  {},
                  "",
                  std::chrono::seconds{30}};
  command.on_started = [&](int started) { pid = started; };
  // The child waits for its stdin to close, which happens only once this has answered.
  command.answer_first_line = [&](std::string_view) {
    so_far = usage_so_far(pid);
    return std::vector<std::string_view>{};
  };
  auto result = run_process(command);
  REQUIRE(result.ok());
  REQUIRE(so_far);
  CHECK(so_far->peak_rss_kib >= 64 * 1024);
  CHECK(so_far->peak_rss_kib <= result.usage.peak_rss_kib);
  CHECK(so_far->cpu_seconds > 0.01);
  CHECK(so_far->cpu_seconds <= result.usage.cpu_seconds);
  CHECK_FALSE(usage_so_far(pid));  // reaped
}

TEST_CASE("a program that cannot be started is an error naming it") {
  CHECK_THROWS_WITH(run_process({{"fleet-no-such-program"}, {}, "", {}}), "cannot run 'fleet-no-such-program': No such file or directory");
  CHECK_THROWS_WITH(run_process({{"/etc/passwd"}, {}, "", {}}), "cannot run '/etc/passwd': Permission denied");
  CHECK(run_process({{"sh", "-c", "exit 3"}, {}, "", {}}).exit_code == 3);
}

TEST_CASE("a process that holds secrets leaves no core dump") {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const bool dumpable_before = ::prctl(PR_GET_DUMPABLE) == 1;
    keep_out_of_core_dumps();
    ::_exit(dumpable_before && ::prctl(PR_GET_DUMPABLE) == 0 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
