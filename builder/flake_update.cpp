// SPDX-License-Identifier: MIT
#include "builder/flake_update.hpp"

#include "builder/source_store.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/base/scratch_dir.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fleet::builder {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

void run_update_inputs(const std::string& hash, const std::string& flake, const NixCli& nix, int timeout_seconds,
                       const AgentPaths& paths, std::ostream& out) {
  const SourceStore store(paths.state_dir);
  const HeldTree held = store.ensure_tree(hash);
  held.flake_dir(flake);  // checks it
  const fs::path source = held.root();
  fs::create_directories(paths.state_dir / "runs");
  // Removes the scratch copy whatever happens.
  ScratchDir scratch(paths.state_dir / "runs" / ("update-inputs-" + std::to_string(getpid())));
  fs::remove_all(scratch.path());
  fs::copy(source, scratch.path(), fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::path flake_dir = (scratch.path() / flake).lexically_normal();
  // Unpacked sources are read-only for everyone; nix must be able to write the lock here.
  fs::permissions(flake_dir, fs::perms::owner_all, fs::perm_options::add);
  fs::path lock = flake_dir / "flake.lock";
  if (fs::exists(lock)) {
    fs::permissions(lock, fs::perms::owner_write, fs::perm_options::add);
  }
  // Run inside the flake directory without a flake argument: nix 2.8 takes the flake as a
  // positional argument, newer versions take input names there; both default to ".".
  std::vector<std::string> argv{"sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "fleet-update-inputs", flake_dir.string()};
  auto nix_argv = nix.nix({"flake", "update"});
  argv.insert(argv.end(), nix_argv.begin(), nix_argv.end());
  std::string log;
  auto result = run_process({argv, {}, "", std::chrono::seconds{timeout_seconds}}, {},
                            [&](std::string_view line) { log += std::string(line) + "\n"; });
  if (!result.ok() || !fs::is_regular_file(lock)) {
    std::string why = result.timed_out ? "timed out after " + std::to_string(timeout_seconds) + " s" : "failed";
    throw NodeError("nix flake update in " + flake + " " + why + ":\n" + (log.empty() ? result.err_tail : log));
  }
  out << nlohmann::json{{"flakeLock", read_file(lock)}, {"log", log}}.dump() << '\n' << std::flush;
}

}  // namespace fleet::builder
