#include "upstream/serf/payload.hpp"

#include <cstdint>

namespace rig::serf::payload {
namespace {

// As rigagent's other JSON readers (rpc::DecodeLimits, laneswap::kMaxJsonDepth).
constexpr int kMaxJsonDepth = 64;

Error invalid(std::string message) { return Error{std::move(message), static_cast<int>(Errc::invalid_argument)}; }

// The length of the well-formed UTF-8 sequence at `at` (no overlongs, surrogates or code points
// past U+10FFFF), 0 if there is none; *cp gets the code point.
size_t sequence_at(std::string_view s, size_t at, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[at + k]); };
  const uint8_t c = b(0);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) n = 2, v = c & 0x1Fu, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, v = c & 0x0Fu, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, v = c & 0x07u, min = 0x10000;
  else return 0;
  if (s.size() - at < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3Fu);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

constexpr size_t kAllGood = std::string_view::npos;

size_t first_bad_byte(std::string_view s) {
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t n = sequence_at(s, i, &cp);
    if (n == 0) return i;
    i += n;
  }
  return kAllGood;
}

// Control characters, and the separators and bidirectional overrides that make text show up
// other than it is; tab and newline are fine.
bool shows_as_itself(uint32_t cp) {
  if (cp == '\t' || cp == '\n') return true;
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return false;
  if (cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) return false;
  return true;
}

// Objects and arrays open deeper than `limit`, counted outside strings: checked before nlohmann
// parses, so a hostile payload of nested brackets costs one pass and no recursion.
bool nests_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 4: syntax error
// while parsing value - invalid literal; last read: 'tru}'" without the prefix and the bytes
// read (which may be anything).
std::string parse_reason(const std::string& what) {
  std::string reason = what;
  if (const size_t col = reason.find(", column "); col != std::string::npos)
    if (const size_t colon = reason.find(": ", col); colon != std::string::npos) reason = reason.substr(colon + 2);
  if (const size_t last = reason.find("; last read"); last != std::string::npos) reason.resize(last);
  return reason;
}

}  // namespace

bool is_utf8(std::string_view bytes) { return first_bad_byte(bytes) == kAllGood; }

Expected<std::string> decode_utf8(const Bytes& bytes) {
  const size_t bad = first_bad_byte(bytes);
  if (bad == kAllGood) return bytes;
  static const char* hex = "0123456789abcdef";
  const auto b = static_cast<uint8_t>(bytes[bad]);
  return invalid("invalid UTF-8 at byte " + std::to_string(bad) + " (0x" + hex[b >> 4] + hex[b & 15] + ")");
}

Bytes encode_json(const nlohmann::json& value) {
  // `replace`: a string holding invalid UTF-8 comes out with U+FFFD instead of throwing.
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Expected<nlohmann::json> decode_json(const Bytes& bytes) {
  if (nests_deeper_than(bytes, kMaxJsonDepth))
    return invalid("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::parse_error& e) {
    const size_t at = e.byte > 0 ? e.byte - 1 : 0;
    return invalid("invalid JSON at byte " + std::to_string(at) + ": " + parse_reason(e.what()));
  } catch (const nlohmann::json::out_of_range&) {
    return invalid("invalid JSON: a number is out of range");  // 1e400: no double holds it
  } catch (const std::exception& e) {
    return invalid(std::string("invalid JSON: ") + e.what());
  }
}

std::string printable(const Bytes& bytes) {
  bool text = true;
  uint32_t cp;
  for (size_t i = 0; i < bytes.size() && text;) {
    const size_t n = sequence_at(bytes, i, &cp);
    text = n > 0 && shows_as_itself(cp);
    i += n;
  }
  if (text) return bytes;
  static const char* hex = "0123456789abcdef";
  std::string out = "0x";
  out.reserve(2 + 2 * bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace rig::serf::payload
