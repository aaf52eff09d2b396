// A port of the syntax side of Go's regexp/syntax parser (Go 1.19, which built Debian's serf
// 0.9.4), run over a skeleton tree: it keeps what decides validity (the parse stack with its
// "(" and "|" markers, which operator came last, the nested repeat counts) and upper bounds of
// the tree height and compiled size Go limits, and drops the characters themselves. Calibrated
// against the real agent by tests/support/serf_regex_oracle.py (see tests/unit/test_serf_regex.cpp).
//
// Where it refuses what Go would take, it does so on purpose:
//   * patterns over kMaxPatternBytes (Go also limits the runes of all character classes
//     together; below this length that limit cannot be reached);
//   * trees whose estimated height or size passes limits well below Go's (1000 levels,
//     3,355,443 instructions): the estimates count the factoring Go does to alternations
//     generously, so they are upper bounds, not Go's exact numbers;
//   * \p{Name} names outside Unicode 13's categories and scripts (newer Go knows more).
#include "upstream/serf/regex_check.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "upstream/serf/payload.hpp"
#include "upstream/serf/types.hpp"

namespace rig::serf {
namespace {

constexpr size_t kMaxPatternBytes = 4096;
constexpr int kMaxHeight = 500;        // Go: 1000, on a tree our estimate bounds from above
constexpr int64_t kMaxSize = 1000000;  // Go: 3,355,443
constexpr int kMaxRepeat = 1000;       // Go's maxRepeat: one count, and nested counts multiplied

// unicode.Categories and unicode.Scripts of Go 1.19 (Unicode 13), plus "Any"; each was checked
// against the agent. Go looks names up exactly: \p{greek} and \p{Letter} are errors there.
constexpr std::array<std::string_view, 37> kCategories = {
    "Any", "C",  "Cc", "Cf", "Co", "Cs", "L",  "Ll", "Lm", "Lo", "Lt", "Lu", "M",
    "Mc",  "Me", "Mn", "N",  "Nd", "Nl", "No", "P",  "Pc", "Pd", "Pe", "Pf", "Pi",
    "Po",  "Ps", "S",  "Sc", "Sk", "Sm", "So", "Z",  "Zl", "Zp", "Zs"};
constexpr std::array<std::string_view, 156> kScripts = {
    "Adlam", "Ahom", "Anatolian_Hieroglyphs", "Arabic", "Armenian", "Avestan", "Balinese", "Bamum",
    "Bassa_Vah", "Batak", "Bengali", "Bhaiksuki", "Bopomofo", "Brahmi", "Braille", "Buginese", "Buhid",
    "Canadian_Aboriginal", "Carian", "Caucasian_Albanian", "Chakma", "Cham", "Cherokee", "Chorasmian",
    "Common", "Coptic", "Cuneiform", "Cypriot", "Cyrillic", "Deseret", "Devanagari", "Dives_Akuru", "Dogra",
    "Duployan", "Egyptian_Hieroglyphs", "Elbasan", "Elymaic", "Ethiopic", "Georgian", "Glagolitic", "Gothic",
    "Grantha", "Greek", "Gujarati", "Gunjala_Gondi", "Gurmukhi", "Han", "Hangul", "Hanifi_Rohingya",
    "Hanunoo", "Hatran", "Hebrew", "Hiragana", "Imperial_Aramaic", "Inherited", "Inscriptional_Pahlavi",
    "Inscriptional_Parthian", "Javanese", "Kaithi", "Kannada", "Katakana", "Kayah_Li", "Kharoshthi",
    "Khitan_Small_Script", "Khmer", "Khojki", "Khudawadi", "Lao", "Latin", "Lepcha", "Limbu", "Linear_A",
    "Linear_B", "Lisu", "Lycian", "Lydian", "Mahajani", "Makasar", "Malayalam", "Mandaic", "Manichaean",
    "Marchen", "Masaram_Gondi", "Medefaidrin", "Meetei_Mayek", "Mende_Kikakui", "Meroitic_Cursive",
    "Meroitic_Hieroglyphs", "Miao", "Modi", "Mongolian", "Mro", "Multani", "Myanmar", "Nabataean",
    "Nandinagari", "New_Tai_Lue", "Newa", "Nko", "Nushu", "Nyiakeng_Puachue_Hmong", "Ogham", "Ol_Chiki",
    "Old_Hungarian", "Old_Italic", "Old_North_Arabian", "Old_Permic", "Old_Persian", "Old_Sogdian",
    "Old_South_Arabian", "Old_Turkic", "Oriya", "Osage", "Osmanya", "Pahawh_Hmong", "Palmyrene",
    "Pau_Cin_Hau", "Phags_Pa", "Phoenician", "Psalter_Pahlavi", "Rejang", "Runic", "Samaritan",
    "Saurashtra", "Sharada", "Shavian", "Siddham", "SignWriting", "Sinhala", "Sogdian", "Sora_Sompeng",
    "Soyombo", "Sundanese", "Syloti_Nagri", "Syriac", "Tagalog", "Tagbanwa", "Tai_Le", "Tai_Tham",
    "Tai_Viet", "Takri", "Tamil", "Tangut", "Telugu", "Thaana", "Thai", "Tibetan", "Tifinagh", "Tirhuta",
    "Ugaritic", "Vai", "Wancho", "Warang_Citi", "Yezidi", "Yi", "Zanabazar_Square"};
constexpr std::array<std::string_view, 14> kPosixClasses = {"alnum", "alpha", "ascii", "blank", "cntrl",
                                                            "digit", "graph", "lower", "print", "punct",
                                                            "space", "upper", "word",  "xdigit"};

bool known_unicode_class(std::string_view name) {
  return std::find(kCategories.begin(), kCategories.end(), name) != kCategories.end() ||
         std::find(kScripts.begin(), kScripts.end(), name) != kScripts.end();
}

bool known_posix_class(std::string_view name) {  // "[:alpha:]" or "[:^alpha:]"
  name = name.substr(2, name.size() - 4);
  if (!name.empty() && name[0] == '^') name.remove_prefix(1);
  return std::find(kPosixClasses.begin(), kPosixClasses.end(), name) != kPosixClasses.end();
}

bool is_alnum(uint32_t c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

int unhex(uint32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return -1;
}

// The code point at `at` of text known to be UTF-8, and its length.
uint32_t decode(std::string_view s, size_t at, size_t* len) {
  const auto c = static_cast<uint8_t>(s[at]);
  *len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  uint32_t v = *len == 1 ? c : *len == 2 ? c & 0x1Fu : *len == 3 ? c & 0x0Fu : c & 0x07u;
  for (size_t k = 1; k < *len; ++k) v = (v << 6) | (static_cast<uint8_t>(s[at + k]) & 0x3Fu);
  return v;
}

// For messages: the pattern's text (UTF-8 by then), controls as \xNN, cut after 40 bytes.
std::string shown(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  size_t n = std::min<size_t>(s.size(), 40);
  while (n < s.size() && n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x20 || c == 0x7F) out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    else out += static_cast<char>(c);
  }
  if (s.size() > n) out += "...";
  return out;
}

struct Node {
  enum Op : uint8_t {
    leaf,          // a literal, class, ., ^, $, \b, ...: no subexpressions
    empty_match,   // what an empty concatenation becomes
    capture,
    star,
    plus,
    quest,
    repeat,  // x{n,m}
    concat,
    alternate,
    left_paren,    // pseudo: an open group on the parse stack
    vertical_bar,  // pseudo: the alternatives below it on the parse stack
  } op = leaf;
  bool capturing = false;  // left_paren
  size_t pos = 0;          // left_paren: where the group opened
  int height = 1;          // bounds Go's height of this subtree
  int64_t size = 1;        // bounds Go's compiled size (Go's calcSize)
  int64_t counts = 1;      // the largest product of nested repeat counts, as Go's repeatIsValid
  int64_t pieces = 1;      // the most leading pieces Go's alternation factoring can strip
  std::vector<uint32_t> subs;  // concat and alternate: for flattening as Go's collapse does
};

int64_t saturated(int64_t v) { return std::min<int64_t>(v, int64_t{1} << 40); }

class Checker {
 public:
  explicit Checker(std::string_view p) : p_(p) {}

