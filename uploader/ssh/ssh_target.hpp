// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace fleet::ssh {

// Where to connect, as written in fleet.json. Empty/zero fields are filled from the ssh config,
// then from the usual defaults, when the session connects.
struct SshTarget {
  std::string host;             // name or address; may be a ~/.ssh/config Host alias
  std::string user;             // empty: from the ssh config, else the local user name
  int port = 0;                 // 0: from the ssh config, else 22
  std::string pinned_host_key;  // optional "ssh-ed25519 AAAA…" (fleet.json hostKey); when set the
                                // server key must equal it and known_hosts is not consulted
};

// How to connect; the same for every host of a run.
struct SshOptions {
  std::string config_file;       // empty: ~/.ssh/config then /etc/ssh/ssh_config, as libssh does
  std::string known_hosts_file;  // empty: the config's UserKnownHostsFile, else ~/.ssh/known_hosts
  int connect_timeout_seconds = 10;     // TCP connect and each blocking protocol step
  int keepalive_interval_seconds = 10;  // ssh keepalive while waiting, and TCP keepalive probes
  int dead_peer_seconds = 30;           // no data from the peer for this long: connection_lost
};

// Rejects what must never reach ssh: empty or '-'-prefixed hosts and users (they would read as
// options), whitespace, control characters, '@' or '_' in the host (libssh 0.10 refuses '_'), a port outside 0..65535, and a
// hostKey that is not "<type> <base64>". Throws fleet::ConfigError naming the field and value.
void validate(const SshTarget& target);

}  // namespace fleet::ssh
