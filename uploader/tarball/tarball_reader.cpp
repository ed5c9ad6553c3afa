// SPDX-License-Identifier: MIT
#include "uploader/tarball/tarball_reader.hpp"

#include "uploader/base/file_io.hpp"
#include "uploader/base/scratch_dir.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/tarball/archive_handle.hpp"
#include "uploader/tarball/zstd_stream.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <set>
#include <system_error>
#include <vector>

namespace fleet::tarball {

namespace fs = std::filesystem;

namespace {

// Decompresses the fd for libarchive, hashing and counting every decompressed byte, so the
// hash covers the whole tar including anything after its end marker.
class ZstdSource {
public:
  ZstdSource(int fd, std::uint64_t max_bytes)
      : m_fd(fd), m_max_bytes(max_bytes), m_dctx(ZSTD_createDCtx()), m_in(ZSTD_DStreamInSize()),
        m_out(ZSTD_DStreamOutSize()) {
    if (!m_dctx) {
      throw Error("zstd: cannot allocate a decompression context (out of memory?)");
    }
  }

  // Next chunk of decompressed bytes; size 0 at the clean end of the stream. Throws
  // ProtocolError for a corrupt, truncated or oversized stream.
  std::pair<const void*, std::size_t> next() {
    for (;;) {
      if (m_input.pos == m_input.size && !m_output_pending) {
        if (m_eof) {
          if (m_frame_left != 0) {
            throw ProtocolError("tarball stream ended in the middle of a zstd frame (" +
                                std::to_string(m_compressed) + " compressed bytes received): truncated upload");
          }
          return {nullptr, 0};
        }
        fill();
        continue;
      }
      ZSTD_outBuffer out{m_out.data(), m_out.size(), 0};
      const std::size_t result = ZSTD_decompressStream(m_dctx.get(), &out, &m_input);
      if (ZSTD_isError(result) != 0U) {
        throw ProtocolError(std::string("tarball stream is not valid zstd after ") + std::to_string(m_compressed) +
                            " compressed bytes: " + ZSTD_getErrorName(result));
      }
      m_frame_left = result;
      m_output_pending = out.pos == out.size;
      if (out.pos > 0) {
        m_tar_size += out.pos;
        if (m_tar_size > m_max_bytes) {
          throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(m_max_bytes) + " bytes");
        }
        m_hasher.update(m_out.data(), out.pos);
        return {m_out.data(), out.pos};
      }
    }
  }

  std::uint64_t tar_size() const { return m_tar_size; }
  std::string hex_digest() { return m_hasher.hex_digest(); }

  // Set when next() threw inside a libarchive callback, so the real cause is reported.
  std::exception_ptr failure;

private:
  void fill() {
    ssize_t n = 0;
    do {
      n = ::read(m_fd, m_in.data(), m_in.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      throw Error(std::string("cannot read the tarball stream: ") + std::strerror(errno));
    }
    m_eof = n == 0;
    m_compressed += static_cast<std::uint64_t>(n);
    // Skippable frames decode to nothing, so the output cap alone would not bound the input.
    if (m_compressed > m_max_bytes) {
      throw ProtocolError("tarball stream is longer than the limit of " + std::to_string(m_max_bytes) + " bytes");
    }
    m_input = ZSTD_inBuffer{m_in.data(), static_cast<std::size_t>(n), 0};
  }

  int m_fd;
  std::uint64_t m_max_bytes;
  ZstdDCtx m_dctx;
  std::vector<char> m_in;
  std::vector<char> m_out;
  ZSTD_inBuffer m_input{nullptr, 0, 0};
  bool m_eof = false;
  bool m_output_pending = false;
  std::size_t m_frame_left = 1;  // nonzero until a frame has been fully decoded
  std::uint64_t m_compressed = 0;
  std::uint64_t m_tar_size = 0;
  hash::Sha256 m_hasher;
};

// An uncompressed tar already in memory (rebuilt from a delta), hashed as it is read.
class MemorySource {
public:
  MemorySource(std::string_view tar, std::uint64_t max_bytes) : m_tar(tar) {
    if (tar.size() > max_bytes) {
      throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(max_bytes) + " bytes");
    }
  }

  std::pair<const void*, std::size_t> next() {
    const std::size_t size = std::min(k_chunk, m_tar.size() - m_offset);
    const char* data = m_tar.data() + m_offset;
    m_offset += size;
    m_hasher.update(data, size);
    return {data, size};
  }

  std::uint64_t tar_size() const { return m_tar.size(); }
  std::string hex_digest() { return m_hasher.hex_digest(); }

