// SPDX-License-Identifier: MIT
#include "builder/target_ssh.hpp"

#include "uploader/base/error.hpp"

#include <fstream>

namespace fleet::builder {

std::vector<std::string> TargetSsh::command(const std::string& remote_command) const {
  std::vector<std::string> argv{"ssh"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {destination, "--", remote_command});
  return argv;
}

std::string TargetSsh::nix_sshopts() const {
  std::string joined;
  for (const auto& option : options) {
    joined += (joined.empty() ? "" : " ") + option;
  }
  return joined;
}

TargetSsh make_target_ssh(const protocol::JobTarget& target, const std::filesystem::path& work_dir) {
  TargetSsh ssh;
  ssh.destination = target.user.empty() ? target.host : target.user + "@" + target.host;
  if (target.port != 0) {
    ssh.options = {"-p", std::to_string(target.port)};
  }
  ssh.options.insert(ssh.options.end(), {"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                 "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"});
  if (!target.host_key.empty()) {
    // The key pinned in fleet.json is the only one accepted: a file of its own, looked up by
    // an alias so it matches however the host name resolves.
    std::filesystem::create_directories(work_dir);
    auto file = work_dir / ("known_hosts." + target.node);
    if (file.string().find(' ') != std::string::npos) {
      throw Error("the agent's work directory '" + work_dir.string() + "' must not contain spaces");
    }
    std::ofstream out(file, std::ios::trunc);
    out << "fleet-" << target.node << ' ' << target.host_key << '\n';
    if (!out) {
      throw Error("cannot write " + file.string());
    }
    ssh.options.insert(ssh.options.end(), {"-o", "HostKeyAlias=fleet-" + target.node, "-o",
                                           "UserKnownHostsFile=" + file.string(), "-o",
                                           "GlobalKnownHostsFile=/dev/null"});
  }
  return ssh;
}

}  // namespace fleet::builder