  Expected<void> run() {
    if (p_.size() > kMaxPatternBytes)
      return fail("the pattern is " + std::to_string(p_.size()) + " bytes; patterns of up to " +
                  std::to_string(kMaxPatternBytes) + " bytes are checked and sent");
    if (auto text = payload::decode_utf8(Bytes(p_)); !text) return fail(text.error().message);
    if (!parse()) return *error_;
    return {};
  }

 private:
  Error fail(std::string message) {
    error_ = Error{std::move(message), static_cast<int>(Errc::invalid_argument)};
    return *error_;
  }
  // "WHAT "CONSTRUCT" at byte N: HINT", the construct being the pattern's bytes [from, to).
  bool bad(const std::string& what, size_t from, size_t to, const std::string& hint = {}) {
    fail(what + " \"" + shown(p_.substr(from, to - from)) + "\" at byte " + std::to_string(from) +
                   (hint.empty() ? "" : ": " + hint));
    return false;
  }

  uint32_t rune_at(size_t i, size_t* len) const { return decode(p_, i, len); }  // run() checked the UTF-8

  // --- the parse stack (Go's push, concat, alternate, swapVerticalBar) ---

  uint32_t add(Node n) {
    nodes_.push_back(std::move(n));
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  bool pseudo(uint32_t id) const { return nodes_[id].op >= Node::left_paren; }

  bool push(uint32_t id, size_t at) {
    stack_.push_back(id);
    const Node& n = nodes_[id];
    if (n.height > kMaxHeight) {
      fail("the expression nests too deeply (at byte " + std::to_string(at) + "): Go refuses trees over 1000 levels" +
           " and this check counts generously, stopping at " + std::to_string(kMaxHeight));
      return false;
    }
    if (n.size > kMaxSize) {
      fail("the expression is too large (at byte " + std::to_string(at) + "): it would compile to more than " +
           std::to_string(kMaxSize) + " instructions");
      return false;
    }
    return true;
  }
  bool leaf(size_t at) { return push(add(Node{}), at); }

  // The top of the stack above the topmost pseudo-op, collapsed into op (hoisting nested ops of
  // the same kind, as Go does); a single item stays itself.
  uint32_t collapse(std::vector<uint32_t> items, Node::Op op) {
    if (items.size() == 1) return items[0];
    Node n;
    n.op = op;
    for (uint32_t id : items) {
      if (nodes_[id].op == op) n.subs.insert(n.subs.end(), nodes_[id].subs.begin(), nodes_[id].subs.end());
      else n.subs.push_back(id);
    }
    int h = 0;
    int64_t size = 0, counts = 1, pieces = 0;
    for (uint32_t id : n.subs) {
      const Node& s = nodes_[id];
      h = std::max(h, s.height);
      size = saturated(size + s.size);
      counts = std::max(counts, s.counts);
      pieces = op == Node::concat ? saturated(pieces + s.pieces) : std::max(pieces, s.pieces);
    }
    n.counts = counts;
    n.pieces = pieces;
    if (op == Node::alternate) {
      // Go factors common leading pieces out of alternatives, two levels (a concatenation and
      // an alternation) per piece stripped: a|ab|abc|... nests deeper than it looks.
      n.height = static_cast<int>(std::min<int64_t>(1 + h + 2 * pieces, kMaxHeight + 1));
      n.size = saturated(size + static_cast<int64_t>(n.subs.size()) - 1);
    } else {
      n.height = 1 + h;
      n.size = size;
    }
    return add(std::move(n));
  }

  std::vector<uint32_t> pop_above_pseudo() {
    size_t i = stack_.size();
    while (i > 0 && !pseudo(stack_[i - 1])) --i;
    std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(i), stack_.end());
    stack_.resize(i);
    return items;
  }

