// SPDX-License-Identifier: MIT
// Interoperability with Debian's real `age` binary, both ways, with keys from age-keygen and
// ssh-keygen in real temporary directories.
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/age/age.hpp"

#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace fleet;
using namespace fleet::age;
using fleet::test::read_file;
using fleet::test::TempDir;
using fleet::test::write_file;
namespace fs = std::filesystem;

namespace {

std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<char>((i * 167 + 3) & 0xff);
  }
  return out;
}

ProcessResult run(std::vector<std::string> argv) {
  return run_process({std::move(argv), {}, "", std::chrono::seconds{60}});
}

// The real tools are part of the test environment (scripts/setup.sh installs them, CI has
// them), so a missing one fails the test instead of letting it pass without checking anything.
void require_age_tools() {
  for (const char* tool : {"/usr/bin/age", "/usr/bin/age-keygen", "/usr/bin/ssh-keygen"}) {
    if (!fs::exists(tool)) {
      FAIL(tool << " is missing: this interop test needs the age and openssh-client packages; "
                   "run scripts/setup.sh (or apt-get install age openssh-client)");
    }
  }
}

// Keys made by the real tools: an age X25519 key file and an ssh-ed25519 key pair.
struct Keys {
  TempDir dir;
  fs::path age_key, ssh_key;
  std::string age_recipient, ssh_recipient;

  Keys() {
    age_key = dir.path() / "age.key";
    ssh_key = dir.path() / "id_ed25519";
    REQUIRE(run({"age-keygen", "-o", age_key.string()}).ok());
    REQUIRE(run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test@fleet", "-f", ssh_key.string()}).ok());
    auto out = run({"age-keygen", "-y", age_key.string()}).out;
    age_recipient = out.substr(0, out.find('\n'));
    ssh_recipient = read_file(ssh_key.string() + ".pub");
    ssh_recipient = ssh_recipient.substr(0, ssh_recipient.find('\n'));
  }
  std::vector<Identity> age_identity() const { return parse_identities(read_file(age_key), age_key.string()); }
  std::vector<Identity> ssh_identity() const { return parse_identities(read_file(ssh_key), ssh_key.string()); }
};

const std::vector<std::size_t> k_sizes{0, 6, 65536, 131072, 200000};

}  // namespace

TEST_CASE("files the age binary encrypts decrypt with ours") {
  require_age_tools();
  Keys keys;
  TempDir work;
  auto plain = work.path() / "plain";
  auto enc = work.path() / "enc.age";
  for (auto size : k_sizes) {
    write_file(plain, pattern(size));
    SECTION("to an X25519 recipient, " + std::to_string(size) + " bytes") {
      REQUIRE(run({"age", "-r", keys.age_recipient, "-o", enc.string(), plain.string()}).ok());
      CHECK(decrypt(read_file(enc), keys.age_identity()) == pattern(size));
      CHECK_THROWS(decrypt(read_file(enc), keys.ssh_identity()));
    }
    SECTION("to an ssh-ed25519 recipient, " + std::to_string(size) + " bytes") {
      REQUIRE(run({"age", "-R", keys.ssh_key.string() + ".pub", "-o", enc.string(), plain.string()}).ok());
      CHECK(inspect(read_file(enc)).at(0).ssh_tag == parse_recipient(keys.ssh_recipient).ssh_tag());
      CHECK(decrypt(read_file(enc), keys.ssh_identity()) == pattern(size));
      CHECK_THROWS(decrypt(read_file(enc), keys.age_identity()));
    }
    SECTION("to several recipients, armored, " + std::to_string(size) + " bytes") {
      Keys more;
      REQUIRE(run({"age", "-a", "-r", keys.age_recipient, "-R", keys.ssh_key.string() + ".pub", "-r",
                   more.age_recipient, "-o", enc.string(), plain.string()})
                  .ok());
      CHECK(read_file(enc).rfind("-----BEGIN AGE ENCRYPTED FILE-----", 0) == 0);
      CHECK(decrypt(read_file(enc), keys.age_identity()) == pattern(size));
      CHECK(decrypt(read_file(enc), keys.ssh_identity()) == pattern(size));
      CHECK(decrypt(read_file(enc), more.age_identity()) == pattern(size));
    }
  }
}

