// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/process_usage.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fleet {

// A command to run as a child process: argv (argv[0] looked up in PATH), extra environment
// variables on top of ours, optional data for its stdin, and an optional time limit.
struct Command {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to (or replacing in) the inherited environment
  std::string stdin_data;                  // written then closed; empty: stdin is /dev/null
  std::chrono::seconds timeout{0};         // 0: none; on expiry the child's process group is killed
  // For a dialogue: when set, stdin stays open (and stdin_data unused) until the child's first
  // stdout line, whose answer is then written to stdin before it is closed. The answer is the
  // pieces to write, in order, which must stay valid until run_process() returns: a large
  // payload is written from where it is kept, not copied.
  std::function<std::vector<std::string_view>(std::string_view first_line)> answer_first_line{};
  // Called with the child's pid once it runs, before any of its output is read (for
  // usage_so_far from a line handler).
  std::function<void(int pid)> on_started{};
};

// How a child ended.
struct ProcessResult {
  int exit_code = -1;      // -1 when killed by a signal or timed out
  int signal = 0;          // the signal that ended it, if any
  bool timed_out = false;
  std::string out;         // all of stdout, when no stdout line handler was given
  std::string err_tail;    // the last k_err_tail_lines lines of stderr, each cut to k_err_tail_line_bytes
  // What the child and the descendants it waited for used (wait4's rusage): user+system CPU
  // time, and the largest resident set any one of them reached, as an OOM killer would see it.
  ProcessUsage usage;

  bool ok() const { return exit_code == 0; }
};

inline constexpr std::size_t k_err_tail_lines = 40;
inline constexpr std::size_t k_err_tail_line_bytes = 4096;  // of each line kept in err_tail
// A longer line reaches the handler (or `out`) as several lines of at most this size.
inline constexpr std::size_t k_max_line_bytes = 1 << 20;

using LineHandler = std::function<void(std::string_view line)>;

// Runs `command` in its own process group and waits for it, reading stdout and stderr as they
// come. When a handler is given, each complete line of that stream goes to it (from the calling
// thread); stdout is otherwise collected in ProcessResult::out. Throws fleet::Error when the
// program cannot be started; a non-zero exit is a result, not an exception.
ProcessResult run_process(const Command& command, const LineHandler& on_stdout_line = {},
                          const LineHandler& on_stderr_line = {});

// From now on, every child run_process() starts gets SIGTERM when the thread that started it
// ends, however that happens (SIGKILL included), and dies with it. For the agent's jobs, whose
// nix processes must not build on for an agent that is gone; not for an activation supervisor,
// whose switch must never be cut off halfway. Lost across a set-user-ID exec (sudo).
void end_children_with_this_process();

// Makes this process non-dumpable: no core file, no ptrace by another process of the same user,
// its /proc entries root's. For processes that hold decrypted secrets or private keys; an exec
// (an editor, switch-to-configuration) starts dumpable again. Throws Error if the kernel refuses.
void keep_out_of_core_dumps();

// Renders argv as a shell-like string for messages ("nix eval --json 'path:/x#y'").
std::string describe_command(const std::vector<std::string>& argv);

// Quotes one word for a POSIX shell, for commands sent over SSH.
std::string shell_quote(std::string_view word);

// `text` as a Nix string literal ("…", with `"`, `\` and `${` escaped), for expressions given to nix.
std::string nix_string_literal(std::string_view text);

}  // namespace fleet
