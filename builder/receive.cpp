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

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fleet::builder {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_max_header = 4096;
constexpr std::uint64_t k_max_reserved = 256ull << 20;

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

  std::string exactly(std::uint64_t size) {
    // Room for it all at once, so growing never holds two copies; only up to a bound, since a
    // header costs nothing to send and the bytes it announces may never come.
    m_buffer.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(size, k_max_reserved)));
    while (m_buffer.size() < size) {
      if (fill() == 0) {
        throw ProtocolError("the payload ended after " + std::to_string(m_buffer.size()) + " of " +
                            std::to_string(size) + " bytes: truncated transfer");
      }
    }
    if (m_buffer.size() > size || fill() != 0) {
      throw ProtocolError("the sender wrote more than the " + std::to_string(size) + " bytes it announced");
    }
    return std::move(m_buffer);
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

std::string rebuild_tar(const SourceStore& store, const transfer::PayloadHeader& header, const std::string& payload) {
  if (header.base.empty()) {
    return tarball::zstd_decompress(payload, transfer::k_max_tar_bytes);
  }
  auto base = store.tar(header.base);
  if (!base) {
    throw ProtocolError("the delta is against " + header.base + ", which this node does not keep");
  }
  return tarball::apply_delta(*base, payload, transfer::k_max_tar_bytes);
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
  const std::string payload = input.exactly(header.bytes);
  const std::string tar = rebuild_tar(store, header, payload);
  // Checked, not unpacked: the job that needs the tree unpacks it, so a relay from this node
  // starts at once and every node unpacks in parallel.
  const auto result = tarball::check_tar(tar, hash);
  store.keep_tar(hash, tar, header.base.empty() ? std::optional<std::string_view>(payload) : std::nullopt);
  print_line(out, nlohmann::json{{"received", hash},
                                 {"bytes", result.tar_size},
                                 {"entries", result.entries},
                                 {"payloadBytes", header.bytes},
                                 {"base", header.base.empty() ? nlohmann::json(nullptr) : nlohmann::json(header.base)}}
                      .dump());
}

}  // namespace fleet::builder