  std::exception_ptr failure;

private:
  static constexpr std::size_t k_chunk = 1 << 20;
  std::string_view m_tar;
  std::size_t m_offset = 0;
  hash::Sha256 m_hasher;
};

template <typename Source>
la_ssize_t source_read(archive* a, void* client, const void** buffer) {
  auto* source = static_cast<Source*>(client);
  try {
    const auto [data, size] = source->next();
    *buffer = data;
    return static_cast<la_ssize_t>(size);
  } catch (const std::exception& e) {
    source->failure = std::current_exception();
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

fs::path make_partial_dir(const fs::path& dest) {
  hash::ensure_sodium();
  unsigned char random[8];
  randombytes_buf(random, sizeof random);
  char hex[sizeof random * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, random, sizeof random);
  fs::path partial = dest;
  partial += std::string(".partial-") + hex;
  if (::mkdir(partial.c_str(), 0700) != 0) {
    throw Error("cannot create '" + partial.string() + "': " + std::strerror(errno));
  }
  return partial;
}

// Checked on the name as it came off the wire, before it is prefixed with the partial dir:
// after prefixing every name is absolute, so libarchive's NOABSOLUTEPATHS cannot be used.
// Returns false for names that denote the extraction root itself ("." or "./").
bool validate_name(const char* raw) {
  if (raw == nullptr || *raw == '\0') {
    throw ProtocolError("tarball has an entry with an empty name");
  }
  const std::string name = raw;
  if (name.front() == '/') {
    throw ProtocolError("tarball entry '" + name + "' is an absolute path");
  }
  bool has_component = false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t slash = name.find('/', start);
    if (slash == std::string::npos) {
      slash = name.size();
    }
    const std::string_view component(name.data() + start, slash - start);
    if (component == "..") {
      throw ProtocolError("tarball entry '" + name + "' has a '..' component");
    }
    has_component = has_component || (!component.empty() && component != ".");
    start = slash + 1;
  }
  return has_component;
}

void validate_entry(archive_entry* e, const UnpackLimits& limits) {
  const char* name = archive_entry_pathname(e);
  const std::string shown = name != nullptr ? name : "";
  if (archive_entry_hardlink(e) != nullptr) {
    throw ProtocolError("tarball entry '" + shown + "' is a hardlink (to '" + archive_entry_hardlink(e) +
                        "'); fleet tarballs store hardlinked files as copies");
  }
  const auto type = archive_entry_filetype(e);
  if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
    throw ProtocolError("tarball entry '" + shown + "' has unsupported type 0" + std::to_string(type >> 12) +
                        "; only files, directories and symlinks are allowed");
  }
  if (type == AE_IFLNK && (archive_entry_symlink(e) == nullptr || *archive_entry_symlink(e) == '\0')) {
    throw ProtocolError("tarball symlink '" + shown + "' has an empty target");
  }
  if (archive_entry_size_is_set(e) != 0 &&
      (archive_entry_size(e) < 0 || static_cast<std::uint64_t>(archive_entry_size(e)) > limits.max_total_bytes)) {
    throw ProtocolError("tarball entry '" + shown + "' declares a size of " + std::to_string(archive_entry_size(e)) +
                        " bytes, over the limit of " + std::to_string(limits.max_total_bytes));
  }
}

void normalise_mode(archive_entry* e) {
  switch (archive_entry_filetype(e)) {
  case AE_IFDIR:
    archive_entry_set_perm(e, 0755);
    break;
  case AE_IFLNK:
    archive_entry_set_perm(e, 0777);
    break;
  default:
    archive_entry_set_perm(e, (archive_entry_perm(e) & 0111) != 0 ? 0755 : 0644);
    break;
  }
}

// Remembers the tarball's symlinks and refuses entries beneath one: writing them would go
// through the link.
class SymlinkGuard {
public:
  void check(const std::string& name, archive_entry* e) {
    for (auto slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
      if (m_symlinks.count(name.substr(0, slash)) != 0) {
        throw ProtocolError("tarball entry '" + name + "' lies beneath the symlink '" + name.substr(0, slash) +
                            "': writing it would go through the link");
      }
    }
    if (archive_entry_filetype(e) == AE_IFLNK) {
      m_symlinks.insert(name.substr(0, name.find_last_not_of('/') + 1));
    }
  }

private:
  std::set<std::string> m_symlinks;
};

// An earlier unpacked tree whose files, where identical to an entry's, are hardlinked instead
// of written again: on a mostly unchanged source that is a few writes instead of thousands.
// Only plain files reached through plain directories count.
class EarlierTree {
public:
  explicit EarlierTree(fs::path root) : m_root(std::move(root)) {}

