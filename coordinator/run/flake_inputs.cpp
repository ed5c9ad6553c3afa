// SPDX-License-Identifier: MIT
#include "coordinator/run/input_update.hpp"

#include "coordinator/run/location_link.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/scratch_dir.hpp"

#include <fstream>

namespace fleet::coordinator {
namespace {

namespace fs = std::filesystem;

}  // namespace

tarball::PackedTarball pack_with_file(const tarball::SourceSet& sources, const std::string& replace_path,
                                      const std::string& content, const std::vector<std::string>& exclude) {
  auto tree = ScratchDir::create_in(fs::temp_directory_path(), "fleet-inputs-");
  fs::path root = tree.path() / "source";
  fs::create_directory(root);
  try {
    for (const auto& relative : sources.paths) {
      fs::path from = sources.root / relative;
      fs::path to = root / relative;
      auto status = fs::symlink_status(from);
      if (fs::is_symlink(status)) {
        fs::copy_symlink(from, to);
      } else if (fs::is_directory(status)) {
        fs::create_directories(to);
      } else if (fs::is_regular_file(status)) {
        fs::copy_file(from, to);
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw Error("cannot copy the source to pack it with the updated flake.lock: " + std::string(e.what()));
  }
  fs::path target = (root / replace_path).lexically_normal();
  fs::create_directories(target.parent_path());
  std::error_code ec;
  fs::remove(target, ec);  // a symlinked lock is replaced, never written through
  std::ofstream out(target, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    throw Error("cannot write " + target.string());
  }
  return tarball::pack(tarball::collect_sources(root, exclude));
}

UpdatedSource update_flake_inputs(const BuildLocation& location, const ssh::SshOptions& ssh,
                                  const tarball::SourceSet& sources, const tarball::PackedTarball& packed,
                                  const std::string& flake, const std::map<std::string, std::string>& nix_options,
                                  const transfer::BaseLookup& earlier_tar,
                                  const std::function<void(const std::string&)>& on_message) {
  LocationLink link(location, ssh);
  link.connect(on_message);
  transfer::PayloadCache payloads(transfer::HeldSource(packed.content_hash, std::nullopt, packed.compressed), earlier_tar);
  auto transfer = link.upload(payloads);
  on_message("updating flake inputs on " + location.name +
             (transfer.skipped ? " (it already holds the source)" : " (" + std::to_string(transfer.bytes) + " bytes sent)"));
  UpdatedSource updated;
  updated.flake_lock = link.update_inputs(packed.content_hash, flake, nix_options, updated.log);
  std::string lock_path = (fs::path(flake) / "flake.lock").lexically_normal().string();
  // The laptop's exclude patterns must not drop the lock the builders need.
  updated.packed = pack_with_file(sources, lock_path, updated.flake_lock, {});
  return updated;
}

}  // namespace fleet::coordinator
