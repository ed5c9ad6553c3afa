// SPDX-License-Identifier: MIT
#include "builder/receive.hpp"

#include "uploader/base/error.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/tarball/tarball_reader.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace fleet::builder {

namespace fs = std::filesystem;

namespace {

// The sender streams the tarball as soon as it reads have:false; reading it to the end keeps
// it from failing on a closed pipe when another receive already delivered the same content.
void drain(int fd) {
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0 || (n < 0 && errno != EINTR)) {
      return;
    }
  }
}

void print_line(std::ostream& out, const nlohmann::json& line) {
  out << line.dump() << '\n';
  out.flush();
}

}  // namespace

void run_receive(const std::string& hash, const fs::path& state_dir, int in_fd, std::ostream& out) {
  if (!protocol::is_content_hash(hash)) {
    throw ProtocolError("receive --hash '" + hash + "' is not a content hash (64 lowercase hex digits)");
  }
  const fs::path sources = state_dir / "sources";
  const fs::path dest = sources / hash;
  std::error_code ec;
  const bool have = fs::is_directory(fs::symlink_status(dest, ec));
  print_line(out, {{"hello", "fleet-builder"}, {"version", protocol::k_protocol_version}, {"have", have}});
  if (have) {
    return;
  }
  fs::create_directories(sources, ec);
  if (ec) {
    throw Error("cannot create '" + sources.string() + "': " + ec.message() + "; check the agent's state directory");
  }

  tarball::UnpackResult result;
  try {
    result = tarball::unpack(in_fd, dest, hash);
  } catch (const tarball::DestinationExists& e) {
    if (!e.result) {
      drain(in_fd);
    }
    result = e.result.value_or(tarball::UnpackResult{hash, 0, 0});
  }
  print_line(out, {{"received", hash}, {"bytes", result.tar_size}, {"entries", result.entries}});
}

}  // namespace fleet::builder
