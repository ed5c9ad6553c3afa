// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::coordinator {

// Throws ConfigError with the one message shape every fleet.json problem uses:
// "<file>: <path>: <problem>; <fix>" (the path part is left out when empty).
[[noreturn]] void fail_config(const std::string& file, const std::string& path, const std::string& problem,
                              const std::string& fix);

// Describes a JSON value for an error message: "the string \"22\"", "the number 22", "an array", "null"...
std::string describe_json(const nlohmann::json& value);

// The candidate closest to `word` by case-insensitive edit distance, when it is close enough to be a
// plausible typo; std::nullopt otherwise.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

// "a, b, c" (at most `limit` items, then ", …").
std::string join_names(const std::vector<std::string>& names, std::size_t limit = 12);

// "nodes.pi1" + "build" → "nodes.pi1.build"; a key holding a dot is bracketed: nodes["web.1"].
std::string json_path(const std::string& parent, const std::string& key);

// `path` after following symlinks of its existing part, absolute and without "." or "..".
std::filesystem::path resolved_path(const std::filesystem::path& path);

// True when `path` lies strictly inside `dir` (both lexically normal).
bool is_inside(const std::filesystem::path& path, const std::filesystem::path& dir);

// Typed, path-aware access to one JSON object of fleet.json. Construction checks that the value is an
// object and that it holds only `known` keys (suggesting the closest one otherwise); every getter
// checks the type and throws a ConfigError naming file, path, expected and actual type.
class ObjectReader {
public:
  ObjectReader(std::string file, const nlohmann::json& value, std::string path, std::vector<std::string> known);

  // The path of `key` inside this object, e.g. "nodes.pi1.port".
  std::string path(const std::string& key) const { return json_path(m_path, key); }
  const std::string& path() const { return m_path; }
  const std::string& file() const { return m_file; }
  bool has(const std::string& key) const;

  // Each returns std::nullopt when the key is absent and throws ConfigError when it has another type.
  std::optional<std::string> string(const std::string& key) const;
  std::optional<long long> integer(const std::string& key) const;
  std::optional<double> number(const std::string& key) const;
  std::optional<bool> boolean(const std::string& key) const;
  std::optional<std::vector<std::string>> strings(const std::string& key) const;
  // The value as an object (nullptr when absent); throws when it is not an object.
  const nlohmann::json* object(const std::string& key) const;
  // The value as an array (nullptr when absent); throws when it is not an array.
  const nlohmann::json* array(const std::string& key) const;

  // Like string(), but the key must be present: throws "missing required key" otherwise.
  std::string required_string(const std::string& key, const std::string& example) const;

  // Throws ConfigError about `key` of this object.
  [[noreturn]] void fail(const std::string& key, const std::string& problem, const std::string& fix) const;

private:
  [[noreturn]] void wrong_type(const std::string& key, const std::string& expected, const std::string& fix) const;

  std::string m_file;
  const nlohmann::json& m_value;
  std::string m_path;
};

}  // namespace fleet::coordinator
