#pragma once
// Writing and reading a child process's report through a pipe (isolated and parallel runs).
#include <cerrno>
#include <cstddef>
#include <string>

#include <unistd.h>

namespace swarmsim::sim {

/// Writes all of `s` to `fd`, retrying interrupted and short writes; gives up on an error.
inline void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace swarmsim::sim
