// SPDX-License-Identifier: MIT
#include "builder/receive.hpp"

#include "builder/source_store.hpp"
#include "uploader/base/error.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/tarball/tarball_reader.hpp"
#include "uploader/tarball/zstd_delta.hpp"
#include "uploader/transfer/source_payload.hpp"
#include "uploader/transfer/transfer_messages.hpp"

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

namespace fleet::builder {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_max_header = 4096;

// Reads the header line, then exactly the bytes it announces, then insists on the end of input.
class InputReader {
public:
  explicit InputReader(int fd) : m_fd(fd) {}

  std::string line() {
    for (;;) {
      auto nl = m_buffer.find('\n');
      if (nl != std::string::npos) {
        std::string text = m_buffer.substr(0, nl);
        m_buffer.erase(0, nl + 1);
        return text;
      }
      if (m_buffer.size() > k_max_header) {
        throw ProtocolError("the payload header is longer than " + std::to_string(k_max_header) + " bytes");
      }
      if (fill() == 0) {
        throw ProtocolError("the sender closed the connection before the payload header");
      }
    }
  }

  // Hands exactly `size` bytes to `consume` as they arrive, then insists on the end of input.
  void stream(std::uint64_t size, const std::function<void(std::string_view)>& consume) {
    std::uint64_t done = 0;
    while (done < size) {
      if (m_buffer.empty() && fill() == 0) {
        throw ProtocolError("the payload ended after " + std::to_string(done) + " of " + std::to_string(size) +
                            " bytes: truncated transfer");
      }
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(m_buffer.size(), size - done));
      consume(std::string_view(m_buffer).substr(0, take));
      m_buffer.erase(0, take);
      done += take;
    }
    if (!m_buffer.empty() || fill() != 0) {
      throw ProtocolError("the sender wrote more than the " + std::to_string(size) + " bytes it announced");
    }
  }

private:
  std::size_t fill() {
    char chunk[65536];
    ssize_t n = 0;
    do {
      n = ::read(m_fd, chunk, sizeof chunk);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      throw Error(std::string("cannot read the transfer: ") + std::strerror(errno));
    }
    m_buffer.append(chunk, static_cast<std::size_t>(n));
    return static_cast<std::size_t>(n);
  }

  int m_fd;
  std::string m_buffer;
};

void print_line(std::ostream& out, const std::string& line) {
  out << line << '\n';
  out.flush();
}

// The rebuilder of the tar `header` announces, writing it to `tar`: a whole stream, or a delta
// against a kept tar read through `base` (which holds it open, even if pruned meanwhile).
std::unique_ptr<tarball::TarRebuilder> rebuilder_for(const SourceStore& store, const transfer::PayloadHeader& header,
                                                     PendingFile& tar, UniqueFd& base) {
  auto sink = [&tar](std::string_view piece) { tar.write(piece); };
  if (header.base.empty()) {
    return std::make_unique<tarball::TarRebuilder>(transfer::k_max_tar_bytes, sink);
  }
  base = store.open_tar(header.base);
  struct stat st {};
  if (!base.valid() || ::fstat(base.get(), &st) != 0 || st.st_size == 0) {
    throw ProtocolError("the delta is against " + header.base + ", which this node does not keep");
  }
  auto read_base = [fd = base.get(), path = store.tar_path(header.base)](std::uint64_t offset, char* into,
                                                                         std::size_t length) {
    for (std::size_t done = 0; done < length;) {
      const ssize_t n = ::pread(fd, into + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        throw Error("cannot read the base '" + path.string() + "': " + (n < 0 ? std::strerror(errno) : "it is shorter"));
      }
      done += static_cast<std::size_t>(n);
    }
  };
  return std::make_unique<tarball::TarRebuilder>(static_cast<std::uint64_t>(st.st_size), read_base,
                                                 transfer::k_max_tar_bytes, sink);
}

}  // namespace

void run_receive(const std::string& hash, const fs::path& state_dir, int in_fd, std::ostream& out) {
  if (!protocol::is_content_hash(hash)) {
    throw ProtocolError("receive --hash '" + hash + "' is not a content hash (64 lowercase hex digits)");
  }
  const SourceStore store(state_dir);
  transfer::ReceiveHello hello{store.holds(hash), {}};
  if (!hello.have) {
    for (auto& base : store.bases()) {
      if (base != hash && hello.bases.size() < transfer::k_max_bases) {
        hello.bases.push_back(std::move(base));
      }
    }
  }
  print_line(out, transfer::to_line(hello));
  if (hello.have) {
    return;
  }
  std::error_code ec;
  fs::create_directories(store.dir(), ec);
  if (ec) {
    throw Error("cannot create '" + store.dir().string() + "': " + ec.message() + "; check the agent's state directory");
  }

  InputReader input(in_fd);
  const auto header = transfer::parse_payload_header(input.line(), transfer::k_max_tar_bytes);
  // Streamed to temporary files in the store, never held whole: a source can be far larger
  // than a small build node's memory.
  PendingFile tar(store.tar_path(hash));
  std::optional<PendingFile> compressed;
  if (header.base.empty()) {
    compressed.emplace(store.compressed_path(hash));
  }
  UniqueFd base;
  auto rebuilder = rebuilder_for(store, header, tar, base);
  input.stream(header.bytes, [&](std::string_view piece) {
    if (compressed) {
      compressed->write(piece);
    }
    rebuilder->feed(piece);
  });
  rebuilder->finish();
  // Checked, not unpacked: the job that needs the tree unpacks it, so a relay from this node
  // starts at once and every node unpacks in parallel.
  const auto result = tarball::check_tar_file(tar.fd(), hash);
  store.keep(hash, tar, compressed ? &*compressed : nullptr);
  print_line(out, nlohmann::json{{"received", hash},
                                 {"bytes", result.tar_size},
                                 {"entries", result.entries},
                                 {"payloadBytes", header.bytes},
                                 {"base", header.base.empty() ? nlohmann::json(nullptr) : nlohmann::json(header.base)}}
                      .dump());
}

}  // namespace fleet::builder