  // The earlier file identical to this regular-file entry holding `data`, if there is one.
  std::optional<fs::path> identical(const std::string& name, archive_entry* e, std::string_view data) {
    const fs::path candidate = m_root / name;
    struct stat st {};
    if (m_root.empty() || !plain_parents(fs::path(name).parent_path()) ||
        ::lstat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) != data.size() ||
        (st.st_mode & 0777) != (archive_entry_perm(e) & 0777)) {
      return std::nullopt;
    }
    auto content = read_whole_file(candidate);
    if (!content || *content != data) {
      return std::nullopt;
    }
    return candidate;
  }

private:
  bool plain_parents(const fs::path& relative) {
    if (relative.empty()) {
      return true;
    }
    auto known = m_plain_dirs.find(relative.string());
    if (known != m_plain_dirs.end()) {
      return known->second;
    }
    struct stat st {};
    const bool plain = plain_parents(relative.parent_path()) && ::lstat((m_root / relative).c_str(), &st) == 0 &&
                       S_ISDIR(st.st_mode);
    m_plain_dirs[relative.string()] = plain;
    return plain;
  }

  fs::path m_root;
  std::map<std::string, bool> m_plain_dirs;
};

// Reads a tarball from a Source and writes it under `partial`, refusing it whole at the first
// hostile entry. With an empty `partial` it writes nothing: every entry is still read and
// vetted, which is what check_tar() does.
template <typename Source>
class Unpacker {
public:
  template <typename Input>
  Unpacker(Input input, const fs::path& partial, const UnpackLimits& limits, EarlierTree earlier)
      : m_source(input, limits.max_total_bytes), m_partial(partial), m_limits(limits), m_earlier(std::move(earlier)),
        m_reader(archive_read_new()), m_disk(archive_write_disk_new()) {
    if (!m_reader || !m_disk) {
      throw Error("libarchive: out of memory creating the tar reader");
    }
  }

  UnpackResult run() {
    archive* r = m_reader.get();
    archive* w = m_disk.get();
    // No filters: zstd is decoded above, and format_tar alone keeps the parser surface small.
    archive_read_support_format_tar(r);
    check_disk(archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                     ARCHIVE_EXTRACT_PERM),
               "configure extraction");
    check_read(archive_read_open(r, &m_source, nullptr, source_read<Source>, nullptr), "open");

    UnpackResult result;
    archive_entry* e = nullptr;
    for (;;) {
      const int status = archive_read_next_header(r, &e);
      if (status == ARCHIVE_EOF) {
        break;
      }
      check_read(status, "read an entry header of");
      if (++result.entries > m_limits.max_entries) {
        throw ProtocolError("tarball has more than the limit of " + std::to_string(m_limits.max_entries) + " entries");
      }
      extract(e);
    }
    // Whatever follows the end-of-archive marker is hashed too, and the frame must end cleanly.
    while (m_source.next().second != 0) {
    }
    check_disk(archive_write_close(w), "finish writing");
    result.tar_size = m_source.tar_size();
    result.content_hash = m_source.hex_digest();
    return result;
  }

