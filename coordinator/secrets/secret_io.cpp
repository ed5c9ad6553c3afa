// SPDX-License-Identifier: MIT
#include "coordinator/secrets/secret_io.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/base/scratch_dir.hpp"
#include "uploader/base/unique_fd.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fleet::coordinator {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> identity_candidates(const std::string& option) {
  if (!option.empty()) {
    return {option};
  }
  if (const char* env = std::getenv("FLEET_AGE_IDENTITY"); env && *env) {
    return {env};
  }
  std::vector<fs::path> out;
  const char* home = std::getenv("HOME");
  const char* config = std::getenv("XDG_CONFIG_HOME");
  if (config && *config) {
    out.push_back(fs::path(config) / "fleet/age.key");
  } else if (home) {
    out.push_back(fs::path(home) / ".config/fleet/age.key");
  }
  if (home) {
    out.push_back(fs::path(home) / ".ssh/id_ed25519");
  }
  return out;
}

// Removes the private edit directory, overwriting the file first so no copy lingers in memory.
class PrivateDir {
public:
  explicit PrivateDir(const fs::path& base) : m_dir(ScratchDir::create_in(base, "fleet-secret-")) {}
  ~PrivateDir() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(m_dir.path(), ec)) {
      auto size = fs::file_size(entry.path(), ec);
      if (!ec) {
        std::ofstream(entry.path(), std::ios::binary | std::ios::in) << std::string(size, '\0');
      }
    }
    // m_dir removes the overwritten files after this.
  }
  const fs::path& path() const { return m_dir.path(); }

private:
  ScratchDir m_dir;
};

}  // namespace

std::optional<std::vector<age::Identity>> try_admin_identity(const std::string& option) {
  for (const auto& candidate : identity_candidates(option)) {
    std::optional<std::vector<age::Identity>> identities;
    try {
      identities = age::read_identity_file(candidate);
    } catch (const Error& e) {
      throw ConfigError(e.what());
    }
    if (identities) {
      return identities;
    }
    if (!option.empty()) {
      throw ConfigError("--identity " + option + " does not exist");
    }
  }
  return std::nullopt;
}

std::vector<age::Identity> load_admin_identity(const std::string& option) {
  if (auto identities = try_admin_identity(option)) {
    return *identities;
  }
  std::string looked;
  for (const auto& candidate : identity_candidates(option)) {
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  throw ConfigError("no admin identity found (looked at " + looked +
                    "); give --identity FILE or set FLEET_AGE_IDENTITY to an age key file or an ssh-ed25519 "
                    "private key whose public key is in fleet.json's admins");
}

std::optional<std::string> read_optional_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!fs::exists(path)) {
      return std::nullopt;
    }
    throw Error("cannot read " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void replace_file(const fs::path& path, std::string_view content) {
  // Synced: a crash must not leave an empty file where the only copy of a secret was.
  write_file_atomically(path, content,
                        {.mode = 0644,
                         .permissions = Permissions::exact,
                         .owner = std::nullopt,
                         .durability = Durability::file,
                         .missing_directories = MissingDirectories::create});
}

std::string edit_privately(const std::string& name, const std::string& content) {
  fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  PrivateDir dir(base);
  fs::path file = dir.path() / name;
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid() || ::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()) ||
      !fd.close()) {
    throw Error("cannot write the private copy " + file.string() + ": " + std::strerror(errno));
  }
  const char* visual = std::getenv("VISUAL");
  const char* editor = std::getenv("EDITOR");
  std::string command = visual && *visual ? visual : (editor && *editor ? editor : "vi");
  // The editor inherits the terminal; through sh so that "code --wait" style values work.
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", (command + " \"$1\"").c_str(), "sh", file.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error("the editor (" + command + ") failed; nothing was changed");
  }
  auto edited = read_optional_file(file);
  if (!edited) {
    throw Error("the editor removed " + file.string() + "; nothing was changed");
  }
  return *edited;
}

}  // namespace fleet::coordinator
