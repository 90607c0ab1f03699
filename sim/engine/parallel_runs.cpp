#include "sim/engine/parallel_runs.hpp"
#include "sim/engine/pipe_io.hpp"

#include "sim/pricing.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace swarmsim::sim {
namespace {

/// A child process running one job, and the report text read from it so far.
struct Child {
  pid_t pid = -1;
  int fd = -1;            ///< read end of the child's report pipe
  std::size_t index = 0;  ///< job index
  std::string text;
};


/// The child's side, as run_isolated does it: run, send the report (or the error) as JSON, exit.
[[noreturn]] void run_child(const RunJob& job, int fd) {
  nlohmann::json out;
  int code = 0;
  try {
    SwarmSimulation sim(job.scenario, make_cost_model(job.scenario));
    RunReport r = sim.run(job.options);
    out = {{"metrics", r.metrics}, {"simulated_time", r.simulated_time}, {"wall_seconds", r.wall_seconds}, {"hops", r.hops}};
  } catch (const std::exception& e) {
    out = {{"error", e.what()}};
    code = 1;
  } catch (...) {
    out = {{"error", "unknown exception"}};
    code = 1;
  }
  write_all(fd, out.dump());
  ::close(fd);
  ::_exit(code);  // skip the parent's atexit handlers and static destructors
}

/// Reaps `c` (its pipe is at end of file) and turns its report into an outcome.
RunOutcome reap(Child& c) {
  ::close(c.fd);
  c.fd = -1;
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  c.pid = -1;
  RunOutcome o;
  if (c.text.empty()) {
    o.error = "the simulation process died (" +
              (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                   : "exit code " + std::to_string(WEXITSTATUS(status))) +
              ") without a report";
    return o;
  }
  try {
    const nlohmann::json j = nlohmann::json::parse(c.text);
    if (j.contains("error")) {
      o.error = j["error"].get<std::string>();
      return o;
    }
    o.report.metrics = j["metrics"];
    o.report.simulated_time = j["simulated_time"].get<double>();
    o.report.wall_seconds = j["wall_seconds"].get<double>();
    o.report.hops = j["hops"].get<std::uint64_t>();
    o.ok = true;
  } catch (const std::exception& e) {
    o.error = std::string("unreadable report from the simulation process: ") + e.what();
  }
  return o;
}

/// Kills and reaps the children still running when run_parallel leaves by an exception.
struct ChildGuard {
  std::vector<Child>& running;
  ~ChildGuard() {
    for (Child& c : running) {
      if (c.fd >= 0) ::close(c.fd);
      if (c.pid > 0) {
        ::kill(c.pid, SIGKILL);
        while (::waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
    }
  }
};

/// Flow-engine jobs need no process of their own (no SimGrid): they run on `limit` threads of
/// this process, which saves a fork, a pipe and a JSON round trip per run. on_finished is called
/// on the calling thread, in the order the runs finish.
std::vector<RunOutcome> run_in_threads(const std::vector<RunJob>& jobs, std::size_t limit, const RunFinished& on_finished) {
  std::vector<RunOutcome> outcomes(jobs.size());
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::size_t> done;
  const auto work = [&] {
    for (std::size_t i; (i = next++) < jobs.size();) {
      RunOutcome o;
      try {
        SwarmSimulation sim(jobs[i].scenario, make_cost_model(jobs[i].scenario));
        o.report = sim.run(jobs[i].options);
        o.ok = true;
      } catch (const std::exception& e) {
        o.error = e.what();
      } catch (...) {
        o.error = "unknown exception";
      }
      const std::lock_guard<std::mutex> lock(mu);
      outcomes[i] = std::move(o);
      done.push_back(i);
      cv.notify_one();
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < std::min(limit, jobs.size()); ++t) threads.emplace_back(work);
  for (std::size_t finished = 0; finished < jobs.size();) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !done.empty(); });
    const std::size_t i = done.front();
    done.pop_front();
    ++finished;
    lock.unlock();
    if (on_finished) on_finished(i, finished, outcomes[i]);
  }
  for (std::thread& t : threads) t.join();
  return outcomes;
}

}  // namespace

int default_parallel_runs() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

std::vector<RunOutcome> run_parallel(const std::vector<RunJob>& jobs, int max_parallel, const RunFinished& on_finished) {
  const std::size_t limit = static_cast<std::size_t>(max_parallel > 0 ? max_parallel : default_parallel_runs());
  const bool all_flow = !jobs.empty() && std::all_of(jobs.begin(), jobs.end(), [](const RunJob& j) {
    return j.scenario.engine == EngineKind::Flow && !j.scenario.graph && !j.options.execute_real;
  });
  if (all_flow) return run_in_threads(jobs, limit, on_finished);
  std::vector<RunOutcome> outcomes(jobs.size());
  std::vector<Child> running;
  ChildGuard guard{running};
  std::size_t next = 0, finished = 0;
  std::vector<char> buf(65536);
  std::vector<pollfd> fds;

  while (finished < jobs.size()) {
    // Start children up to the limit.
    while (running.size() < limit && next < jobs.size()) {
      int p[2];
      if (::pipe(p) != 0) {
        if (!running.empty()) break;  // retry once a child has finished
        throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
      }
      std::fflush(stdout);  // the child must not flush a copy of the parent's buffers
      std::fflush(stderr);
      const pid_t pid = ::fork();
      if (pid < 0) {
        const int err = errno;
        ::close(p[0]);
        ::close(p[1]);
        if (!running.empty()) break;
        throw std::runtime_error(std::string("fork failed: ") + std::strerror(err));
      }
      if (pid == 0) {
        ::close(p[0]);
        for (const Child& c : running) ::close(c.fd);  // other children's pipes are not ours
        run_child(jobs[next], p[1]);
      }
      ::close(p[1]);
      running.push_back({pid, p[0], next, {}});
      ++next;
    }

    // Read from every child that has something to say; a closed pipe means the child is done.
    fds.clear();
    for (const Child& c : running) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("poll failed: ") + std::strerror(errno));
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Child& c = running[i];
      const ssize_t n = ::read(c.fd, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n > 0) {
        c.text.append(buf.data(), static_cast<std::size_t>(n));
        continue;
      }
      outcomes[c.index] = reap(c);
      ++finished;
      if (on_finished) on_finished(c.index, finished, outcomes[c.index]);
    }
    std::erase_if(running, [](const Child& c) { return c.pid < 0; });
  }
  return outcomes;
}

}  // namespace swarmsim::sim
