// SPDX-License-Identifier: MIT
#include "builder/agent_store.hpp"

#include "builder/agent_path.hpp"

#include "builder/activation/activate_here.hpp"
#include "builder/agent_bundle.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/base/scratch_dir.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/protocol/agent_version.hpp"

#include <array>
#include <cstdlib>
#include <fstream>
#include <system_error>

namespace fleet::builder {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds k_store_timeout{300};

std::string file_sha256(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error("cannot read " + file.string() + " to hash it");
  }
  hash::Sha256 hasher;
  std::array<char, 1 << 16> buffer{};
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
    hasher.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  return hasher.hex_digest();
}

// The store path a GC root left by an earlier run points at, if it is still whole.
std::optional<std::string> recorded_bundle(const fs::path& root) {
  std::error_code error;
  auto target = fs::read_symlink(root, error);
  if (error || !is_store_path(target.string()) || !fs::exists(target / "bin/fleet-builder", error)) {
    return std::nullopt;
  }
  return target.string();
}

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of('\n');
  if (end == std::string::npos) {
    return "";
  }
  auto begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
}

std::string add_bundle(const NixCli& nix, const fs::path& binary, const fs::path& agent_dir, const fs::path& root) {
  const auto release = protocol::this_agent_version().version;
  auto scratch = ScratchDir::create_in(agent_dir, ".bundle-");
  // nix-store --add names the store path after the directory: /nix/store/HASH-fleet-builder-VERSION.
  auto bundle = scratch.path() / ("fleet-builder-" + release);
  write_agent_bundle(binary, release, bundle);
  auto added = run_process({nix.legacy("nix-store", {"--add", bundle.string()}), {}, "", k_store_timeout});
  auto path = last_line(added.out);
  if (!added.ok() || !is_store_path(path)) {
    throw Error("nix-store --add of this agent's bundle failed:\n" + added.err_tail + added.out);
  }
  auto rooted = run_process(
      {nix.legacy("nix-store", {"--realise", path, "--add-root", root.string(), "--indirect"}), {}, "", k_store_timeout});
  if (!rooted.ok()) {
    throw Error("cannot register " + root.string() + " as the GC root of " + path + ":\n" + rooted.err_tail);
  }
  return path;
}

// The real binary: a bundle's wrapper runs libexec/fleet-builder through the bundled loader,
// which is then what /proc/self/exe names.
fs::path agent_binary(const fs::path& agent) {
  std::error_code error;
  auto bundled = agent.parent_path().parent_path() / "libexec/fleet-builder";
  if (agent.filename() == "fleet-builder" && fs::is_regular_file(bundled, error)) {
    return bundled;
  }
  return fs::read_symlink("/proc/self/exe");
}

}  // namespace

std::optional<std::string> agent_store_path_of(const fs::path& agent) {
  auto normal = agent.lexically_normal();
  if (normal.filename() != "fleet-builder" || normal.parent_path().filename() != "bin") {
    return std::nullopt;
  }
  auto store_path = normal.parent_path().parent_path().string();
  if (!is_store_path(store_path)) {
    return std::nullopt;
  }
  return store_path;
}

std::string agent_store_path(const NixCli& nix, const fs::path& state_dir) {
  auto agent = agent_self_path();
  if (auto installed = agent_store_path_of(agent)) {
    return *installed;
  }
  return bundle_store_path(nix, agent_binary(agent), state_dir);
}

void root_agent_in_use(const NixCli& nix, const fs::path& state_dir) {
  auto store_path = agent_store_path_of(agent_self_path());
  if (!store_path) {
    return;
  }
  auto root = state_dir / "agent-in-use";
  std::error_code error;
  if (fs::read_symlink(root, error) == *store_path) {
    return;
  }
  auto rooted = run_process(
      {nix.legacy("nix-store", {"--realise", *store_path, "--add-root", root.string(), "--indirect"}), {}, "", k_store_timeout});
  if (!rooted.ok()) {
    throw Error("cannot register " + root.string() + " as the GC root of this agent, " + *store_path + ":\n" +
                rooted.err_tail);
  }
}

std::string bundle_store_path(const NixCli& nix, const fs::path& binary, const fs::path& state_dir) {
  // The binary's content names its bundle: another build of the agent gets another root.
  auto agent_dir = state_dir / "agent";
  fs::create_directories(agent_dir);
  auto root = agent_dir / file_sha256(binary);
  if (auto recorded = recorded_bundle(root)) {
    return *recorded;
  }
  try {
    return add_bundle(nix, binary, agent_dir, root);
  } catch (Error& e) {
    e.add_context("bringing this build node's fleet-builder (" + binary.string() + ") to targets as a store path");
    throw;
  }
}

}  // namespace fleet::builder
