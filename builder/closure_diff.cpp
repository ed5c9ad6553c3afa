// SPDX-License-Identifier: MIT
#include "builder/closure_diff.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <filesystem>

namespace fleet::builder {

std::string profile_store_path(const std::string& profile) {
  std::error_code ec;
  auto resolved = std::filesystem::canonical(profile, ec);
  if (ec || resolved.string().rfind("/nix/store/", 0) != 0) {
    return {};
  }
  return resolved.string();
}

std::string diff_closures(const NixCli& nix, const std::string& before, const std::string& after) {
  if (before.empty() || before == after) {
    return {};
  }
  try {
    auto result = run_process({nix.nix({"store", "diff-closures", before, after}), {}, "", std::chrono::seconds{120}});
    if (!result.ok()) {
      return "(nix store diff-closures failed: " + result.err_tail.substr(0, 500) + ")";
    }
    std::string text = result.out;
    if (text.size() > k_max_closure_diff) {
      std::size_t end = text.rfind('\n', k_max_closure_diff);
      text.resize(end == std::string::npos ? k_max_closure_diff : end + 1);
      text += "… (cut at " + std::to_string(k_max_closure_diff) + " bytes)\n";
    }
    return text.empty() ? "(no package changes)\n" : text;
  } catch (const std::exception& e) {
    // Only a note in the report: the activation goes on without it.
    return "(nix store diff-closures could not run: " + describe_error(e) + ")";
  }
}

}  // namespace fleet::builder
