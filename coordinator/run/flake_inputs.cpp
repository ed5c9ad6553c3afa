// SPDX-License-Identifier: MIT
#include "coordinator/run/flake_inputs.hpp"

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

InputUpdate update_inputs_on(AgentLink& link, const tarball::PackedTarball& source,
                             const transfer::BaseLookup& earlier_tar, const std::string& flake,
                             const std::map<std::string, std::string>& nix_options,
                             const std::function<void(const TransferRecord&)>& on_sent) {
  transfer::PayloadCache payloads(transfer::HeldSource(source.content_hash, std::nullopt, source.compressed), earlier_tar);
  TransferRecord sent = link.upload(payloads);
  sent.note = "for --update-inputs";
  on_sent(sent);
  return link.update_inputs(source.content_hash, flake, nix_options);
}

tarball::PackedTarball pack_with_flake_lock(const tarball::SourceSet& sources, const std::string& flake,
                                            const std::string& flake_lock) {
  return pack_with_file(sources, (fs::path(flake) / "flake.lock").lexically_normal().string(), flake_lock, {});
}

}  // namespace fleet::coordinator
