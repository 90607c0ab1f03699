#pragma once
// A simulation running in a child process that streams its events as JSON lines
// (event_stream.hpp). SimGrid allows one simulation per process, so every live run, and every
// what-if restart, is a fresh child: `PROGRAM --emit-events SCENARIO [--set PATH=VALUE]...`.
// The GUI thread polls it without blocking.
#include <string>
#include <sys/types.h>
#include <vector>

namespace swarmsim::gui {

class LiveRun {
 public:
  LiveRun() = default;
  ~LiveRun();
  LiveRun(const LiveRun&) = delete;
  LiveRun& operator=(const LiveRun&) = delete;

  /// Starts `program` with `args` (argv[1..]); its stdout and stderr are piped back. Stops a
  /// previous child first. Returns false with `error` set when the process cannot be started.
  bool start(const std::string& program, const std::vector<std::string>& args, std::string& error);
  /// Reads what the child has written so far without blocking: complete stdout lines go to `lines`
  /// (without '\n'), stderr text accumulates in stderr_text(). Reaps the child when both pipes close.
  void poll(std::vector<std::string>& lines);
  /// Blocks until the child has exited, collecting every line (for --screenshot).
  void wait(std::vector<std::string>& lines);
  /// Terminates the child (SIGTERM) and reaps it. Safe to call when none runs.
  void stop();

  bool running() const { return pid_ > 0; }
  bool finished() const { return finished_; }
  /// Exit status once finished: the exit code, or 128 + signal.
  int exit_code() const { return exit_code_; }
  const std::string& stderr_text() const { return err_; }

 private:
  void drain(int& fd, std::string& buffer);
  void reap(bool blocking);
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_buf_, err_;
  bool finished_ = false;
  int exit_code_ = 0;
};

/// The path of the running executable (/proc/self/exe), to start live runs of itself.
std::string self_executable();

}  // namespace swarmsim::gui
