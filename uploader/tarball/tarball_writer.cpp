// SPDX-License-Identifier: MIT
#include "uploader/tarball/tarball_writer.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/unique_fd.hpp"
#include "uploader/tarball/archive_handle.hpp"
#include "uploader/tarball/hashing_compressor.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace fleet::tarball {

namespace {

constexpr int k_block_size = 256 * 1024;
// Address space reserved for the compressed output up front. Pages are only backed by memory
// once written, so this costs nothing for a small tree, and saves a large one the copies and
// fresh page faults of growing by doubling (16 MiB touched for an 8 MiB result).
constexpr std::size_t k_output_reservation = 64 << 20;

// Receives the uncompressed tar from libarchive and passes it on to be hashed and compressed.
struct TarSink {
  explicit TarSink(std::string& out) : compressor(out) {}

  HashingCompressor compressor;
  std::uint64_t tar_size = 0;
  std::string error;  // an exception caught in the callback, rethrown after libarchive returns
  std::exception_ptr bug;  // that exception when it is internal: rethrown as it is, not reworded
};

la_ssize_t sink_write(archive* a, void* client, const void* buffer, std::size_t length) {
  auto* sink = static_cast<TarSink*>(client);
  try {
    sink->compressor.write(buffer, length);
    sink->tar_size += length;
    return static_cast<la_ssize_t>(length);
  } catch (const std::exception& e) {
    sink->error = e.what();
    if (is_internal_error(e)) {
      sink->bug = std::current_exception();
    }
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

std::string errno_text() { return std::strerror(errno); }

class Packer {
public:
  Packer(const SourceSet& sources, PackedTarball& result)
      : m_sources(sources), m_result(result), m_sink(result.compressed), m_writer(archive_write_new()),
        m_entry(archive_entry_new()), m_buffer(k_block_size) {
    if (!m_writer || !m_entry) {
      throw Error("libarchive: out of memory creating the tar writer");
    }
  }

  void run() {
    m_result.compressed.reserve(k_output_reservation);
    archive* a = m_writer.get();
    check(archive_write_set_format_pax_restricted(a), "select the pax_restricted format");
    // Blocks only batch the calls into the sink (the last one is not padded), so a large block
    // means a few hundred hash and compressor calls per 25 MB instead of thousands.
    check(archive_write_set_bytes_per_block(a, k_block_size), "set the block size");
    check(archive_write_set_bytes_in_last_block(a, 1), "disable last-block padding");
    check(archive_write_open(a, &m_sink, nullptr, sink_write, nullptr), "open the tar stream");
    for (const std::string& relative : m_sources.paths) {
      add(relative);
      ++m_result.file_count;
    }
    check(archive_write_close(a), "finish the tar stream");
    m_result.content_hash = m_sink.compressor.finish();
    m_result.tar_size = m_sink.tar_size;
  }

private:
  void check(int status, const std::string& what, const std::string& path = {}) {
    if (status >= ARCHIVE_WARN) {
      return;
    }
    if (m_sink.bug) {
      std::rethrow_exception(m_sink.bug);
    }
    const std::string reason = m_sink.error.empty() ? archive_error_text(m_writer.get()) : m_sink.error;
    throw Error("cannot " + what + (path.empty() ? "" : " for '" + path + "'") + " while packing: " + reason);
  }

  void add(const std::string& relative) {
    const std::string full = (m_sources.root / relative).string();
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) {
      throw Error("cannot stat '" + full + "' while packing: " + errno_text());
    }
    archive_entry* e = m_entry.get();
    archive_entry_clear(e);
    archive_entry_set_pathname(e, relative.c_str());
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
      check(archive_write_header(m_writer.get(), e), "write the header", full);
    } else if (S_ISLNK(st.st_mode)) {
      add_symlink(full, st);
    } else if (S_ISREG(st.st_mode)) {
      add_file(full);
    } else {
      throw Error("'" + full + "' is not a file, directory or symlink; it changed since the tree was listed");
    }
  }

  void add_symlink(const std::string& full, const struct stat& st) {
    std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
    const ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
    if (n < 0 || static_cast<std::size_t>(n) >= target.size()) {
      throw Error("cannot read symlink '" + full + "' while packing: " +
                  (n < 0 ? errno_text() : std::string("it changed while being read")));
    }
    target.resize(static_cast<std::size_t>(n));
    archive_entry* e = m_entry.get();
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_perm(e, 0777);
    archive_entry_set_symlink(e, target.c_str());
    check(archive_write_header(m_writer.get(), e), "write the header", full);
  }

  // The size comes from fstat on the opened file so the header matches what is read, and a
  // file that shrinks meanwhile is an error instead of silently zero-padded.
  void add_file(const std::string& full) {
    const UniqueFd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
      throw Error("cannot open '" + full + "' while packing: " + errno_text());
    }
    if (!S_ISREG(st.st_mode)) {
      throw Error("'" + full + "' stopped being a regular file while packing");
    }
    archive_entry* e = m_entry.get();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, (st.st_mode & 0111) != 0 ? 0755 : 0644);
    archive_entry_set_size(e, st.st_size);
    check(archive_write_header(m_writer.get(), e), "write the header", full);

    auto left = static_cast<std::uint64_t>(st.st_size);
    while (left > 0) {
      const std::size_t want = left < m_buffer.size() ? static_cast<std::size_t>(left) : m_buffer.size();
      const ssize_t n = ::read(fd.get(), m_buffer.data(), want);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        throw Error("cannot read '" + full + "' while packing: " +
                    (n < 0 ? errno_text() : std::string("the file shrank while being packed; retry")));
      }
      const la_ssize_t written = archive_write_data(m_writer.get(), m_buffer.data(), static_cast<std::size_t>(n));
      if (written < 0) {
        if (m_sink.bug) {
          std::rethrow_exception(m_sink.bug);
        }
        throw Error("cannot write data for '" + full + "' while packing: " +
                    (m_sink.error.empty() ? archive_error_text(m_writer.get()) : m_sink.error));
      }
      left -= static_cast<std::uint64_t>(n);
    }
    check(archive_write_finish_entry(m_writer.get()), "finish the entry", full);
  }

  const SourceSet& m_sources;
  PackedTarball& m_result;
  TarSink m_sink;
  ArchiveWriter m_writer;
  ArchiveEntry m_entry;
  std::vector<char> m_buffer;
};

}  // namespace

PackedTarball pack(const SourceSet& sources) {
  PackedTarball result;
  Packer packer(sources, result);
  packer.run();
  return result;
}

}  // namespace fleet::tarball
