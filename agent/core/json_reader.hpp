// Strict reading of JSON documents written by people (configuration, board files): every error
// names the key path, unknown keys get a "did you mean", and all errors are collected at once.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/expected.hpp"

namespace rig {

// Parses JSON with comments; the error names `source` and says where the text went wrong.
Expected<nlohmann::ordered_json> parse_json_document(std::string_view text, std::string_view source);
// Reads a whole file of at most max_bytes.
Expected<std::string> read_text_file(const std::string& path, size_t max_bytes, std::string_view what);

const char* json_type_name(const nlohmann::ordered_json& v);

// Reads one JSON object against the keys the code asks for; whatever it was not asked for is
// reported as unknown by finish(), with the nearest known key as a suggestion.
class JsonReader {
 public:
  using json = nlohmann::ordered_json;
  JsonReader(const json* obj, std::string path, std::vector<std::string>& errors)
      : obj_(obj), path_(std::move(path)), errors_(errors) {}

  bool has(const char* key) const { return obj_ && obj_->contains(key); }
  void string(const char* key, std::string& out, bool allow_empty = true);
  void boolean(const char* key, bool& out);
  void number(const char* key, double& out, double min, double max);
  void integer(const char* key, int64_t& out, int64_t min, int64_t max);
  // One of a fixed set of names; the error lists them.
  void choice(const char* key, std::string& out, std::initializer_list<const char*> allowed);
  void endpoint(const char* key, std::string& out);
  void endpoints(const char* key, std::vector<std::string>& out);
  // Any value, for the caller to check (marks the key as known); nullptr when absent.
  const json* raw(const char* key);
  // A nested section; absent means "all defaults".
  JsonReader section(const char* key);
  // The path of a key, for the caller's own messages.
  std::string join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  void fail(const std::string& key, const std::string& why) { errors_.push_back(join(key) + ": " + why); }
  void finish();

 private:
  const json* take(const char* key);

  const json* obj_;
  std::string path_;
  std::vector<std::string>& errors_;
  std::set<std::string> seen_;
  std::vector<std::string> known_;
};

// "SOURCE: invalid WHAT\n  error\n  error" when there are errors.
Expected<void> collected_errors(const std::vector<std::string>& errors, std::string_view source, std::string_view what);

}  // namespace rig
