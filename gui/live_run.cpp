#include "gui/live_run.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace swarmsim::gui {

LiveRun::~LiveRun() { stop(); }

std::string self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

bool LiveRun::start(const std::string& program, const std::vector<std::string>& args, std::string& error) {
  stop();
  out_buf_.clear();
  err_.clear();
  finished_ = false;
  exit_code_ = 0;
  int out[2], err[2];
  if (::pipe(out) != 0) {
    error = std::string("pipe failed: ") + std::strerror(errno);
    return false;
  }
  if (::pipe(err) != 0) {
    error = std::string("pipe failed: ") + std::strerror(errno);
    ::close(out[0]);
    ::close(out[1]);
    return false;
  }
  // argv is built before fork: the child of a multithreaded process may only call async-signal-safe functions.
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork failed: ") + std::strerror(errno);
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    return false;
  }
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    ::execv(program.c_str(), argv.data());
    const char msg[] = "swarmsim-gui: cannot start the simulation process\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  ::fcntl(out_fd_, F_SETFL, ::fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
  ::fcntl(err_fd_, F_SETFL, ::fcntl(err_fd_, F_GETFL) | O_NONBLOCK);
  ::fcntl(out_fd_, F_SETFD, FD_CLOEXEC);
  ::fcntl(err_fd_, F_SETFD, FD_CLOEXEC);
  pid_ = pid;
  return true;
}

void LiveRun::drain(int& fd, std::string& buffer) {
  if (fd < 0) return;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      buffer.append(buf, static_cast<std::size_t>(n));
      if (buffer.size() > (64u << 20)) return;  // let the reader catch up
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    ::close(fd);  // EOF or error
    fd = -1;
    return;
  }
}

void LiveRun::reap(bool blocking) {
  if (pid_ <= 0) return;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, blocking ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    finished_ = true;
    pid_ = -1;
  }
}

namespace {
void split_lines(std::string& buffer, std::vector<std::string>& lines, bool flush) {
  std::size_t begin = 0;
  while (true) {
    const std::size_t nl = buffer.find('\n', begin);
    if (nl == std::string::npos) break;
    lines.emplace_back(buffer, begin, nl - begin);
    begin = nl + 1;
  }
  buffer.erase(0, begin);
  if (flush && !buffer.empty()) {
    lines.push_back(buffer);
    buffer.clear();
  }
}
}  // namespace

void LiveRun::poll(std::vector<std::string>& lines) {
  drain(out_fd_, out_buf_);
  drain(err_fd_, err_);
  const bool closed = out_fd_ < 0 && err_fd_ < 0;
  split_lines(out_buf_, lines, closed);
  if (closed) reap(true);
}

void LiveRun::wait(std::vector<std::string>& lines) {
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    pollfd p[2];
    nfds_t n = 0;
    if (out_fd_ >= 0) p[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) p[n++] = {err_fd_, POLLIN, 0};
    ::poll(p, n, 200);
    drain(out_fd_, out_buf_);
    drain(err_fd_, err_);
    split_lines(out_buf_, lines, false);
  }
  split_lines(out_buf_, lines, true);
  reap(true);
}

void LiveRun::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    reap(true);
  }
  for (int* fd : {&out_fd_, &err_fd_})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

}  // namespace swarmsim::gui