  bool concat(size_t at) {
    auto items = pop_above_pseudo();
    if (items.empty()) {
      Node n;
      n.op = Node::empty_match;
      return push(add(n), at);
    }
    return push(collapse(std::move(items), Node::concat), at);
  }

  bool alternate(size_t at) {
    auto items = pop_above_pseudo();
    if (items.empty()) return leaf(at);  // Go's OpNoMatch; cannot happen after concat()
    return push(collapse(std::move(items), Node::alternate), at);
  }

  bool swap_vertical_bar() {
    const size_t n = stack_.size();
    if (n >= 2 && nodes_[stack_[n - 2]].op == Node::vertical_bar) {
      std::swap(stack_[n - 1], stack_[n - 2]);
      return true;
    }
    return false;
  }

  // --- the main loop (Go's parse) ---

  bool parse() {
    std::optional<size_t> last_repeat;  // where the previous repetition operator began
    size_t i = 0;
    while (i < p_.size()) {
      std::optional<size_t> repeat;
      const char c = p_[i];
      switch (c) {
        case '(':
          if (i + 1 < p_.size() && p_[i + 1] == '?') {
            if (!perl_flags(i)) return false;
          } else {
            if (!open_group(i, true)) return false;
            ++i;
          }
          break;
        case '|':
          if (!concat(i)) return false;
          if (!swap_vertical_bar()) {
            Node n;
            n.op = Node::vertical_bar;
            if (!push(add(n), i)) return false;
          }
          ++i;
          break;
        case ')':
          if (!right_paren(i)) return false;
          ++i;
          break;
        case '^':
        case '$':
        case '.':
          if (!leaf(i)) return false;
          ++i;
          break;
        case '[':
          if (!char_class(i)) return false;
          break;
        case '*':
        case '+':
        case '?': {
          const Node::Op op = c == '*' ? Node::star : c == '+' ? Node::plus : Node::quest;
          size_t after = i + 1;
          if (!apply_repeat(op, 0, 0, i, after, last_repeat)) return false;
          repeat = i;
          i = after;
          break;
        }
        case '{': {
          int min = 0, max = 0;
          size_t after = 0;
          if (!parse_repeat(i, &min, &max, &after)) {  // not a repeat: a literal {
            if (!leaf(i)) return false;
            ++i;
            break;
          }
          if (min < 0 || min > kMaxRepeat || max > kMaxRepeat || (max >= 0 && min > max))
            return bad("invalid repeat count", i, after,
                       "counts go up to " + std::to_string(kMaxRepeat) + ", and {n,m} needs n <= m");
          if (!apply_repeat(Node::repeat, min, max, i, after, last_repeat)) return false;
          repeat = i;
          i = after;
          break;
        }
        case '\\':
          if (!escape(i)) return false;
          break;
        default: {
          size_t len;
          rune_at(i, &len);
          if (!leaf(i)) return false;
          i += len;
        }
      }
      last_repeat = repeat;
    }
    if (!concat(i)) return false;
    if (swap_vertical_bar()) stack_.pop_back();
    if (!alternate(i)) return false;
    if (stack_.size() != 1) {
      size_t open = 0;
      for (uint32_t id : stack_)
        if (nodes_[id].op == Node::left_paren) open = nodes_[id].pos;
      return bad("missing closing ) for", open, open + 1);
    }
    return true;
  }

