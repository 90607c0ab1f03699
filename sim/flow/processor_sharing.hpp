#pragma once
// Hosts whose device runs every execution at once at an equal share of its speed (processor
// sharing), as SimGrid's Cas01 CPU model runs concurrent executions on a one-core host. Virtual
// time makes it O(jobs on the host) per change: each host's clock of "device seconds served per
// job" advances at 1 / n while n jobs run, and a job of w device seconds ends when that clock
// passes its start value plus w.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sim/flow/event_queue.hpp"

namespace swarmsim::sim::flow {

class ProcessorSharing {
 public:
  /// `hosts` devices; events go to `queue`.
  ProcessorSharing(int hosts, EventQueue& queue) : hosts_(static_cast<std::size_t>(hosts)), queue_(queue) {}

  /// Starts `seconds` of device time (as the work would take alone) on `host` at `now`; `token`
  /// comes back from on_event when it ends.
  void start(double now, int host, double seconds, std::uint64_t token) {
    Host& h = hosts_[static_cast<std::size_t>(host)];
    advance(h, now);
    h.jobs.push_back(Job{h.served + seconds, next_seq_++, token});
    std::push_heap(h.jobs.begin(), h.jobs.end(), Later{});
    reschedule(h, host, now);
  }

  /// Handles an ExecDone event: appends the tokens of the jobs that end now, in start order.
  void on_event(const TimedEvent& e, std::vector<std::uint64_t>& done) {
    const int host = static_cast<int>(e.payload);
    Host& h = hosts_[static_cast<std::size_t>(host)];
    if (e.version != h.version || h.jobs.empty()) return;  // stale: a job started or ended since
    advance(h, e.t);
    h.served = std::max(h.served, h.jobs.front().finish);  // this event was scheduled for the earliest job
    const double cut = h.served + 1e-12 * std::max(1.0, h.served);
    while (!h.jobs.empty() && h.jobs.front().finish <= cut) {
      std::pop_heap(h.jobs.begin(), h.jobs.end(), Later{});
      done.push_back(h.jobs.back().token);
      h.jobs.pop_back();
    }
    reschedule(h, host, e.t);
  }

  /// `host` went down at `now`: every execution on it ends unfinished; appends their tokens.
  void fail_host(double now, int host, std::vector<std::uint64_t>& tokens) {
    Host& h = hosts_[static_cast<std::size_t>(host)];
    advance(h, now);
    std::sort(h.jobs.begin(), h.jobs.end(), [](const Job& a, const Job& b) { return a.seq < b.seq; });
    for (const Job& j : h.jobs) tokens.push_back(j.token);
    h.jobs.clear();
    reschedule(h, host, now);
  }

  /// Executions running on `host`.
  int running(int host) const { return static_cast<int>(hosts_[static_cast<std::size_t>(host)].jobs.size()); }

 private:
  struct Job {
    double finish;      ///< the host's served clock when the job ends
    std::uint64_t seq;  ///< start order: ties end in the order they started
    std::uint64_t token;
  };
  struct Later {
    bool operator()(const Job& a, const Job& b) const { return a.finish != b.finish ? a.finish > b.finish : a.seq > b.seq; }
  };
  struct Host {
    std::vector<Job> jobs;  ///< a min-heap on finish
    double served = 0;      ///< device seconds each running job has received so far
    double last = 0;        ///< when `served` was last advanced (s)
    std::uint32_t version = 0;
  };

  static void advance(Host& h, double now) {
    if (!h.jobs.empty()) h.served += (now - h.last) / static_cast<double>(h.jobs.size());
    h.last = now;
  }
  void reschedule(Host& h, int host, double now) {
    ++h.version;
    if (h.jobs.empty()) return;
    const double at = now + std::max(0.0, h.jobs.front().finish - h.served) * static_cast<double>(h.jobs.size());
    queue_.push(at, EventKind::ExecDone, static_cast<std::uint64_t>(host), h.version);
  }

  std::vector<Host> hosts_;
  EventQueue& queue_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace swarmsim::sim::flow
