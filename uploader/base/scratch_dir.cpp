// SPDX-License-Identifier: MIT
#include "uploader/base/scratch_dir.hpp"

#include "uploader/base/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace fleet {

namespace fs = std::filesystem;

ScratchDir::ScratchDir(fs::path path) : m_path(std::move(path)) {}

ScratchDir ScratchDir::create_in(const fs::path& base, const std::string& prefix) {
  std::string pattern = (base / (prefix + "XXXXXX")).string();
  // mkdtemp creates the directory with mode 0700, so nobody else can read what is put inside.
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw Error("cannot create a temporary directory in " + base.string() + ": " + std::strerror(errno));
  }
  return ScratchDir(fs::path(pattern));
}

ScratchDir::~ScratchDir() {
  if (!m_released) {
    std::error_code ignored;
    fs::remove_all(m_path, ignored);
  }
}

}  // namespace fleet
