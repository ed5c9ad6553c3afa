// SPDX-License-Identifier: MIT
// The age library on its own: building blocks against published vectors, round trips, the
// strict reader and tampering.
#include "uploader/base/error.hpp"
#include "uploader/age/age.hpp"
#include "uploader/age/bech32.hpp"
#include "uploader/age/hkdf.hpp"
#include "uploader/age/keys.hpp"
#include "uploader/base/scratch_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace fleet;
using namespace fleet::age;

namespace {

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<char>((i * 131 + 7) & 0xff);
  }
  return out;
}

}  // namespace

TEST_CASE("HKDF-SHA256 matches RFC 5869 test case 1") {
  auto okm = hkdf_sha256(unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), unhex("000102030405060708090a0b0c"),
                         unhex("f0f1f2f3f4f5f6f7f8f9"), 42);
  CHECK(hex(okm) ==
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST_CASE("HKDF-SHA256 with empty salt and info matches RFC 5869 test case 3") {
  auto okm = hkdf_sha256(unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), "", "", 42);
  CHECK(hex(okm) ==
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST_CASE("Bech32 round-trips and rejects a bad checksum, mixed case and Bech32m") {
  std::string data = pattern(32);
  auto text = bech32_encode("age", data);
  auto decoded = bech32_decode(text, "key");
  CHECK(decoded.hrp == "age");
  CHECK(decoded.data == data);
  std::string broken = text;
  broken.back() = broken.back() == 'q' ? 'p' : 'q';
  CHECK_THROWS_WITH(bech32_decode(broken, "key"), Catch::Contains("checksum"));
  std::string mixed = text;
  mixed[0] = 'A';
  CHECK_THROWS_WITH(bech32_decode(mixed, "key"), Catch::Contains("mixes"));
  // BIP 350's valid Bech32m vector must not pass as Bech32.
  CHECK_THROWS(bech32_decode("a1lqfn3a", "key"));
  // BIP 173's valid Bech32 vectors do.
  CHECK(bech32_decode("A12UEL5L", "key").hrp == "a");
  CHECK(bech32_decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "key").hrp == "abcdef");
}

TEST_CASE("an X25519 identity round-trips through its text forms") {
  auto id = generate_x25519();
  auto text = identity_to_string(id);
  CHECK(text.rfind("AGE-SECRET-KEY-1", 0) == 0);
  auto parsed = parse_identities("# created: now\n# public key: x\n" + text + "\n", "key file");
  REQUIRE(parsed.size() == 1);
  CHECK(parsed[0].recipient().text == id.recipient().text);
  CHECK(parse_recipient(id.recipient().text).public_key == id.recipient().public_key);
}

TEST_CASE("encrypt and decrypt round-trip at chunk boundaries, binary and armored") {
  auto id = generate_x25519();
  auto other = generate_x25519();
  for (std::size_t size : {0u, 1u, 65535u, 65536u, 65537u, 131072u, 200000u}) {
    for (bool armored : {false, true}) {
      auto file = encrypt(pattern(size), {other.recipient(), id.recipient()}, armored);
      CHECK(decrypt(file, {id}) == pattern(size));
      CHECK(decrypt(file, {other}) == pattern(size));
    }
  }
}

TEST_CASE("an armored file with CRLF line ends decrypts; text on its BEGIN line does not") {
  auto id = generate_x25519();
  for (std::size_t size : {0u, 100u, 200000u}) {
    std::string lf = encrypt(pattern(size), {id.recipient()}, true);
    std::string crlf;
    for (char c : lf) {
      crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    }
    CHECK(decrypt(crlf, {id}) == pattern(size));
    std::string joined = lf;
    joined.replace(joined.find('\n'), 1, " x\n");
    CHECK_THROWS_WITH(decrypt(joined, {id}), Catch::Contains("BEGIN or END line"));
  }
}

TEST_CASE("a file for recipients fleet cannot hold names their type, not the user's keys") {
  auto id = generate_x25519();
  std::string file = encrypt("x", {id.recipient()});
  auto at = file.find("-> X25519 ");
  REQUIRE(at != std::string::npos);
  std::string post_quantum = std::string(file).replace(at, 10, "-> mlkem768x25519 ");
  CHECK_THROWS_WITH(decrypt(post_quantum, {id}), Catch::Contains("type mlkem768x25519, which fleet does not support"));
  auto other = generate_x25519();
  CHECK_THROWS_WITH(decrypt(file, {other}), Catch::Contains("no identity opens this age file"));
}

TEST_CASE("encrypting twice gives different files") {
  auto id = generate_x25519();
  CHECK(encrypt("same", {id.recipient()}) != encrypt("same", {id.recipient()}));
}

TEST_CASE("inspect lists stanza types without a key") {
  auto id = generate_x25519();
  auto file = encrypt("x", {id.recipient()});
  auto stanzas = inspect(file);
  REQUIRE(stanzas.size() == 1);
  CHECK(stanzas[0].type == "X25519");
  CHECK(stanzas[0].ssh_tag.empty());
}

TEST_CASE("tampering, truncation and a wrong key fail with a clear error") {
  auto id = generate_x25519();
  std::string plaintext = pattern(150000);
  auto file = encrypt(plaintext, {id.recipient()});
  auto header_end = file.find("\n---") + 1;

  SECTION("a flipped byte in a stanza body") {
    std::string bad = file;
    bad[bad.find('\n', bad.find("-> ")) + 3] ^= 0x01;
    CHECK_THROWS_AS(decrypt(bad, {id}), Error);
  }
  SECTION("a flipped byte in the stanza arguments is caught by the MAC or the stanza") {
    std::string bad = file;
    bad[bad.find("-> X25519 ") + 12] ^= 0x02;
    CHECK_THROWS_AS(decrypt(bad, {id}), Error);
  }
  SECTION("a flipped byte in the MAC") {
    std::string bad = file;
    bad[header_end + 6] = bad[header_end + 6] == 'A' ? 'B' : 'A';
    CHECK_THROWS_WITH(decrypt(bad, {id}), Catch::Contains("header") || Catch::Contains("base64"));
  }
  SECTION("a flipped byte in the payload nonce, the first chunk and the last chunk") {
    auto payload = file.find('\n', header_end) + 1;
    for (std::size_t at : {payload + 3, payload + 16 + 100, file.size() - 5}) {
      std::string bad = file;
      bad[at] ^= 0x80;
      CHECK_THROWS_WITH(decrypt(bad, {id}), Catch::Contains("does not authenticate"));
    }
  }
  SECTION("truncation, at a chunk boundary too, and appended bytes") {
    auto payload = file.find('\n', header_end) + 1;
    CHECK_THROWS_AS(decrypt(file.substr(0, file.size() - 1000), {id}), Error);
    CHECK_THROWS_AS(decrypt(file.substr(0, payload + 16 + 65536 + 16), {id}), Error);
    CHECK_THROWS_AS(decrypt(file.substr(0, payload + 16), {id}), Error);
    CHECK_THROWS_AS(decrypt(file.substr(0, header_end), {id}), Error);
    CHECK_THROWS_AS(decrypt(file + "x", {id}), Error);
  }
  SECTION("a wrong key") {
    CHECK_THROWS_WITH(decrypt(file, {generate_x25519()}), Catch::Contains("no identity opens"));
  }
}

TEST_CASE("the reader is strict about the header") {
  auto id = generate_x25519();
  auto file = encrypt("hello", {id.recipient()});
  CHECK_THROWS_WITH(decrypt("age-encryption.org/v2\n" + file.substr(22), {id}), Catch::Contains("first line"));
  std::string extra_arg = file;
  extra_arg.insert(extra_arg.find('\n', extra_arg.find("-> X25519")), " extra");
  CHECK_THROWS_WITH(decrypt(extra_arg, {id}), Catch::Contains("malformed X25519"));
  std::string padded = file;
  auto mac = padded.find("--- ");
  padded.insert(padded.find('\n', mac), "=");
  CHECK_THROWS_AS(decrypt(padded, {id}), Error);
  CHECK_THROWS_AS(decrypt("", {id}), Error);
  CHECK_THROWS_AS(decrypt("-----BEGIN AGE ENCRYPTED FILE-----\n-----END AGE ENCRYPTED FILE-----\n", {id}), Error);
}

TEST_CASE("recipients and identities with bad text are refused with the accepted forms") {
  CHECK_THROWS_WITH(parse_recipient("age1notakey"), Catch::Contains("age1"));
  CHECK_THROWS_WITH(parse_recipient("ssh-rsa AAAAB3NzaC1yc2E"), Catch::Contains("ssh-ed25519"));
  CHECK_THROWS_WITH(parse_recipient("hello"), Catch::Contains("neither"));
  CHECK_THROWS_WITH(parse_identities("not a key\n", "k.txt"), Catch::Contains("k.txt line 1"));
  CHECK_THROWS_WITH(parse_identities("# only a comment\n", "k.txt"), Catch::Contains("no identity"));
}

TEST_CASE("an identity file is read whole, within bounds") {
  auto dir = ScratchDir::create_in(std::filesystem::temp_directory_path(), "fleet-identity-");
  const auto id = generate_x25519();
  const auto key_file = dir.path() / "age.key";
  std::ofstream(key_file) << "# a comment\n" << identity_to_string(id) << "\n";
  auto read = read_identity_file(key_file);
  REQUIRE(read);
  REQUIRE(read->size() == 1);
  CHECK(read->front().recipient().public_key == id.recipient().public_key);

  CHECK_FALSE(read_identity_file(dir.path() / "missing"));
  CHECK_THROWS_WITH(read_identity_file(dir.path()), Catch::Contains("not a regular file"));
  const auto huge = dir.path() / "huge.key";
  std::ofstream(huge) << std::string((1 << 20) + 1, '#');
  CHECK_THROWS_WITH(read_identity_file(huge), Catch::Contains("is larger than 1048576 bytes"));
  std::ofstream(dir.path() / "bad.key") << "not a key\n";
  CHECK_THROWS_WITH(read_identity_file(dir.path() / "bad.key"), Catch::Contains("bad.key line 1"));
}
