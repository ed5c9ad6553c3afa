// SPDX-License-Identifier: MIT
#include "coordinator/config/config_reader.hpp"

#include "uploader/base/error.hpp"

#include <algorithm>
#include <cctype>
#include <climits>

namespace fleet::coordinator {

using nlohmann::json;

void fail_config(const std::string& file, const std::string& path, const std::string& problem,
                 const std::string& fix) {
  std::string message = file + ": ";
  if (!path.empty()) {
    message += path + ": ";
  }
  message += problem;
  if (!fix.empty()) {
    message += "; " + fix;
  }
  throw ConfigError(message);
}

std::string describe_json(const json& value) {
  switch (value.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return value.get<bool>() ? "true" : "false";
  case json::value_t::string:
    return "the string " + value.dump();
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
  case json::value_t::number_float:
    return "the number " + value.dump();
  case json::value_t::array:
    return "an array";
  case json::value_t::object:
    return "an object";
  default:
    return "a " + std::string(value.type_name());
  }
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool is_integral_text(const std::string& text) {
  return !text.empty() && text.size() < 10 && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
}

}  // namespace

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (const auto& candidate : candidates) {
    std::size_t distance = edit_distance(word, candidate);
    if (!best || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  // A third of the word may be wrong (at least 2 edits), which catches typos and case slips
  // without proposing unrelated keys.
  std::size_t allowed = std::max<std::size_t>(2, word.size() / 3);
  if (best && best_distance <= allowed) {
    return best;
  }
  return std::nullopt;
}

std::string join_names(const std::vector<std::string>& names, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) {
    out += (i == 0 ? "" : ", ") + names[i];
  }
  if (names.size() > limit) {
    out += ", …";
  }
  return out;
}

std::string json_path(const std::string& parent, const std::string& key) {
  if (key.find('.') != std::string::npos) {
    return parent + "[" + json(key).dump() + "]";
  }
  return parent.empty() ? key : parent + "." + key;
}

std::filesystem::path resolved_path(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::path result = std::filesystem::weakly_canonical(path, error);
  return error ? path.lexically_normal() : result;
}

bool is_inside(const std::filesystem::path& path, const std::filesystem::path& dir) {
  std::filesystem::path relative = path.lexically_relative(dir);
  return !relative.empty() && *relative.begin() != "..";
}

ObjectReader::ObjectReader(std::string file, const json& value, std::string path, std::vector<std::string> known)
    : m_file(std::move(file)), m_value(value), m_path(std::move(path)) {
  if (!m_value.is_object()) {
    fail_config(m_file, m_path.empty() ? "top level" : m_path, "expected an object, got " + describe_json(m_value),
                "write it as { \"key\": value, … }");
  }
  for (const auto& [key, unused] : m_value.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) {
      continue;
    }
    if (auto suggestion = closest_match(key, known)) {
      fail(key, "unknown key '" + key + "'", "did you mean '" + *suggestion + "'?");
    }
    std::sort(known.begin(), known.end());
    fail(key, "unknown key '" + key + "'", "known keys here are " + join_names(known, known.size()));
  }
}

bool ObjectReader::has(const std::string& key) const { return m_value.contains(key); }

void ObjectReader::fail(const std::string& key, const std::string& problem, const std::string& fix) const {
  fail_config(m_file, path(key), problem, fix);
}

void ObjectReader::wrong_type(const std::string& key, const std::string& expected, const std::string& fix) const {
  fail(key, "expected " + expected + ", got " + describe_json(m_value.at(key)), fix);
}

std::optional<std::string> ObjectReader::string(const std::string& key) const {
  if (!has(key)) {
    return std::nullopt;
  }
  const json& value = m_value.at(key);
  if (!value.is_string()) {
    wrong_type(key, "a string", "put the value in double quotes");
  }
  return value.get<std::string>();
}

std::optional<long long> ObjectReader::integer(const std::string& key) const {
  if (!has(key)) {
    return std::nullopt;
  }
  const json& value = m_value.at(key);
  if (value.is_string() && is_integral_text(value.get<std::string>())) {
    wrong_type(key, "an integer", "write " + value.get<std::string>() + " without quotes");
  }
  if (!value.is_number_integer() && !value.is_number_unsigned()) {
    wrong_type(key, "an integer", "write a whole number without quotes");
  }
  if (value.is_number_unsigned() && value.get<unsigned long long>() > static_cast<unsigned long long>(INT_MAX)) {
    fail(key, value.dump() + " is out of range", "use a smaller number");
  }
  return value.get<long long>();
}

std::optional<double> ObjectReader::number(const std::string& key) const {
  if (!has(key)) {
    return std::nullopt;
  }
  const json& value = m_value.at(key);
  if (!value.is_number()) {
    wrong_type(key, "a number", "write a number without quotes");
  }
  return value.get<double>();
}

std::optional<bool> ObjectReader::boolean(const std::string& key) const {
  if (!has(key)) {
    return std::nullopt;
  }
  const json& value = m_value.at(key);
  if (!value.is_boolean()) {
    wrong_type(key, "true or false", "write true or false without quotes");
  }
  return value.get<bool>();
}

std::optional<std::vector<std::string>> ObjectReader::strings(const std::string& key) const {
  const json* list = array(key);
  if (list == nullptr) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    if (!item.is_string()) {
      fail_config(m_file, path(key) + "[" + std::to_string(i) + "]", "expected a string, got " + describe_json(item),
                  "put the value in double quotes");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

const json* ObjectReader::object(const std::string& key) const {
  if (!has(key)) {
    return nullptr;
  }
  const json& value = m_value.at(key);
  if (!value.is_object()) {
    wrong_type(key, "an object", "write it as { \"key\": value, … }");
  }
  return &value;
}

const json* ObjectReader::array(const std::string& key) const {
  if (!has(key)) {
    return nullptr;
  }
  const json& value = m_value.at(key);
  if (!value.is_array()) {
    wrong_type(key, "an array", "write it as a list: [ … ]");
  }
  return &value;
}

std::string ObjectReader::required_string(const std::string& key, const std::string& example) const {
  auto value = string(key);
  if (!value) {
    fail(key, "missing required key '" + key + "'", "add \"" + key + "\": " + example);
  }
  return *value;
}

}  // namespace fleet::coordinator
