#include "sim/engine/isolated_run.hpp"
#include "sim/engine/pipe_io.hpp"

#include "sim/pricing.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace swarmsim::sim {
namespace {


}  // namespace

RunReport run_isolated(const Scenario& scenario, const RunOptions& options) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    nlohmann::json out;
    int code = 0;
    try {
      SwarmSimulation sim(scenario, make_cost_model(scenario));
      RunReport r = sim.run(options);
      out = {{"metrics", r.metrics}, {"simulated_time", r.simulated_time}, {"wall_seconds", r.wall_seconds},
             {"hops", r.hops}};
    } catch (const std::exception& e) {
      out = {{"error", e.what()}};
      code = 1;
    }
    write_all(fds[1], out.dump());
    ::close(fds[1]);
    ::_exit(code);  // skip the parent's atexit handlers and static destructors
  }
  ::close(fds[1]);
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (text.empty())
    throw std::runtime_error("the simulation process died (" +
                             std::string(WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                                             : "exit code " + std::to_string(WEXITSTATUS(status))) +
                             ") without a report");
  const nlohmann::json j = nlohmann::json::parse(text);
  if (j.contains("error")) throw std::runtime_error(j["error"].get<std::string>());
  RunReport r;
  r.metrics = j["metrics"];
  r.simulated_time = j["simulated_time"].get<double>();
  r.wall_seconds = j["wall_seconds"].get<double>();
  r.hops = j["hops"].get<std::uint64_t>();
  return r;
}

}  // namespace swarmsim::sim
