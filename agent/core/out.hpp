// Console output and line input over C stdio, for the subcommands. rigagent does not use
// iostreams: <iostream> and the string/file streams pull libstdc++'s whole locale machinery
// (every facet for char and wchar_t, codecvt, glibc's wide stdio and iconv) into the static
// binary, about 350 KB on aarch64.
//
// These do what the iostream code did: std::cout (synchronised with stdio, the default) wrote
// straight into stdout's buffer, std::endl added a flush; std::cerr flushed stdout (it is tied to
// std::cout) and wrote to the unbuffered stderr. A std::cin read flushed stdout first (cin is
// tied to cout too): read_line leaves that to the caller.
#pragma once

#include <stdio.h>  // getline(3)
#include <sys/types.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace rig::stdio {

inline void write(FILE* f, std::string_view text) {
  if (!text.empty()) std::fwrite(text.data(), 1, text.size(), f);
}

// `std::cout << text`
inline void out(std::string_view text) { write(stdout, text); }
// `std::cout << text << std::endl`: the line, then a flush (a pipe's reader sees it at once).
inline void out_line(std::string_view text) {
  write(stdout, text);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}
// `std::cerr << text`: std::cerr is tied to std::cout, so what is pending on stdout goes first;
// then the text in one write (stderr is unbuffered).
inline void err(std::string_view text) {
  std::fflush(stdout);
  write(stderr, text);
}

// `std::getline(in, line)`: the next line without its '\n' (the last one may have none); false
// at the end of the input (or on an error) with nothing read.
inline bool read_line(FILE* in, std::string& line) {
  line.clear();
  char* buf = nullptr;
  size_t cap = 0;
  const ssize_t n = ::getline(&buf, &cap, in);
  if (n > 0) line.assign(buf, static_cast<size_t>(buf[n - 1] == '\n' ? n - 1 : n));
  std::free(buf);
  return n > 0;
}

}  // namespace rig::stdio
