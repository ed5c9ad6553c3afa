// SPDX-License-Identifier: MIT
#include "builder/target_ssh.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/hash/sha256.hpp"

#include <fstream>

namespace fleet::builder {

namespace {

// Idle seconds after which a shared connection closes by itself, should nobody stop it.
constexpr int k_sharing_persist_seconds = 30;
// sun_path holds 108 bytes; OpenSSH appends 17 while it sets the socket up.
constexpr std::size_t k_max_socket_path = 90;

}  // namespace

std::vector<std::string> TargetSsh::command(const std::string& remote_command) const {
  std::vector<std::string> argv{"ssh"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), sharing.begin(), sharing.end());
  argv.insert(argv.end(), {destination, "--", remote_command});
  return argv;
}

std::vector<std::string> TargetSsh::fresh_command(const std::string& remote_command) const {
  // OpenSSH keeps the first value of an option, so these win over anything later.
  std::vector<std::string> argv{"ssh", "-o", "ControlMaster=no", "-o", "ControlPath=none"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {destination, "--", remote_command});
  return argv;
}

std::string TargetSsh::nix_sshopts() const {
  std::string joined;
  for (const auto* list : {&options, &sharing}) {
    for (const auto& option : *list) {
      joined += (joined.empty() ? "" : " ") + option;
    }
  }
  return joined;
}

void TargetSsh::stop_sharing() const {
  if (sharing.empty()) {
    return;
  }
  std::vector<std::string> argv{"ssh"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), sharing.begin(), sharing.end());
  argv.insert(argv.end(), {"-O", "exit", destination});
  // Without an open connection this fails at once, which is fine.
  run_process({argv, {}, "", std::chrono::seconds{10}});
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
  const auto socket = work_dir / ("ssh-" + hash::sha256_hex(ssh.destination + " " + std::to_string(target.port)).substr(0, 12));
  if (socket.string().size() <= k_max_socket_path) {
    ssh.sharing = {"-o", "ControlMaster=auto", "-o", "ControlPath=" + socket.string(), "-o",
                   "ControlPersist=" + std::to_string(k_sharing_persist_seconds)};
  }
  return ssh;
}

}  // namespace fleet::builder
