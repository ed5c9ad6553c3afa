// SPDX-License-Identifier: MIT
#pragma once

// Test-only helper: a private OpenSSH sshd on 127.0.0.1 with its own host key, client key and
// temp directory, run as a child process this test owns and stops by pid. Needs root (sshd
// refuses to switch users otherwise) and /usr/sbin/sshd; `problem()` says why it could not start.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fleet::test {

class PrivateSshd {
public:
  PrivateSshd() {
    if (geteuid() != 0) {
      m_problem = "the unit tests are not running as root, and sshd refuses to switch users otherwise; "
                  "run them as root (CI does)";
      return;
    }
    if (!std::filesystem::exists("/usr/sbin/sshd") || !std::filesystem::exists("/usr/bin/ssh-keygen")) {
      m_problem = "/usr/sbin/sshd or /usr/bin/ssh-keygen is missing; run scripts/setup.sh "
                  "(or apt-get install openssh-server openssh-client)";
      return;
    }
    char pattern[] = "/tmp/fleet-sshd-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    m_dir = pattern;
    keygen(m_dir / "host_key");
    keygen(m_dir / "client_key");
    keygen(m_dir / "stranger_key");
    std::filesystem::copy_file(m_dir / "client_key.pub", m_dir / "authorized_keys");
    m_port = free_port();
    write(m_dir / "sshd_config",
          "Port " + std::to_string(m_port) + "\nListenAddress 127.0.0.1\nHostKey " + path("host_key") +
              "\nPidFile " + path("sshd.pid") + "\nAuthorizedKeysFile " + path("authorized_keys") +
              "\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
              "KbdInteractiveAuthentication no\nMaxAuthTries 50\nMaxStartups 50\nLogLevel ERROR\n");
    write(m_dir / "known_hosts", known_hosts_line());
    write(m_dir / "empty_known_hosts", "");
    write(m_dir / "ssh_config", "Host fleet-alias\n  Hostname 127.0.0.1\n  Port " + std::to_string(m_port) +
                                    "\n  User root\n  IdentityFile " + path("client_key") + "\n  UserKnownHostsFile " +
                                    path("known_hosts") + "\nHost 127.0.0.1\n  IdentityFile " + path("client_key") +
                                    "\nHost *\n  GlobalKnownHostsFile /dev/null\n");
    // OpenSSH 9.x refuses to start without its privilege separation directory.
    mkdir("/run/sshd", 0755);
    start();
  }

  ~PrivateSshd() {
    if (m_pid > 0) {
      kill(m_pid, SIGTERM);
      int status = 0;
      waitpid(m_pid, &status, 0);
    }
    if (!m_dir.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(m_dir, ignored);
    }
  }

  PrivateSshd(const PrivateSshd&) = delete;
  PrivateSshd& operator=(const PrivateSshd&) = delete;

  // Empty when the daemon runs; otherwise why it could not, and what to install or change.
  const std::string& problem() const { return m_problem; }
  int port() const { return m_port; }
  pid_t pid() const { return m_pid; }
  std::string path(const std::string& name) const { return (m_dir / name).string(); }

  // "ssh-ed25519 AAAA…" of the host key, as fleet.json hostKey takes it.
  std::string host_key() const {
    std::istringstream in(read(m_dir / "host_key.pub"));
    std::string type;
    std::string base64;
    in >> type >> base64;
    return type + " " + base64;
  }
  std::string stranger_key() const {
    std::istringstream in(read(m_dir / "stranger_key.pub"));
    std::string type;
    std::string base64;
    in >> type >> base64;
    return type + " " + base64;
  }
  std::string known_hosts_line() const { return "[127.0.0.1]:" + std::to_string(m_port) + " " + host_key() + "\n"; }

  // Every process below sshd (the per-connection sshd processes and the remote commands).
  std::vector<pid_t> descendants() const {
    std::vector<pid_t> found{m_pid};
    for (std::size_t i = 0; i < found.size(); ++i) {
      for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
          continue;
        }
        std::string stat = read(entry.path() / "stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos) {
          continue;
        }
        std::istringstream rest(stat.substr(close + 2));
        char state = 0;
        pid_t parent = 0;
        rest >> state >> parent;
        if (parent == found[i]) {
          found.push_back(std::stoi(name));
        }
      }
    }
    found.erase(found.begin());
    return found;
  }

private:
  static void write(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file);
    out << text;
  }
  static std::string read(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static void keygen(const std::filesystem::path& file) {
    std::string command = "ssh-keygen -q -t ed25519 -N '' -C fleet-test -f '" + file.string() + "' </dev/null >/dev/null";
    if (std::system(command.c_str()) != 0) {
      throw std::runtime_error("ssh-keygen failed for " + file.string());
    }
  }
  static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      close(fd);
      throw std::runtime_error("cannot find a free port");
    }
    close(fd);
    return ntohs(address.sin_port);
  }
  static bool accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(fd);
    return ok;
  }
  void start() {
    std::string config = path("sshd_config");
    std::string log = path("sshd.log");
    m_pid = fork();
    if (m_pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (accepts(m_port)) {
        return;
      }
      int status = 0;
      if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        m_problem = "sshd exited at start: " + read(log);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    m_problem = "sshd did not listen on port " + std::to_string(m_port) + ": " + read(log);
  }

  std::string m_problem;
  std::filesystem::path m_dir;
  int m_port = 0;
  pid_t m_pid = -1;
};

}  // namespace fleet::test
