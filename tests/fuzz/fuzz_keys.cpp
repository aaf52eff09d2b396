// camelize_keys() on parsed JSON (rpcservice.md §8): keys only, values never change.
//  * every array keeps its length and order, every scalar its type and value;
//  * every object has exactly one member per distinct camelised key, in first-seen order, holding
//    the camelised value of the LAST input member with that camelised key (operator[] semantics:
//    `{"a_b":1,"aB":2}` becomes `{"aB":2}` — see the report on key collisions);
//  * camelize() leaves keys without '_' alone, and camelize(snakeize(k)) == k for camelCase k;
//  * find_arg() finds every member of an object under its own name;
//  * encode_event() carries the same camelised context and is valid JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"
#include "rpc/codec.hpp"

namespace {

using rig::json;

bool is_camel_identifier(const std::string& k) {
  if (k.empty() || !(k[0] >= 'a' && k[0] <= 'z')) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

void check_key(const std::string& k) {
  const std::string c = rig::camelize(k);
  FUZZ_CHECK(c.size() <= k.size());
  if (k.find('_') == std::string::npos) FUZZ_CHECK(c == k);
  if (is_camel_identifier(k)) FUZZ_CHECK(rig::camelize(rig::snakeize(k)) == k);
}

void check_same(const json& in, const json& out) {
  if (in.is_object()) {
    FUZZ_CHECK(out.is_object());
    // The model: camelised keys in first-seen order, each with its last value.
    std::vector<std::pair<std::string, const json*>> expected;
    std::unordered_map<std::string, size_t> index;
    for (auto it = in.begin(); it != in.end(); ++it) {
      check_key(it.key());
      FUZZ_CHECK(rig::find_arg(in, it.key()) == &it.value());
      std::string ck = rig::camelize(it.key());
      auto [slot, fresh] = index.emplace(ck, expected.size());
      if (fresh)
        expected.emplace_back(std::move(ck), &it.value());
      else
        expected[slot->second].second = &it.value();
    }
    FUZZ_CHECK(out.size() == expected.size());
    size_t i = 0;
    for (auto it = out.begin(); it != out.end(); ++it, ++i) {
      FUZZ_CHECK(it.key() == expected[i].first);
      check_same(*expected[i].second, it.value());
    }
    return;
  }
  if (in.is_array()) {
    FUZZ_CHECK(out.is_array());
    FUZZ_CHECK(out.size() == in.size());
    for (size_t i = 0; i < in.size(); ++i) check_same(in[i], out[i]);
    return;
  }
  FUZZ_CHECK(in.type() == out.type());
  FUZZ_CHECK(in == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);

  // Any bytes as a key: camelize/snakeize never crash, and the key rules above hold.
  if (size <= 256) {
    check_key(std::string(text));
    (void)rig::snakeize(text);
  }

  auto parsed = rig::rpc::parse_limited(text, rig::rpc::DecodeLimits{});
  if (!parsed) return 0;
  const json& doc = *parsed;
  const json out = rig::camelize_keys(doc);
  check_same(doc, out);

  const std::string ev = rig::rpc::encode_event(1321, 1.5, 7, doc);
  FUZZ_CHECK(fuzz::valid_utf8(ev));
  json e = json::parse(ev, nullptr, false);
  FUZZ_CHECK(e.is_object() && e.size() == 4);
  FUZZ_CHECK(e["kind"] == 1321 && e["index"] == 7 && e["when"] == 1.5);
  FUZZ_CHECK(e["context"] == out);
  return 0;
}