TEST_CASE("files we encrypt decrypt with the age binary") {
  require_age_tools();
  Keys keys;
  TempDir work;
  auto enc = work.path() / "enc.age";
  for (auto size : k_sizes) {
    for (bool armored : {false, true}) {
      auto file = encrypt(pattern(size),
                          {parse_recipient(keys.age_recipient), parse_recipient(keys.ssh_recipient)}, armored);
      write_file(enc, file);
      for (const auto& key : {keys.age_key, keys.ssh_key}) {
        // `age -d -o FILE` creates nothing for an empty plaintext, so redirect stdout instead.
        auto out = work.path() / "out";
        auto result = run({"sh", "-c", "age -d -i \"$1\" \"$2\" > \"$3\"", "sh", key.string(), enc.string(), out.string()});
        INFO("size " << size << (armored ? " armored, " : ", ") << key.filename() << ": " << result.err_tail);
        CHECK(result.ok());
        CHECK(read_file(out) == pattern(size));
      }
    }
  }
}

TEST_CASE("an X25519 identity generated by us works with age, and age-keygen agrees on its recipient") {
  require_age_tools();
  TempDir work;
  auto id = generate_x25519();
  write_file(work.path() / "k", identity_to_string(id) + "\n");
  auto out = run({"age-keygen", "-y", (work.path() / "k").string()}).out;
  CHECK(out.substr(0, out.find('\n')) == id.recipient().text);
}

TEST_CASE("an ssh host key opens files encrypted to its ssh-to-age X25519 form, as sops-nix writes them") {
  require_age_tools();
  Keys keys;
  TempDir work;
  auto plain = work.path() / "plain";
  auto enc = work.path() / "enc.age";
  write_file(plain, "sops-style");
  auto converted = ssh_to_x25519(parse_recipient(keys.ssh_recipient));
  REQUIRE(run({"age", "-r", converted.text, "-o", enc.string(), plain.string()}).ok());
  CHECK(decrypt(read_file(enc), keys.ssh_identity()) == "sops-style");
}

TEST_CASE("age refuses our tampered files, and we refuse age's") {
  require_age_tools();
  Keys keys;
  TempDir work;
  auto enc = work.path() / "enc.age";
  auto file = encrypt(pattern(100000), {parse_recipient(keys.ssh_recipient)});
  file[file.size() - 40] ^= 1;
  write_file(enc, file);
  auto result = run({"age", "-d", "-i", keys.ssh_key.string(), enc.string()});
  CHECK_FALSE(result.ok());
  // The refusal must be the tampering, not a wrong key or argument.
  CHECK_THAT(result.err_tail, Catch::Contains("failed to decrypt and authenticate payload chunk"));

  auto plain = work.path() / "plain";
  write_file(plain, pattern(100000));
  REQUIRE(run({"age", "-R", keys.ssh_key.string() + ".pub", "-o", enc.string(), plain.string()}).ok());
  auto theirs = read_file(enc);
  std::string flipped = theirs;
  flipped[flipped.size() - 70000] ^= 1;
  CHECK_THROWS_WITH(decrypt(flipped, keys.ssh_identity()), Catch::Contains("does not authenticate"));
  CHECK_THROWS_AS(decrypt(theirs.substr(0, theirs.size() - 1), keys.ssh_identity()), Error);
  std::string header_flip = theirs;
  const auto stanza = header_flip.find("-> ssh-ed25519");
  REQUIRE(stanza != std::string::npos);
  header_flip[stanza + 3] = 'S';
  CHECK_THROWS_AS(decrypt(header_flip, keys.ssh_identity()), Error);
}
