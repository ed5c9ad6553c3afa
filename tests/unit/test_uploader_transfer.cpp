// SPDX-License-Identifier: MIT
#include "uploader/base/error.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/tarball/zstd_delta.hpp"
#include "uploader/tarball/zstd_stream.hpp"
#include "uploader/transfer/relay_messages.hpp"
#include "uploader/transfer/source_payload.hpp"
#include "uploader/transfer/transfer_messages.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <random>

using namespace fleet;

namespace {

// Incompressible text, so sizes show what a delta saves.
std::string random_text(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string text(size, ' ');
  for (auto& c : text) {
    c = static_cast<char>('a' + rng() % 26);
  }
  return text;
}

const std::string k_hash_a(64, 'a');
const std::string k_hash_b(64, 'b');

}  // namespace

TEST_CASE("a delta against the previous tar costs about the change, whatever the tree's size") {
  const std::string base = random_text(3 << 20, 1);
  std::string target = base;
  target.replace(1'000'000, 1000, random_text(1000, 2));  // an edit in place
  target.insert(2'000'000, random_text(500, 3));           // and an insertion that shifts the rest
  const std::string delta = tarball::make_delta(base, target);
  CHECK(delta.size() < 2000);
  CHECK(tarball::make_delta(base, base).size() < 100);
  CHECK(tarball::apply_delta(base, delta, target.size()) == target);

  SECTION("it does not apply to another base, nor beyond the size limit, nor with bytes after it") {
    // A base with other bytes gives other bytes, which the receiver's hash check refuses; a
    // shorter base cannot hold what the delta copies from it.
    std::string other = base;
    other[10] = other[10] == 'a' ? 'b' : 'a';
    CHECK(tarball::apply_delta(other, delta, target.size()) != target);
    CHECK_THROWS_WITH(tarball::apply_delta(base.substr(0, 1000), delta, target.size()), Catch::Contains("another base"));
    CHECK_THROWS_WITH(tarball::apply_delta(base, delta.substr(0, 10), target.size()), Catch::Contains("delta header"));
    CHECK_THROWS_WITH(tarball::apply_delta(base, delta, target.size() - 1), Catch::Contains("limit"));
    CHECK_THROWS_WITH(tarball::apply_delta(base, delta + delta, target.size() * 2), Catch::Contains("after its zstd frame"));
    CHECK_THROWS_WITH(tarball::apply_delta(base, delta.substr(0, delta.size() - 4), target.size()),
                      Catch::Contains("truncated") || Catch::Contains("not apply"));
  }
}

namespace {

// What a TarRebuilder gives for `payload` fed in pieces of `piece` bytes, and how many bytes it
// handed over at most at once.
std::pair<std::string, std::size_t> rebuild_in_pieces(std::string_view payload, std::size_t piece, std::uint64_t max,
                                                      std::string_view base = {}) {
  std::string out;
  std::size_t largest = 0;
  auto sink = [&](std::string_view bytes) {
    out.append(bytes);
    largest = std::max(largest, bytes.size());
  };
  std::optional<tarball::TarRebuilder> rebuilder;
  if (base.empty()) {
    rebuilder.emplace(max, sink);
  } else {
    rebuilder.emplace(
        base.size(), [base](std::uint64_t offset, char* into, std::size_t length) { base.copy(into, length, offset); },
        max, sink);
  }
  for (std::size_t at = 0; at < payload.size(); at += piece) {
    rebuilder->feed(payload.substr(at, piece));
  }
  rebuilder->finish();
  return {out, largest};
}

}  // namespace

