// SPDX-License-Identifier: MIT
#include "builder/activation/supervisor_launch.hpp"

#include "builder/agent_path.hpp"
#include "builder/nix_cli.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fleet::builder {
namespace {

// Runs argv (argv[0] looked up in PATH) in a new session whose child is re-parented to init,
// its standard streams on /dev/null, so the caller's SSH session ending cannot reach it.
void spawn_detached(std::vector<std::string> args) {
  // Everything the children use is prepared before fork: this process may have threads.
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t child = fork();
  if (child < 0) {
    throw Error("cannot start the activation supervisor: fork failed");
  }
  if (child == 0) {
    setsid();
    if (fork() != 0) {
      _exit(0);
    }
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
}

}  // namespace

std::vector<std::string> supervisor_argv(const SupervisorLaunch& launch) {
  const std::string agent = launch.agent.string();
  const std::string dir = launch.state_dir.string();
  std::vector<std::string> supervise{agent, "--state-dir", dir, "supervise", "--id", launch.id};
  if (!launch.systemd_run) {
    return supervise;
  }
  std::vector<std::string> argv{launch.systemd_run->string(),
                                "--unit=fleet-activation-" + launch.id,
                                "--collect",
                                "--service-type=exec",
                                "--quiet",
                                "--property=ExecStopPost=" + agent + " --state-dir " + dir + " recover --id " + launch.id,
                                "--"};
  argv.insert(argv.end(), supervise.begin(), supervise.end());
  return argv;
}

void spawn_supervisor(const std::filesystem::path& state_dir, const std::string& id) {
  SupervisorLaunch launch{agent_self_path(), std::filesystem::absolute(state_dir), id, std::nullopt};
  std::error_code ec;
  if (std::filesystem::exists("/run/systemd/system", ec)) {
    launch.systemd_run = find_on_path("systemd-run");
    if (!launch.systemd_run) {
      throw Error("systemd runs this host but systemd-run is not on PATH; add systemd's bin directory to the PATH of "
                  "the deploy user's SSH sessions");
    }
  }
  auto argv = as_root(supervisor_argv(launch));
  if (!launch.systemd_run) {
    spawn_detached(argv);
    return;
  }
  auto result = run_process({argv, {}, "", std::chrono::seconds{60}});
  if (!result.ok()) {
    throw Error("could not start the activation supervisor (" + describe_command(argv) + "): " + result.err_tail +
                (::geteuid() != 0 ? " (a deploy user needs the sudo rules `fleet-builder sudoers` prints)" : ""));
  }
}

}  // namespace fleet::builder
