// SPDX-License-Identifier: MIT
#include "uploader/base/process.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/unique_fd.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <fcntl.h>
#include <poll.h>
#include <thread>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace fleet {
namespace {

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

// How often a child is checked for its end while its pipes stay open, and after they closed.
constexpr std::chrono::milliseconds k_exit_check{100};
constexpr std::chrono::milliseconds k_exit_poll{20};

// A pipe(2) whose ends are closed one by one as the child and the parent stop needing them.
struct Pipe {
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }

  UniqueFd read_end;
  UniqueFd write_end;
};

// Splits a byte stream into lines and hands each to a handler. A child that writes without a
// newline must not fill our memory: beyond k_max_line_bytes, a line is handed on in pieces.
class LineSplitter {
public:
  explicit LineSplitter(LineHandler handler) : m_handler(std::move(handler)) {}
  void feed(std::string_view data) {
    m_pending.append(data);
    std::size_t start = 0;
    for (std::size_t nl; (nl = m_pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      m_handler(std::string_view(m_pending).substr(start, nl - start));
    }
    for (; m_pending.size() - start >= k_max_line_bytes; start += k_max_line_bytes) {
      m_handler(std::string_view(m_pending).substr(start, k_max_line_bytes));
    }
    m_pending.erase(0, start);
  }
  void finish() {
    if (!m_pending.empty()) {
      m_handler(m_pending);
      m_pending.clear();
    }
  }

private:
  LineHandler m_handler;
  std::string m_pending;
};

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string key(entry.substr(0, entry.find('=')));
    if (extra.find(key) == extra.end()) {
      env.emplace_back(entry);
    }
  }
  for (const auto& [key, value] : extra) {
    env.push_back(key + "=" + value);
  }
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) {
    pointers.push_back(s.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// argv[0] as execvp would find it on this process's PATH, looked up before fork: the child of a
// process with threads may only make async-signal-safe calls.
std::string program_path(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/bin:/usr/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t end = std::min(dirs.find(':', start), dirs.size());
    std::string dir(dirs.substr(start, end - start));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  throw Error("cannot run '" + name + "': " + std::strerror(ENOENT));
}

std::atomic<bool> g_children_end_with_this_process{false};

// Makes `fd` the child's descriptor `target`, kept open across exec.
void move_fd(int fd, int target) {
  if (fd == target) {
    ::fcntl(target, F_SETFD, 0);
  } else {
    ::dup2(fd, target);
  }
}

// Starts command.argv in a process group of its own (a timeout kills the whole tree: nix spawns
// builders and ssh) with SIGPIPE at its default, stdin from `stdin_fd` (-1: /dev/null), stdout
// and stderr to the given pipes. Errors of exec itself come back through a close-on-exec pipe.
pid_t spawn_child(const Command& command, int stdin_fd, int stdout_fd, int stderr_fd) {
  std::vector<std::string> args = command.argv;
  std::vector<std::string> env = merged_environment(command.env);
  const std::string program = program_path(args[0]);
  auto argv = c_strings(args);
  auto envp = c_strings(env);
  const bool end_with_parent = g_children_end_with_this_process.load();
  const pid_t parent = ::getpid();
  Pipe exec_status;
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw Error("cannot run '" + command.argv[0] + "': fork failed: " + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // The signal comes when the thread that forked ends; run_process waits there for the child.
    if (end_with_parent && (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent)) {
      ::_exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    move_fd(stdin_fd >= 0 ? stdin_fd : ::open("/dev/null", O_RDONLY), 0);
    move_fd(stdout_fd, 1);
    move_fd(stderr_fd, 2);
    ::execve(program.c_str(), argv.data(), envp.data());
    const int error = errno;
    (void)!::write(exec_status.write_end.get(), &error, sizeof error);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so that kill(-pid) cannot come before the child's own call
  exec_status.write_end.reset();
  int error = 0;
  ssize_t n;
  while ((n = ::read(exec_status.read_end.get(), &error, sizeof error)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw Error("cannot run '" + command.argv[0] + "': " + std::strerror(error));
  }
  return pid;
}

}  // namespace

void end_children_with_this_process() { g_children_end_with_this_process = true; }

void keep_out_of_core_dumps() {
  if (::prctl(PR_SET_DUMPABLE, 0) != 0) {
    throw Error(std::string("cannot keep this process out of core dumps: ") + std::strerror(errno));
  }
}

std::string nix_string_literal(std::string_view text) {
  std::string quoted = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"' || c == '\\' || (c == '$' && i + 1 < text.size() && text[i + 1] == '{')) {
      quoted += '\\';
    }
    if (c == '\n') {
      quoted += "\\n";
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string shell_quote(std::string_view word) {
  bool plain = !word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                       "0123456789@%+=:,./-_") == std::string_view::npos;
  if (plain) {
    return std::string(word);
  }
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string describe_command(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) {
      text += ' ';
    }
    text += shell_quote(arg);
  }
  return text;
}

ProcessResult run_process(const Command& command, const LineHandler& on_stdout_line,
                          const LineHandler& on_stderr_line) {
  if (command.argv.empty()) {
    throw Error("internal error: empty command");
  }
  Pipe in, out, err;
  const bool dialogue = static_cast<bool>(command.answer_first_line);
  const bool stdin_from_null = command.stdin_data.empty() && !dialogue;
  const pid_t pid = spawn_child(command, stdin_from_null ? -1 : in.read_end.get(), out.write_end.get(),
                                err.write_end.get());
  in.read_end.reset();
  out.write_end.reset();
  err.write_end.reset();
  if (command.on_started) {
    command.on_started(pid);
  }

  ProcessResult result;
  std::deque<std::string> tail;
  // What is still to be written to stdin: the unwritten part of pieces[piece], then the rest.
  std::vector<std::string_view> pieces;
  if (!dialogue && !command.stdin_data.empty()) {
    pieces.push_back(command.stdin_data);
  }
  std::size_t piece = 0;
  std::size_t written = 0;
  bool awaiting_first_line = dialogue;
  std::exception_ptr answer_failure;
  LineSplitter out_lines([&](std::string_view line) {
    if (awaiting_first_line) {
      awaiting_first_line = false;
      try {
        pieces = command.answer_first_line(line);
      } catch (...) {
        // Rethrown once the child, left without input, has ended.
        answer_failure = std::current_exception();
        pieces.clear();
      }
      std::erase_if(pieces, [](std::string_view p) { return p.empty(); });
      if (pieces.empty()) {
        in.write_end.reset();
      }
    }
    if (on_stdout_line) {
      on_stdout_line(line);
    } else {
      result.out.append(line);
      result.out += '\n';
    }
  });
  LineSplitter err_lines([&](std::string_view line) {
    tail.emplace_back(line.substr(0, k_err_tail_line_bytes));
    if (tail.size() > k_err_tail_lines) {
      tail.pop_front();
    }
    if (on_stderr_line) {
      on_stderr_line(line);
    }
  });

  if (pieces.empty() && !dialogue) {
    in.write_end.reset();
  } else {
    fcntl(in.write_end.get(), F_SETFL, O_NONBLOCK);
  }
  auto deadline = std::chrono::steady_clock::now() + command.timeout;
  bool out_open = true, err_open = true;
  // The child itself has ended. A process it left behind may still hold the pipes open: that
  // is not the child's output to wait for, so what is already there is read and no more.
  bool exited = false;
  int status = 0;
  struct rusage usage {};
  // A line handler that throws leaves early: the child must not run on, nor stay unreaped.
  struct Reaper {
    pid_t pid;
    const bool& exited;
    ~Reaper() {
      if (!exited) {
        ::kill(-pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
    }
  } reaper{pid, exited};
  char buffer[65536];
  while (out_open || err_open) {
    pollfd fds[3];
    nfds_t count = 0;
    if (out_open) {
      fds[count++] = {out.read_end.get(), POLLIN, 0};
    }
    if (err_open) {
      fds[count++] = {err.read_end.get(), POLLIN, 0};
    }
    bool writing = in.write_end.valid() && !awaiting_first_line;
    if (writing) {
      fds[count++] = {in.write_end.get(), POLLOUT, 0};
    }
    // Short enough that a child's end is noticed soon when something else keeps its pipes.
    int wait_ms = exited ? 0 : static_cast<int>(k_exit_check.count());
    if (command.timeout.count() > 0 && !exited) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        result.timed_out = true;
        kill(-pid, SIGKILL);
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left.count(), wait_ms));
    }
    int ready = poll(fds, count, wait_ms);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (ready == 0 && exited) {
      break;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (writing && fds[i].fd == in.write_end.get()) {
        const std::string_view rest = pieces[piece].substr(written);
        ssize_t n = ::write(in.write_end.get(), rest.data(), rest.size());
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        }
        if (written == pieces[piece].size()) {
          ++piece;
          written = 0;
        }
        if (n < 0 && errno != EAGAIN) {
          in.write_end.reset();  // the child stopped reading; its exit status tells the rest
        } else if (piece == pieces.size()) {
          in.write_end.reset();
        }
        continue;
      }
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        (fds[i].fd == out.read_end.get() ? out_open : err_open) = false;
        continue;
      }
      (fds[i].fd == out.read_end.get() ? out_lines : err_lines).feed(std::string_view(buffer, static_cast<std::size_t>(n)));
    }
    exited = exited || ::wait4(pid, &status, WNOHANG, &usage) == pid;
  }
  out_lines.finish();
  err_lines.finish();

  // A child that closed its output may still run (`exec >/dev/null 2>&1; sleep 900`): the time
  // limit holds until it has ended too.
  while (!exited) {
    pid_t reaped = ::wait4(pid, &status, result.timed_out ? 0 : WNOHANG, &usage);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) {
      exited = true;
      break;
    }
    if (command.timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      continue;
    }
    std::this_thread::sleep_for(k_exit_poll);
  }
  result.usage.cpu_seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  result.usage.peak_rss_kib = static_cast<std::uint64_t>(usage.ru_maxrss);
  if (WIFEXITED(status) && !result.timed_out) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  if (answer_failure) {
    std::rethrow_exception(answer_failure);
  }
  for (const auto& line : tail) {
    result.err_tail += line;
    result.err_tail += '\n';
  }
  return result;
}

}  // namespace fleet