TEST_CASE("a tar rebuilt from a payload in pieces, however small, is the tar rebuilt at once") {
  const std::string base = random_text(3 << 20, 5);
  std::string target = base;
  target.replace(1'500'000, 2000, random_text(2000, 6));
  const std::string delta = tarball::make_delta(base, target);
  const std::string whole = tarball::zstd_compress(target);
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{24}, std::size_t{65536}}) {
    INFO("pieces of " << piece << " bytes");
    const auto [from_delta, largest_copy] = rebuild_in_pieces(delta, piece, target.size(), base);
    CHECK(from_delta == target);
    // What the delta shares with its base is copied in pieces too, never as one copy of the tar.
    CHECK(largest_copy <= (1u << 20));
  }
  for (std::size_t piece : {std::size_t{13}, std::size_t{65536}}) {
    CHECK(rebuild_in_pieces(whole, piece, target.size()).first == target);
  }
  // A payload cut anywhere is refused, never taken for a shorter tar.
  for (std::size_t cut : {std::size_t{0}, std::size_t{10}, std::size_t{24}, delta.size() / 2, delta.size() - 1}) {
    INFO("a delta cut after " << cut << " bytes");
    CHECK_THROWS_AS(rebuild_in_pieces(delta.substr(0, cut), 3, target.size(), base), ProtocolError);
  }
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, whole.size() / 2, whole.size() - 1}) {
    INFO("a whole stream cut after " << cut << " bytes");
    CHECK_THROWS_AS(rebuild_in_pieces(whole.substr(0, cut), 3, target.size()), ProtocolError);
  }
  CHECK_THROWS_WITH(rebuild_in_pieces(delta + "x", 1000, target.size() + 1, base), Catch::Contains("after its zstd frame"));
  CHECK_THROWS_WITH(rebuild_in_pieces(whole, 1000, target.size() - 1), Catch::Contains("limit"));
}

namespace {

// A frame of unknown size holding `data`, which declares the window it was compressed with.
std::string frame_with_window(const std::string& data, int window_log) {
  tarball::ZstdCCtx cctx(ZSTD_createCCtx());
  REQUIRE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, window_log)) == 0U);
  std::string frame(ZSTD_compressBound(data.size()) + 64, '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  ZSTD_outBuffer out{frame.data(), frame.size(), 0};
  // Fed before it is ended, so zstd cannot shrink the window to the input's size.
  REQUIRE(ZSTD_isError(ZSTD_compressStream2(cctx.get(), &out, &in, ZSTD_e_continue)) == 0U);
  REQUIRE(ZSTD_compressStream2(cctx.get(), &out, &in, ZSTD_e_end) == 0U);
  frame.resize(out.pos);
  return frame;
}

}  // namespace

