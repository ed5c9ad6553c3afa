// SPDX-License-Identifier: MIT
#include "uploader/tarball/tarball_reader.hpp"

#include "uploader/base/scratch_dir.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/tarball/archive_handle.hpp"
#include "uploader/tarball/earlier_tree.hpp"
#include "uploader/tarball/entry_checks.hpp"
#include "uploader/tarball/tar_source.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <system_error>

namespace fleet::tarball {

namespace fs = std::filesystem;

namespace {

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

void check_hash(const UnpackResult& result, const std::string& expected_hash) {
  if (result.content_hash != expected_hash) {
    throw ProtocolError("tarball content hash mismatch: expected " + expected_hash + ", received " +
                        result.content_hash + " (" + std::to_string(result.tar_size) + " tar bytes)");
  }
}

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
    const auto normalised = normalised_name(archive_entry_pathname(e));
    if (!normalised) {
      if (archive_entry_filetype(e) != AE_IFDIR) {
        throw ProtocolError("tarball entry '" + std::string(archive_entry_pathname(e)) +
                            "' names the destination directory itself");
      }
      return;
    }
    // From here on only the normalised name is used, for the guard, the earlier tree and the disk.
    const std::string& name = *normalised;
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
        throw Error("cannot write '" + name + "' while unpacking: " + disk_error_text(m_disk.get()));
      }
    });
  }

  // Creates the entry on disk, has `write_data` fill it, and finishes it.
  void write_entry(const std::string& name, archive_entry* e, const std::function<void()>& write_data) {
    if (archive_write_header(m_disk.get(), e) != ARCHIVE_OK) {
      throw ProtocolError("cannot extract tarball entry '" + name + "': " + disk_error_text(m_disk.get()));
    }
    write_data();
    if (archive_write_finish_entry(m_disk.get()) != ARCHIVE_OK) {
      throw Error("cannot finish '" + name + "' while unpacking: " + disk_error_text(m_disk.get()));
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
        throw Error("cannot write '" + name + "' while unpacking: " + disk_error_text(m_disk.get()));
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
      throw Error("cannot " + what + " the unpacked tarball: " + disk_error_text(m_disk.get()));
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
  check_hash(result, expected_hash);
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

template <typename Source, typename Input>
UnpackResult check_from(Input input, const std::string& expected_hash, const UnpackLimits& limits) {
  const fs::path write_nothing;
  auto result = Unpacker<Source>(input, write_nothing, limits, EarlierTree({})).run();
  check_hash(result, expected_hash);
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

UnpackResult unpack_tar_file(int fd, const fs::path& dest, const std::string& expected_hash, const fs::path& earlier,
                             const UnpackLimits& limits) {
  return unpack_from<FileSource>(fd, dest, expected_hash, limits, earlier);
}

UnpackResult check_tar(std::string_view tar, const std::string& expected_hash, const UnpackLimits& limits) {
  return check_from<MemorySource>(tar, expected_hash, limits);
}

UnpackResult check_tar_file(int fd, const std::string& expected_hash, const UnpackLimits& limits) {
  return check_from<FileSource>(fd, expected_hash, limits);
}

}  // namespace fleet::tarball
