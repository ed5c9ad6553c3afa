// SPDX-License-Identifier: MIT
#include "uploader/tarball/source_set.hpp"

#include "uploader/base/error.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <system_error>

namespace fleet::tarball {

namespace fs = std::filesystem;

namespace {

struct ExcludePattern {
  std::string glob;
  bool whole_path = false;  // matched against the relative path instead of the name
  bool dirs_only = false;
};

std::vector<ExcludePattern> parse_patterns(const std::vector<std::string>& exclude) {
  std::vector<ExcludePattern> patterns;
  for (std::string glob : exclude) {
    ExcludePattern pattern;
    if (glob.size() > 1 && glob.back() == '/') {
      pattern.dirs_only = true;
      glob.pop_back();
    }
    pattern.whole_path = glob.find('/') != std::string::npos;
    if (pattern.whole_path && glob.front() == '/') {
      glob.erase(0, 1);
    }
    if (glob.empty()) {
      throw ConfigError("exclude pattern '/' would exclude everything; remove it from \"exclude\"");
    }
    pattern.glob = std::move(glob);
    patterns.push_back(std::move(pattern));
  }
  return patterns;
}

// Ancestors were already tested when the walk entered them, so only the last component's
// name needs the name-only patterns.
bool excluded(const std::vector<ExcludePattern>& patterns, const std::string& relative, bool is_dir) {
  const std::size_t slash = relative.rfind('/');
  const std::string name = slash == std::string::npos ? relative : relative.substr(slash + 1);
  return std::any_of(patterns.begin(), patterns.end(), [&](const ExcludePattern& p) {
    if (p.dirs_only && !is_dir) {
      return false;
    }
    return p.whole_path ? fnmatch(p.glob.c_str(), relative.c_str(), FNM_PATHNAME) == 0
                        : fnmatch(p.glob.c_str(), name.c_str(), 0) == 0;
  });
}

}  // namespace

SourceSet collect_sources(const fs::path& root, const std::vector<std::string>& exclude) {
  const auto patterns = parse_patterns(exclude);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw ConfigError("source directory '" + root.string() + "' does not exist or is not a directory" +
                      (ec ? " (" + ec.message() + ")" : std::string()) + "; check \"source\" in fleet.json");
  }

  SourceSet set{root, {}};
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  const fs::recursive_directory_iterator end;
  fs::path current = root;  // what the walk was looking at when an error stopped it
  while (!ec && it != end) {
    const fs::path& path = it->path();
    current = path;
    const fs::file_status status = it->symlink_status(ec);
    if (ec) {
      break;
    }
    std::string relative = path.lexically_relative(root).generic_string();
    const bool is_dir = fs::is_directory(status);
    if (excluded(patterns, relative, is_dir)) {
      if (is_dir) {
        it.disable_recursion_pending();
      }
    } else if (is_dir || fs::is_regular_file(status) || fs::is_symlink(status)) {
      set.paths.push_back(std::move(relative));
    }
    it.increment(ec);
  }
  if (ec) {
    throw ConfigError("cannot read source tree at '" + current.string() + "': " + ec.message() +
                      "; fix its permissions or add it to \"exclude\"");
  }
  std::sort(set.paths.begin(), set.paths.end());
  return set;
}

}  // namespace fleet::tarball