  // Go's repeat: `after` moves past a lazy `?`. A repetition right after another is an error
  // (a**, a{2}{3}); one with nothing to repeat too (*a, a|*, (*)).
  bool apply_repeat(Node::Op op, int min, int max, size_t before, size_t& after, std::optional<size_t> last_repeat) {
    if (after < p_.size() && p_[after] == '?') ++after;
    if (last_repeat)
      return bad("invalid nested repetition operator", *last_repeat, after,
                 "repeat a group instead, as in (?:a*)*; RE2 has no possessive quantifiers");
    if (stack_.empty() || pseudo(stack_.back()))
      return bad("missing argument to repetition operator", before, after);
    const Node& sub = nodes_[stack_.back()];
    Node n;
    n.op = op;
    n.height = sub.height + 1;
    n.counts = sub.counts;
    if (op == Node::star) n.size = 2 + sub.size;
    else if (op == Node::plus || op == Node::quest) n.size = 1 + sub.size;
    else {
      // Go's calcSize, and repeatIsValid: the counts of nested x{n,m} multiply (m, or n when
      // there is no m; an x{0} ends the walk).
      if (max == -1) n.size = min == 0 ? 2 + sub.size : 1 + saturated(int64_t{min} * sub.size);
      else n.size = saturated(int64_t{max} * sub.size) + (max - min);
      const int m = max == -1 ? min : max;
      if (max == 0) n.counts = 1;
      else if (m > 0) n.counts = saturated(int64_t{m} * sub.counts);
    }
    n.size = std::max<int64_t>(1, saturated(n.size));
    if (op == Node::repeat && (min >= 2 || max >= 2) && n.counts > kMaxRepeat)
      return bad("invalid repeat count", before, after,
                 "nested repetitions multiply to more than " + std::to_string(kMaxRepeat));
    stack_.pop_back();
    return push(add(n), before);
  }