TEST_CASE("a tiny frame asking for a huge window is refused, not allocated") {
  const std::string data(1000, 'x');
  const std::string frame = frame_with_window(data, 30);  // 1 GiB
  CHECK(tarball::zstd_decompress(frame_with_window(data, 27), data.size()) == data);
  CHECK_THROWS_WITH(tarball::zstd_decompress(frame, 1ull << 33), Catch::Contains("not valid zstd") && Catch::Contains("memory"));
  // A delta's frame must say what it holds, which bounds its window.
  std::string delta = {'\x5e', '\x2a', '\x4d', '\x18', 16, 0, 0, 0};
  delta += std::string(16, '\0');  // no prefix, no suffix
  CHECK_THROWS_WITH(tarball::apply_delta("base", delta + frame, 1ull << 33), Catch::Contains("does not say how many bytes"));
  CHECK_THROWS_WITH(tarball::apply_delta("base", delta + "garbage that is not a frame", 1ull << 33),
                    Catch::Contains("not a zstd frame"));
  // The smallest delta, of a tar to itself, is a frame shorter than the longest frame header.
  const std::string same = random_text(100'000, 9);
  const std::string nothing_changed = tarball::make_delta(same, same);
  CHECK(nothing_changed.size() < 24 + 18);
  CHECK(tarball::apply_delta(same, nothing_changed, same.size()) == same);
}

TEST_CASE("zstd_decompress reverses the tarball compressor and refuses garbage") {
  const std::string data = random_text(100'000, 4) + std::string(100'000, 'x');
  const std::string frame = tarball::zstd_compress(data);
  CHECK(tarball::zstd_decompress(frame, data.size()) == data);
  CHECK_THROWS_AS(tarball::zstd_decompress(frame, data.size() - 1), ProtocolError);
  CHECK_THROWS_AS(tarball::zstd_decompress("not zstd", 100), ProtocolError);
  CHECK_THROWS_WITH(tarball::zstd_decompress(frame.substr(0, frame.size() / 2), data.size()), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(tarball::zstd_decompress("", 10), Catch::Contains("truncated"));
}

TEST_CASE("the receiver's greeting and the payload header round-trip and reject hostile values") {
  transfer::ReceiveHello hello{false, {k_hash_a, k_hash_b}};
  CHECK(transfer::parse_receive_hello(transfer::to_line(hello)) == hello);
  transfer::PayloadHeader header{k_hash_a, 1234};
  CHECK(transfer::parse_payload_header(transfer::to_line(header), 1 << 20) == header);
  CHECK(transfer::parse_payload_header(transfer::to_line(transfer::PayloadHeader{"", 5}), 10).base.empty());

  CHECK_THROWS_WITH(transfer::parse_receive_hello(R"({"version":1,"have":false})"), Catch::Contains("same fleet version"));
  const std::string version = "{\"version\":" + std::to_string(protocol::k_protocol_version);
  CHECK_THROWS_WITH(transfer::parse_receive_hello(version + R"(,"have":false,"bases":["../x"]})"),
                    Catch::Contains("not a content hash"));
  CHECK_THROWS_WITH(transfer::parse_receive_hello(version + "}"), Catch::Contains("have"));
  CHECK_THROWS_WITH(transfer::parse_payload_header(R"({"bytes":11,"base":null})", 10), Catch::Contains("at most 10"));
  CHECK_THROWS_WITH(transfer::parse_payload_header(R"({"bytes":-1})", 10), Catch::Contains("bytes"));
  CHECK_THROWS_AS(transfer::parse_payload_header("garbage", 10), ProtocolError);
}

TEST_CASE("a sender sends a delta against the receiver's newest base it also has, else the whole tarball") {
  const std::string old_tar = random_text(1 << 20, 5);
  std::string new_tar = old_tar;
  new_tar.replace(5000, 100, random_text(100, 6));
  transfer::HeldSource source(std::string(64, 'c'), std::nullopt, tarball::zstd_compress(new_tar));
  int lookups = 0;
  auto lookup = [&](const std::string& hash) -> std::optional<std::string> {
    ++lookups;
    return hash == k_hash_b ? std::optional<std::string>(old_tar) : std::nullopt;
  };

  auto delta = transfer::choose_payload({false, {k_hash_a, k_hash_b}}, source, lookup);
  CHECK(delta.header.base == k_hash_b);
  CHECK(delta.header.bytes == delta.bytes.size());
  CHECK(tarball::apply_delta(old_tar, delta.bytes, new_tar.size()) == new_tar);

  auto whole = transfer::choose_payload({false, {k_hash_a}}, source, lookup);
  CHECK(whole.header.base.empty());
  CHECK(whole.bytes == source.compressed());

  SECTION("a delta that saves less than half is not worth it when the whole tarball is at hand") {
    auto unrelated = [&](const std::string&) { return std::optional<std::string>(random_text(1 << 20, 7)); };
    CHECK(transfer::choose_payload({false, {k_hash_a}}, source, unrelated).header.base.empty());
  }
  SECTION("the cache makes one payload per list of bases") {
    transfer::PayloadCache cache(transfer::HeldSource(std::string(64, 'c'), new_tar, std::nullopt), lookup);
    lookups = 0;
    auto first = cache.payload_for({false, {k_hash_b}});
    auto second = cache.payload_for({false, {k_hash_b}});
    CHECK(first == second);
    CHECK(lookups == 1);
    CHECK(first->header.base == k_hash_b);
  }
}

TEST_CASE("relay requests and outcomes round-trip and reject what must not reach a command line") {
  transfer::RelayRequest request{{{"location-1", "10.0.0.2", "root", 2222, "ssh-ed25519 AAAAC3Nza"}}, 60};
  CHECK(transfer::parse_relay_request(transfer::to_json(request)) == request);
  transfer::RelayOutcome outcome{"location-1", true, false, k_hash_a, 9000, 0.25, ""};
  CHECK(transfer::parse_relay_outcome(transfer::to_line(outcome)) == outcome);

  auto hostile = transfer::to_json(request);
  hostile["destinations"][0]["host"] = "-oProxyCommand=sh";
  CHECK_THROWS_WITH(transfer::parse_relay_request(hostile), Catch::Contains("unsafe value"));
  hostile = transfer::to_json(request);
  hostile["destinations"][0]["hostKey"] = "ssh-ed25519 A\nevil";
  CHECK_THROWS_WITH(transfer::parse_relay_request(hostile), Catch::Contains("one line"));
  hostile = transfer::to_json(request);
  hostile["destinations"][0]["port"] = 70000;
  CHECK_THROWS_WITH(transfer::parse_relay_request(hostile), Catch::Contains("out of range"));
  hostile = transfer::to_json(request);
  hostile["version"] = 1;
  CHECK_THROWS_WITH(transfer::parse_relay_request(hostile), Catch::Contains("same fleet version"));
  CHECK_THROWS_AS(transfer::parse_relay_outcome(R"({"to":"x"})"), ProtocolError);
}