private:
  void extract(archive_entry* e) {
    validate_entry(e, m_limits);
    const std::string name = archive_entry_pathname(e);
    if (!validate_name(name.c_str())) {
      if (archive_entry_filetype(e) != AE_IFDIR) {
        throw ProtocolError("tarball entry '" + name + "' names the destination directory itself");
      }
      return;
    }
    m_symlinks.check(name, e);
    if (m_partial.empty()) {
      check_read(archive_read_data_skip(m_reader.get()), "skip the data of '" + name + "' in");
      return;
    }
    archive_entry_set_pathname(e, (m_partial / name).c_str());
    normalise_mode(e);
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) > k_max_compared_file) {
      write_entry(name, e, [&] { stream_data(name); });
      return;
    }
    // A regular file: hardlinked from the earlier tree when identical there, else written.
    std::string data(static_cast<std::size_t>(std::max<la_int64_t>(archive_entry_size(e), 0)), '\0');
    const la_ssize_t got = data.empty() ? 0 : archive_read_data(m_reader.get(), data.data(), data.size());
    check_read(got < 0 ? static_cast<int>(got) : ARCHIVE_OK, "read the data of '" + name + "' in");
    data.resize(static_cast<std::size_t>(got));
    if (auto same = m_earlier.identical(name, e, data); same && ::link(same->c_str(), archive_entry_pathname(e)) == 0) {
      return;
    }
    write_entry(name, e, [&] {
      if (!data.empty() && archive_write_data(m_disk.get(), data.data(), data.size()) < 0) {
        throw Error("cannot write '" + name + "' while unpacking: " + archive_error_text(m_disk.get()));
      }
    });
  }

  // Creates the entry on disk, has `write_data` fill it, and finishes it.
  void write_entry(const std::string& name, archive_entry* e, const std::function<void()>& write_data) {
    if (archive_write_header(m_disk.get(), e) != ARCHIVE_OK) {
      throw ProtocolError("cannot extract tarball entry '" + name + "': " + archive_error_text(m_disk.get()));
    }
    write_data();
    if (archive_write_finish_entry(m_disk.get()) != ARCHIVE_OK) {
      throw Error("cannot finish '" + name + "' while unpacking: " + archive_error_text(m_disk.get()));
    }
  }

  void stream_data(const std::string& name) {
    const void* block = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      const int status = archive_read_data_block(m_reader.get(), &block, &size, &offset);
      if (status == ARCHIVE_EOF) {
        return;
      }
      check_read(status, "read the data of '" + name + "' in");
      if (archive_write_data_block(m_disk.get(), block, size, offset) < 0) {
        throw Error("cannot write '" + name + "' while unpacking: " + archive_error_text(m_disk.get()));
      }
    }
  }

  void check_read(int status, const std::string& what) {
    if (status == ARCHIVE_OK) {
      return;
    }
    if (m_source.failure) {
      std::rethrow_exception(m_source.failure);
    }
    throw ProtocolError("cannot " + what + " the tarball: " + archive_error_text(m_reader.get()));
  }

  void check_disk(int status, const std::string& what) {
    if (status != ARCHIVE_OK) {
      throw Error("cannot " + what + " the unpacked tarball: " + archive_error_text(m_disk.get()));
    }
  }

  // Larger files are streamed to disk, never held whole to be compared.
  static constexpr la_int64_t k_max_compared_file = 16 << 20;

  Source m_source;
  const fs::path& m_partial;
  const UnpackLimits& m_limits;
  EarlierTree m_earlier;
  SymlinkGuard m_symlinks;
  ArchiveReader m_reader;
  ArchiveWriter m_disk;
};

template <typename Source, typename Input>
UnpackResult unpack_from(Input input, const fs::path& dest, const std::string& expected_hash,
                         const UnpackLimits& limits, const fs::path& earlier = {}) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dest, ec))) {
    throw DestinationExists("cannot unpack into '" + dest.string() + "': it already exists", std::nullopt);
  }
  // libarchive's symlink check walks the whole absolute path, so the parent must be free of
  // symlinks (e.g. /var/run -> /run) or every entry would be refused.
  const fs::path parent = fs::canonical(fs::absolute(dest).parent_path(), ec);
  if (ec) {
    throw Error("cannot unpack into '" + dest.string() + "': its parent directory is unusable (" + ec.message() + ")");
  }
  const fs::path final_dest = parent / dest.filename();
  // Removed unless the unpack succeeds and renames it away.
  ScratchDir partial(make_partial_dir(final_dest));

  UnpackResult result;
  {
    Unpacker<Source> unpacker(input, partial.path(), limits, EarlierTree(earlier));
    result = unpacker.run();
  }
  if (result.content_hash != expected_hash) {
    throw ProtocolError("tarball content hash mismatch: expected " + expected_hash + ", received " +
                        result.content_hash + " (" + std::to_string(result.tar_size) + " tar bytes)");
  }
  fs::permissions(partial.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
  // RENAME_NOREPLACE: a plain rename() would silently replace an empty directory at dest.
  if (::renameat2(AT_FDCWD, partial.path().c_str(), AT_FDCWD, final_dest.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) {
      throw DestinationExists("'" + final_dest.string() + "' appeared while unpacking; kept the existing one", result);
    }
    throw Error("cannot rename '" + partial.path().string() + "' to '" + final_dest.string() + "': " +
                std::strerror(errno));
  }
  partial.release();
  return result;
}

}  // namespace

UnpackResult unpack(int fd, const fs::path& dest, const std::string& expected_hash, const UnpackLimits& limits) {
  return unpack_from<ZstdSource>(fd, dest, expected_hash, limits);
}

UnpackResult unpack_tar(std::string_view tar, const fs::path& dest, const std::string& expected_hash,
                        const fs::path& earlier, const UnpackLimits& limits) {
  return unpack_from<MemorySource>(tar, dest, expected_hash, limits, earlier);
}

UnpackResult check_tar(std::string_view tar, const std::string& expected_hash, const UnpackLimits& limits) {
  const fs::path write_nothing;
  auto result = Unpacker<MemorySource>(tar, write_nothing, limits, EarlierTree({})).run();
  if (result.content_hash != expected_hash) {
    throw ProtocolError("tarball content hash mismatch: expected " + expected_hash + ", received " +
                        result.content_hash + " (" + std::to_string(result.tar_size) + " tar bytes)");
  }
  return result;
}

}  // namespace fleet::tarball