  // Go's parseRepeat: {n}, {n,} or {n,m}; anything else (a{, a{,5}, a{01}) is not a repeat.
  // Numbers too big to hold come back as min = -1.
  bool parse_repeat(size_t i, int* min, int* max, size_t* after) const {
    size_t t = i + 1;
    if (!parse_int(t, min)) return false;
    if (t >= p_.size()) return false;
    if (p_[t] != ',') {
      *max = *min;
    } else {
      ++t;
      if (t >= p_.size()) return false;
      if (p_[t] == '}') {
        *max = -1;
      } else {
        if (!parse_int(t, max)) return false;
        if (*max < 0) *min = -1;
      }
    }
    if (t >= p_.size() || p_[t] != '}') return false;
    *after = t + 1;
    return true;
  }

  bool parse_int(size_t& t, int* n) const {
    const auto digit = [&](size_t k) { return k < p_.size() && p_[k] >= '0' && p_[k] <= '9'; };
    if (!digit(t)) return false;
    if (p_[t] == '0' && digit(t + 1)) return false;  // no leading zeros
    *n = 0;
    for (; digit(t); ++t) {
      if (*n >= 100000000) *n = -1;
      if (*n >= 0) *n = *n * 10 + (p_[t] - '0');
    }
    return true;
  }

  bool open_group(size_t at, bool capturing) {
    Node n;
    n.op = Node::left_paren;
    n.capturing = capturing;
    n.pos = at;
    return push(add(n), at);
  }

  bool right_paren(size_t at) {
    if (!concat(at)) return false;
    if (swap_vertical_bar()) stack_.pop_back();
    if (!alternate(at)) return false;
    const size_t n = stack_.size();
    if (n < 2 || nodes_[stack_[n - 2]].op != Node::left_paren) return bad("unexpected", at, at + 1, "no group is open");
    const uint32_t inner = stack_[n - 1];
    const bool capturing = nodes_[stack_[n - 2]].capturing;
    stack_.resize(n - 2);
    if (!capturing) return push(inner, at);
    const Node& sub = nodes_[inner];
    Node g;
    g.op = Node::capture;
    g.height = sub.height + 1;
    g.size = saturated(2 + sub.size);
    g.counts = sub.counts;
    return push(add(g), at);
  }

  // Go's parsePerlFlags: (?P<name>, (?flags), (?flags: with flags i, m, s, U and one `-`.
  bool perl_flags(size_t& i) {
    const std::string_view t = p_.substr(i);
    if (t.size() > 4 && t[2] == 'P' && t[3] == '<') {
      const size_t end = t.find('>');
      if (end == std::string_view::npos)
        return bad("invalid named capture", i, i + 4, "the name has no closing >");
      const std::string_view name = t.substr(4, end - 4);
      const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        return ch == '_' || is_alnum(static_cast<uint8_t>(ch));
      });
      if (!ok) return bad("invalid named capture", i, i + end + 1, "a name is letters, digits and _");
      if (!open_group(i, true)) return false;
      i += end + 1;
      return true;
    }
    size_t j = i + 2;
    int sign = +1;
    bool saw_flag = false;
    while (j < p_.size()) {
      size_t len;
      const uint32_t c = rune_at(j, &len);
      j += len;
      switch (c) {
        case 'i':
        case 'm':
        case 's':
        case 'U':
          saw_flag = true;
          continue;
        case '-':
          if (sign < 0) break;
          sign = -1;
          saw_flag = false;
          continue;
        case ':':
        case ')':
          if (sign < 0 && !saw_flag) break;
          if (c == ':' && !open_group(i, false)) return false;
          i = j;
          return true;
        default:
          break;
      }
      break;
    }
    return bad("invalid or unsupported Perl syntax", i, j, perl_hint(i + 2, j));
  }

  std::string perl_hint(size_t from, size_t to) const {
    const std::string_view t = p_.substr(from);
    const auto starts = [&](std::string_view s) { return t.substr(0, s.size()) == s; };
    const std::string no = "RE2 (Go regexp, which Serf uses) does not support ";
    if (starts("=") || starts("!")) return no + "lookahead";
    if (starts("<=") || starts("<!")) return no + "lookbehind";
    if (starts("<") || starts("'")) return "write a named group as (?P<name>...)";
    if (starts(">")) return no + "atomic groups";
    if (starts("#")) return no + "comments";
    if (starts("P=") || starts("P>") || starts("&") || starts("R") || (!t.empty() && t[0] >= '0' && t[0] <= '9') ||
        starts("+"))
      return no + "backreferences or recursion";
    if (to >= p_.size() && (to == from || p_[to - 1] != ')')) return "the group is not closed";
    return "flags are i, m, s and U, with at most one -, as in (?i) or (?i-s:...)";
  }

