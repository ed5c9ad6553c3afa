// SPDX-License-Identifier: MIT
// A received tar: check_tar() vets it as a receive does, and unpack_tar() writes it (with an
// earlier tree to hardlink from) into a scratch directory. Nothing may be written outside it, and
// any input must end in a tree or a fleet::Error.
#include "uploader/base/error.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/tarball/tarball_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

// <tmp>/fleet-fuzz-tar-<pid>/{earlier/…, work/}: `outside` must stay as it is.
struct Scratch {
  fs::path root = fs::temp_directory_path() / ("fleet-fuzz-tar-" + std::to_string(getpid()));
  fs::path earlier = root / "earlier";
  fs::path work = root / "work";
  fs::path outside = root / "outside";

  Scratch() {
    fs::remove_all(root);
    fs::create_directories(earlier / "d");
    fs::create_directories(work);
    fs::create_directories(outside);
    std::ofstream(earlier / "a") << "a\n";
    std::ofstream(earlier / "d" / "x") << "x\n";
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Scratch scratch;
  const std::string_view tar(reinterpret_cast<const char*>(data), size);
  const std::string hash = fleet::hash::sha256_hex(tar);
  try {
    fleet::tarball::check_tar(tar, hash);
  } catch (const fleet::ProtocolError&) {
  }
  const fs::path dest = scratch.work / "dest";
  try {
    fleet::tarball::unpack_tar(tar, dest, hash, scratch.earlier);
  } catch (const fleet::Error&) {
  }
  std::error_code ec;
  if (!fs::is_empty(scratch.outside, ec)) {
    std::abort();  // something was written outside the destination
  }
  for (const auto& entry : fs::directory_iterator(scratch.work)) {
    fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(entry.path(), ec);
  }
  return 0;
}