  // The escapes of Go's main loop: \A \b \B \z \Q...\E \pN \p{Name} \d \s \w (and negations),
  // then single characters.
  bool escape(size_t& i) {
    if (i + 1 < p_.size()) {
      switch (p_[i + 1]) {
        case 'A':
        case 'b':
        case 'B':
        case 'z':
          i += 2;
          return leaf(i - 2);
        case 'C':
          return bad("invalid escape sequence", i, i + 2, "RE2's \\C (any byte) is not supported by Go");
        case 'Q': {
          // \Q...\E: literals up to \E or the end; an empty one pushes nothing, so a repetition
          // after it applies to whatever came before (a\Q\E* is a*).
          const size_t end = p_.find("\\E", i + 2);
          const size_t stop = end == std::string_view::npos ? p_.size() : end;
          for (size_t k = i + 2; k < stop;) {
            size_t len;
            rune_at(k, &len);
            if (!leaf(k)) return false;
            k += len;
          }
          i = end == std::string_view::npos ? p_.size() : end + 2;
          return true;
        }
        case 'd':
        case 'D':
        case 's':
        case 'S':
        case 'w':
        case 'W':
          i += 2;
          return leaf(i - 2);
        case 'p':
        case 'P':
          if (!unicode_class(i)) return false;
          return leaf(i);
        default:
          break;
      }
    }
    const size_t at = i;
    if (!single_escape(i, nullptr)) return false;
    return leaf(at);
  }

  // Go's parseUnicodeClass: \pN (one letter) or \p{Name}, \P negates, so does a leading ^.
  bool unicode_class(size_t& i) {
    const size_t start = i;
    size_t t = i + 2;
    std::string_view name;
    if (t >= p_.size()) {
      i = t;
      return bad("invalid character class range", start, t, "\\p needs a class name, as in \\pL or \\p{Greek}");
    }
    size_t len;
    rune_at(t, &len);
    if (p_[t] != '{') {
      name = p_.substr(t, len);
      t += len;
    } else {
      const size_t end = p_.find('}', t);
      if (end == std::string_view::npos)
        return bad("invalid character class range", start, p_.size(), "the class name has no closing }");
      name = p_.substr(t + 1, end - t - 1);
      t = end + 1;
    }
    if (!name.empty() && name[0] == '^') name.remove_prefix(1);
    if (!known_unicode_class(name))
      return bad("unknown Unicode class", start, t,
                 "Go knows Unicode categories (L, Lu, Nd, ...), scripts (Greek, Latin, Han, ...) and Any, "
                 "spelled exactly");
    i = t;
    return true;
  }

  // Go's parseEscape: punctuation, octal (\0, \12, \123; a lone \1-\9 is a backreference Go
  // does not support), \xHH, \x{H...}, \a \f \n \r \t \v. Sets *cp to the character.
  bool single_escape(size_t& i, uint32_t* cp) {
    const size_t start = i;
    size_t t = i + 1;
    if (t >= p_.size()) return bad("trailing backslash at end of expression", start, p_.size());
    size_t len;
    uint32_t c = rune_at(t, &len);
    t += len;
    const auto octal = [&](size_t k) { return k < p_.size() && p_[k] >= '0' && p_[k] <= '7'; };
    uint32_t r = 0;
    std::string hint;
    switch (c) {
      case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        if (!octal(t)) {
          hint = "RE2 (Go regexp, which Serf uses) does not support backreferences";
          break;
        }
        [[fallthrough]];
      case '0':
        r = c - '0';
        for (int k = 1; k < 3 && octal(t); ++k, ++t) r = r * 8 + static_cast<uint32_t>(p_[t] - '0');
        return done(i, t, cp, r);
      case 'x': {
        if (t >= p_.size()) break;
        c = rune_at(t, &len);
        t += len;
        if (c == '{') {
          int digits = 0;
          while (true) {
            if (t >= p_.size()) return bad("invalid escape sequence", start, t, "\\x{ needs a closing }");
            c = rune_at(t, &len);
            t += len;
            if (c == '}') break;
            const int v = unhex(c);
            if (v < 0) return bad("invalid escape sequence", start, t, "\\x{...} takes hex digits");
            r = r * 16 + static_cast<uint32_t>(v);
            if (r > 0x10FFFF) return bad("invalid escape sequence", start, t, "past U+10FFFF");
            ++digits;
          }
          if (digits == 0) return bad("invalid escape sequence", start, t, "\\x{} needs hex digits");
          return done(i, t, cp, r);
        }
        const int x = unhex(c);
        int y = -1;
        if (t < p_.size()) {
          c = rune_at(t, &len);
          t += len;
          y = unhex(c);
        }
        if (x < 0 || y < 0) return bad("invalid escape sequence", start, t, "\\x takes two hex digits, or \\x{...}");
        return done(i, t, cp, static_cast<uint32_t>(x * 16 + y));
      }
      case 'a': return done(i, t, cp, '\a');
      case 'f': return done(i, t, cp, '\f');
      case 'n': return done(i, t, cp, '\n');
      case 'r': return done(i, t, cp, '\r');
      case 't': return done(i, t, cp, '\t');
      case 'v': return done(i, t, cp, '\v');
      case '8': case '9': case 'k': case 'g':
        hint = "RE2 (Go regexp, which Serf uses) does not support backreferences";
        break;
      case 'Z': hint = "use \\z for the end of the text"; break;
      case 'u': case 'U': hint = "write a code point as \\x{...}"; break;
      default:
        if (c < 0x80 && !is_alnum(c)) return done(i, t, cp, c);
        break;
    }
    return bad("invalid escape sequence", start, t, hint);
  }

  static bool done(size_t& i, size_t t, uint32_t* cp, uint32_t r) {
    i = t;
    if (cp) *cp = r;
    return true;
  }

  // Go's parseClass: [...] and [^...]; ] first is a literal, [:name:] POSIX classes, \p and
  // \d-style escapes, ranges lo-hi with lo <= hi, - anywhere (Perl).
  bool char_class(size_t& i) {
    const size_t start = i;
    size_t t = i + 1;
    if (t < p_.size() && p_[t] == '^') ++t;
    bool first = true;
    while (t >= p_.size() || p_[t] != ']' || first) {
      first = false;
      if (p_.size() - std::min(t, p_.size()) > 2 && p_[t] == '[' && p_[t + 1] == ':') {
        const size_t close = p_.find(":]", t + 2);
        if (close != std::string_view::npos) {
          const std::string_view name = p_.substr(t, close + 2 - t);
          if (!known_posix_class(name))
            return bad("invalid character class range", t, close + 2,
                       "POSIX classes are [:alnum:] [:alpha:] [:ascii:] [:blank:] [:cntrl:] [:digit:] [:graph:] "
                       "[:lower:] [:print:] [:punct:] [:space:] [:upper:] [:word:] [:xdigit:], or [:^name:]");
          t = close + 2;
          continue;
        }
      }
      if (t + 1 < p_.size() && p_[t] == '\\') {
        const char e = p_[t + 1];
        if (e == 'p' || e == 'P') {
          if (!unicode_class(t)) return false;
          continue;
        }
        if (e == 'd' || e == 'D' || e == 's' || e == 'S' || e == 'w' || e == 'W') {
          t += 2;
          continue;
        }
      }
      const size_t range = t;
      uint32_t lo = 0, hi = 0;
      if (!class_char(t, start, &lo)) return false;
      hi = lo;
      if (p_.size() - t >= 2 && p_[t] == '-' && p_[t + 1] != ']') {
        ++t;
        if (!class_char(t, start, &hi)) return false;
        if (hi < lo) return bad("invalid character class range", range, t, "a range goes from low to high");
      }
    }
    i = t + 1;
    return leaf(start);
  }

  bool class_char(size_t& t, size_t open, uint32_t* cp) {
    if (t >= p_.size()) return bad("missing closing ] for", open, open + 1);
    if (p_[t] == '\\') return single_escape(t, cp);
    size_t len;
    *cp = rune_at(t, &len);
    t += len;
    return true;
  }

  std::string_view p_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> stack_;
  std::optional<Error> error_;
};

}  // namespace

Expected<void> check_regex(std::string_view pattern) { return Checker(pattern).run(); }

}  // namespace rig::serf
